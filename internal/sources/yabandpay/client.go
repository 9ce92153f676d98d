package yabandpay

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
	"golang.org/x/time/rate"
)

// Defaults for Config.
const (
	DefaultAPIURL       = "https://mapi.yabandpay.com"
	DefaultHTTPTimeout  = 30 * time.Second
	DefaultMaxRetries   = 4
	DefaultMaxElapsed   = 2 * time.Minute
	DefaultRetryInitial = 500 * time.Millisecond
	DefaultRetryMax     = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20 // a balance answer is well under 1 KiB
)

// YabandPay documents no rate limit. A balance poll asks once per currency every few minutes, so mizan keeps
// itself to a polite 4 requests a second (burst 4): at most 8 in any second, far below what any payment API
// refuses, and the simulator's default limit (10 a second) is never reached. A 429 is still handled: its
// Retry-After is honoured.
const (
	DefaultLimit = rate.Limit(4)
	DefaultBurst = 4
)

// MaxNonceLength is the longest nonce_string YabandPay accepts ("no longer than 32").
const MaxNonceLength = 32

// The endpoint every call goes to: one URL, with the API method in the body.
const paymentsPath = "/Payments"

// Config configures a Client for one merchant. Zero values take the documented defaults.
//
// String, GoString and LogValue redact SecretKey, so a Config printed with fmt or logged with slog does not
// leak it.
type Config struct {
	// APIURL is YabandPay's API base URL; requests go to APIURL + "/Payments". Default DefaultAPIURL.
	APIURL string
	// User is the UID of the merchant's super-admin account: only it may ask for balances (operator and
	// cashier accounts are refused). It is also the Account of every balance returned. Required.
	User string
	// SecretKey is the merchant's secret key, which signs every request (see Sign). It is never sent, logged
	// or put in an error. Required.
	SecretKey string
	// HTTPClient sends the requests. Default: a client with a DefaultHTTPTimeout timeout per request.
	HTTPClient *http.Client
	// Logger receives retries, never the secret key. Default: discard.
	Logger *slog.Logger
	// Limit and Burst pace the requests: every attempt, retries included, waits for the limiter first.
	// Defaults DefaultLimit and DefaultBurst.
	Limit rate.Limit
	Burst int
	// MaxRetries is how many times a transiently failed request is retried after its first attempt: 5xx,
	// 429, timeouts, reset or refused connections, bodies cut short or replaced by a proxy's page. Default
	// DefaultMaxRetries; negative: never.
	MaxRetries int
	// MaxElapsed bounds the time one request may spend retrying: no wait starts that would end past it.
	// Default DefaultMaxElapsed.
	MaxElapsed time.Duration
	// RetryInitial and RetryMax shape the exponential backoff between attempts (doubling, ±50% jitter).
	// Defaults DefaultRetryInitial, DefaultRetryMax. A Retry-After header replaces the backoff's wait.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// MaxBodyBytes refuses a response bigger than this instead of reading it into memory. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock for the request's `time`, retry budgets and observation times. Default time.Now.
	Now func() time.Time
	// Nonce returns each request's nonce_string: 1 to MaxNonceLength bytes of UTF-8, different every time.
	// Default: 26 characters from crypto/rand.
	Nonce func() string
	// Sleep waits between attempts and returns early with ctx's error. Default: a timer. Tests replace it to
	// record the waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
}

// String prints the Config with SecretKey redacted.
func (c Config) String() string {
	return fmt.Sprintf("yabandpay.Config{APIURL:%s User:%s SecretKey:%s}", c.APIURL, c.User, redacted(c.SecretKey))
}

// GoString redacts SecretKey for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue redacts SecretKey in structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_url", c.APIURL), slog.String("user", c.User),
		slog.String("secret_key", redacted(c.SecretKey)))
}

func redacted(s string) string {
	if s == "" {
		return "[empty]"
	}
	return "[REDACTED]"
}

// Client reads one merchant's balances from YabandPay. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	log     *slog.Logger
	lim     *rate.Limiter
	secrets []string // the forms in which the secret key could appear in text, for redaction
}

// New checks cfg, applies defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.User == "":
		return nil, errors.New("yabandpay: Config.User is required")
	case !utf8.ValidString(cfg.User):
		// The user is signed as sent; JSON would replace invalid UTF-8, and the signature would not match.
		return nil, errors.New("yabandpay: Config.User is not valid UTF-8")
	case cfg.SecretKey == "":
		return nil, errors.New("yabandpay: Config.SecretKey is required")
	}
	cfg.APIURL = strings.TrimRight(cmp.Or(cfg.APIURL, DefaultAPIURL), "/")
	if p, err := url.Parse(cfg.APIURL); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" ||
		p.RawQuery != "" {
		return nil, fmt.Errorf("yabandpay: Config.APIURL %s is not an http(s) base URL", quote(cfg.APIURL))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.Limit = cmp.Or(cfg.Limit, DefaultLimit)
	cfg.Burst = cmp.Or(cfg.Burst, DefaultBurst)
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	cfg.MaxElapsed = cmp.Or(cfg.MaxElapsed, DefaultMaxElapsed)
	cfg.RetryInitial = cmp.Or(cfg.RetryInitial, DefaultRetryInitial)
	cfg.RetryMax = cmp.Or(cfg.RetryMax, DefaultRetryMax)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Nonce == nil {
		cfg.Nonce = randomNonce
	}
	if cfg.Sleep == nil {
		cfg.Sleep = httpclient.Sleep
	}
	return &Client{
		cfg:     cfg,
		http:    cfg.HTTPClient,
		log:     cfg.Logger,
		lim:     rate.NewLimiter(cfg.Limit, cfg.Burst),
		secrets: secretForms(cfg.SecretKey),
	}, nil
}

// randomNonce is 26 characters of crypto/rand base32, lowercased to look like the documents' example.
func randomNonce() string { return strings.ToLower(rand.Text()) }

// secretForms lists the spellings of the secret key that text could carry: as is, as sanitize leaves it
// (a key with whitespace or control characters), and JSON-escaped (a proxy echoing a body).
func secretForms(secret string) []string {
	forms := []string{secret}
	if s := httpclient.Sanitize(secret); s != "" && s != secret {
		forms = append(forms, s)
	}
	if b, err := json.Marshal(secret); err == nil {
		if s := strings.Trim(string(b), `"`); s != "" && s != secret {
			forms = append(forms, s)
		}
	}
	return forms
}

// redact removes the secret key from s. The client never sends the key, so only a misbehaving server or proxy
// could echo it; this makes sure nothing the client writes repeats it.
func (c *Client) redact(s string) string {
	for _, f := range c.secrets {
		s = strings.ReplaceAll(s, f, "[REDACTED]")
	}
	return s
}

// call is one API call: an API method, its command (if the method has commands) and its data fields. The
// nonce_string is added per attempt.
type call struct {
	method  string
	command string
	data    map[string]string
}

// endpoint names the call in errors and logs: the path and the API method and command, never the body.
func (r call) endpoint() string {
	return strings.TrimSpace("POST " + paymentsPath + " " + r.method + " " + r.command)
}

// body builds one attempt's request body: a fresh time and nonce, signed. Each attempt is signed anew so that
// a retry never replays a nonce YabandPay may already have seen, nor a time that has gone stale while the
// client waited.
func (c *Client) body(r call) ([]byte, error) {
	nonce := c.cfg.Nonce()
	if nonce == "" || len(nonce) > MaxNonceLength || !utf8.ValidString(nonce) {
		return nil, fmt.Errorf("yabandpay %s: Config.Nonce returned %d bytes; want 1 to %d bytes of UTF-8",
			r.endpoint(), len(nonce), MaxNonceLength)
	}
	now := c.cfg.Now().Unix()
	data := make(map[string]string, len(r.data)+2)
	for k, v := range r.data {
		data[k] = v
	}
	if r.command != "" {
		data["command"] = r.command
	}
	data["nonce_string"] = nonce
	params := make(map[string]string, len(data)+3)
	for k, v := range data {
		params[k] = v
	}
	params["user"] = c.cfg.User
	params["method"] = r.method
	params["time"] = strconv.FormatInt(now, 10) // the digits the JSON number below is written with
	req := wireRequest{User: c.cfg.User, Sign: Sign(params, c.cfg.SecretKey), Method: r.method, Time: now,
		Data: data}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as the PHP SDK sends (JSON_UNESCAPED_UNICODE|JSON_UNESCAPED_SLASHES)
	if err := enc.Encode(req); err != nil {
		return nil, fmt.Errorf("yabandpay %s: encode request: %w", r.endpoint(), err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// send makes r until it succeeds, fails for good, or the retry budget (MaxRetries, MaxElapsed) is spent, and
// returns the body of a 2xx response that is JSON. Every call this client makes only reads, so every
// transient failure is worth another attempt — a method that moves money would need an idempotency story
// before it could use this loop.
func (c *Client) send(ctx context.Context, r call) ([]byte, error) {
	rt := httpclient.Retrier{
		Name:       "yabandpay " + r.endpoint(),
		MaxRetries: c.cfg.MaxRetries,
		MaxElapsed: c.cfg.MaxElapsed,
		Initial:    c.cfg.RetryInitial,
		Max:        c.cfg.RetryMax,
		Now:        c.cfg.Now,
		Sleep:      c.cfg.Sleep,
		OnRetry: func(ctx context.Context, attempt int, wait time.Duration, err error) {
			c.log.WarnContext(ctx, "yabandpay: request failed; retrying", slog.String("user", c.cfg.User),
				slog.String("endpoint", r.endpoint()), slog.Int("attempt", attempt), slog.Duration("wait", wait),
				slog.String("error", err.Error()))
		},
	}
	return rt.Do(ctx, func(ctx context.Context) ([]byte, time.Duration, error) {
		resp, retryAfter, err := c.attempt(ctx, r)
		if err == nil && !json.Valid(resp) {
			// Cut short by a dropped connection or replaced by a proxy's page, a body is most often passing.
			err = httpclient.Transient(malformed(r.endpoint(), resp, errors.New("body is not valid JSON"), c.redact))
		}
		return resp, retryAfter, err
	})
}

// attempt sends r once. retryAfter is the server's Retry-After (≥ 0) when it sent one, else -1.
func (c *Client) attempt(ctx context.Context, r call) (body []byte, retryAfter time.Duration, err error) {
	retryAfter = -1
	if err := c.lim.Wait(ctx); err != nil {
		return nil, retryAfter, fmt.Errorf("yabandpay %s: rate limiter: %w", r.endpoint(), err)
	}
	reqBody, err := c.body(r)
	if err != nil {
		return nil, retryAfter, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+paymentsPath, bytes.NewReader(reqBody))
	if err != nil {
		return nil, retryAfter, fmt.Errorf("yabandpay %s: build request: %w", r.endpoint(), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mizan")

	status, body, retryAfter, err := httpclient.Send(c.http, req, "yabandpay "+r.endpoint(), c.cfg.MaxBodyBytes,
		c.cfg.Now)
	if err != nil {
		return nil, retryAfter, err
	}
	if status < 200 || status > 299 {
		return nil, retryAfter, httpError(r.endpoint(), status, body, c.redact)
	}
	return body, retryAfter, nil
}
