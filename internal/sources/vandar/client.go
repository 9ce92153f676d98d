package vandar

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

// Defaults for Config.
const (
	DefaultAPIURL        = "https://api.vandar.io"
	DefaultBatchURL      = "https://batch.vandar.io"
	DefaultHTTPTimeout   = 30 * time.Second
	DefaultRefreshBefore = time.Hour // Vandar's own SDK (cashier) refreshes with an hour left, too
	DefaultMaxRetries    = 4
	DefaultMaxElapsed    = 2 * time.Minute
	DefaultRetryInitial  = 500 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	DefaultMaxBodyBytes  = 16 << 20
)

// Vandar documents its rate limits as 100 GET (and other non-POST) requests and 30 POSTs per 3 seconds
// (providers/facts.md 2.9). A token bucket of burst b refilled at r per second lets through at most b + 3r
// requests in any 3-second window of sending time, so the defaults keep under both limits with a margin:
// 2 + 3×32 = 98 GETs and 2 + 3×9 = 29 POSTs. The margin is for the network: Vandar counts requests as they
// arrive, and one delayed and the next not can put more into its window than were sent in it. A burst of 2
// (not 1) lets a page that came back late, by a pause at either end, be made up at once instead of its slot
// being lost for good; with it a statement backfill reads at 95% of Vandar's ceiling (make bench).
const (
	DefaultGetLimit  = rate.Limit(32)
	DefaultGetBurst  = 2
	DefaultPostLimit = rate.Limit(9)
	DefaultPostBurst = 2
)

// Config configures a Client for one business. Zero values take the documented defaults.
type Config struct {
	// APIURL is Vandar's API base URL. Default DefaultAPIURL.
	APIURL string
	// BatchURL is the batch-settlement API's base URL. Default DefaultBatchURL.
	BatchURL string
	// Business is the business's slug (its English name in Vandar's dashboard). Required.
	Business string
	// HTTPClient sends the requests. Default: a client with a DefaultHTTPTimeout timeout per request.
	HTTPClient *http.Client
	// Credentials stores the business's token pair (sealed, in production) and the lock that keeps two
	// processes from refreshing it at once. Required.
	//
	// Saves there must be durable before they return: the Client uses a rotated pair only after the store
	// has it, because the old refresh token is dead by then and a pair lost to a crash locks the business
	// out until someone issues a new one in Vandar's dashboard. If several processes share one business's
	// tokens, the store is where they meet: the Client re-reads it under the lock before every refresh and
	// adopts a pair another process has saved instead of refreshing again.
	Credentials sources.Credentials
	// Seed is the pair used while the store holds none: the one issued in Vandar's dashboard. Its expiry is
	// unknown, so the first call refreshes it and stores a pair whose lifetime is known; from then on the
	// stored pair wins (Vandar has retired the seed's refresh token).
	Seed Tokens
	// Logger receives retries and refreshes, never a token. Default: discard.
	Logger *slog.Logger
	// RefreshBefore refreshes the access token when it expires within this. Default DefaultRefreshBefore.
	RefreshBefore time.Duration
	// GetLimit and GetBurst limit non-POST requests; PostLimit and PostBurst limit POSTs. Every attempt,
	// retries included, waits for the limiter first. Defaults: Default{Get,Post}{Limit,Burst}, Vandar's
	// documented limits. Several Clients for one business each have their own limiters: a 429 is then
	// handled like any other (Retry-After is honoured).
	GetLimit  rate.Limit
	GetBurst  int
	PostLimit rate.Limit
	PostBurst int
	// MaxRetries is how many times a transiently failed request is retried after its first attempt: 5xx,
	// 429, timeouts, reset or refused connections, bodies cut short. Default DefaultMaxRetries; negative: never.
	MaxRetries int
	// MaxElapsed bounds the time one request may spend retrying: no wait starts that would end past it.
	// Default DefaultMaxElapsed.
	MaxElapsed time.Duration
	// RetryInitial and RetryMax shape the exponential backoff between attempts (doubling, ±50% jitter).
	// Defaults DefaultRetryInitial, DefaultRetryMax. A Retry-After header replaces the backoff's wait.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// MaxBodyBytes refuses a response bigger than this instead of reading it into memory. Default
	// DefaultMaxBodyBytes (a full statement page of 100 items is about 200 KiB).
	MaxBodyBytes int64
	// Now is the clock for token expiry, retry budgets and balance observation times. Default time.Now.
	Now func() time.Time
	// Sleep waits between attempts and returns early with ctx's error. Default: a timer. Tests replace it to
	// record the waits instead of sleeping.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client reads one business's statement and balance from Vandar. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	log     *slog.Logger
	getLim  *rate.Limiter
	postLim *rate.Limiter

	// tokMu serializes token use and refreshes: two calls never refresh with the same refresh token.
	tokMu   sync.Mutex
	tokens  *Tokens // the pair in use; nil until first loaded from the store
	kept    bool    // the store holds a refresh answer not yet turned into the pair
	unsaved *Tokens // a rotated pair Vandar issued that the store has not accepted yet

	seenMu sync.Mutex
	seen   []string // tokens held recently, for redaction
}

// New checks cfg, applies defaults and returns a Client. It loads no tokens yet: the first call does.
func New(cfg Config) (*Client, error) {
	if cfg.Business == "" {
		return nil, errors.New("vandar: Config.Business is required")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("vandar: Config.Credentials is required")
	}
	if _, err := tehranZone(); err != nil {
		return nil, fmt.Errorf("vandar: %w", err)
	}
	cfg.APIURL = strings.TrimRight(cmp.Or(cfg.APIURL, DefaultAPIURL), "/")
	cfg.BatchURL = strings.TrimRight(cmp.Or(cfg.BatchURL, DefaultBatchURL), "/")
	for name, u := range map[string]string{"APIURL": cfg.APIURL, "BatchURL": cfg.BatchURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" {
			return nil, fmt.Errorf("vandar: Config.%s %s is not an http(s) base URL", name, quote(u))
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	cfg.RefreshBefore = cmp.Or(cfg.RefreshBefore, DefaultRefreshBefore)
	cfg.GetLimit = cmp.Or(cfg.GetLimit, DefaultGetLimit)
	cfg.GetBurst = cmp.Or(cfg.GetBurst, DefaultGetBurst)
	cfg.PostLimit = cmp.Or(cfg.PostLimit, DefaultPostLimit)
	cfg.PostBurst = cmp.Or(cfg.PostBurst, DefaultPostBurst)
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
	if cfg.Sleep == nil {
		cfg.Sleep = httpclient.Sleep
	}
	return &Client{
		cfg:     cfg,
		http:    cfg.HTTPClient,
		log:     cfg.Logger,
		getLim:  rate.NewLimiter(cfg.GetLimit, cfg.GetBurst),
		postLim: rate.NewLimiter(cfg.PostLimit, cfg.PostBurst),
	}, nil
}

func (c *Client) now() time.Time { return c.cfg.Now() }

// request is one call to Vandar.
type request struct {
	method string
	base   string     // Config.APIURL or Config.BatchURL
	path   string     // escaped path, e.g. /v3/business/acme/transaction
	query  url.Values // nil for none
	body   []byte     // JSON; nil for none
	// detached sends the request itself (not the wait before it) without the caller's cancellation, bounded
	// by DefaultHTTPTimeout instead. The token refresh needs it: Vandar rotates the refresh token when it
	// answers, so a response abandoned half-way could leave mizan holding a dead token and no new one.
	detached bool
}

// endpoint names the request in errors and logs: method and path, never the query, headers or body.
func (r request) endpoint() string { return r.method + " " + r.path }

// businessPath builds a path under /…/business/:business/ with the slug escaped.
func (c *Client) businessPath(version, rest string) string {
	return "/" + version + "/business/" + url.PathEscape(c.cfg.Business) + rest
}

// getEndpoint names a GET under the business on the API host, as errors name it.
func (c *Client) getEndpoint(version, rest string) string {
	return request{method: http.MethodGet, path: c.businessPath(version, rest)}.endpoint()
}

// batchEndpoint names a GET under the business on the batch host.
func (c *Client) batchEndpoint(rest string) string { return c.getEndpoint("api/v2", rest) }

// send makes an authenticated call: with the current access token, retrying transient failures, and on a 401
// refreshing the token once and trying once more. A second 401 is an error.
func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	access, err := c.accessToken(ctx)
	if err != nil {
		return nil, err
	}
	body, err := c.sendRetrying(ctx, r, access)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		return body, err
	}
	c.log.InfoContext(ctx, "vandar: access token refused; refreshing once", slog.String("business", c.cfg.Business),
		slog.String("endpoint", r.endpoint()))
	if access, err = c.refreshAfterUnauthorized(ctx, access); err != nil {
		return nil, fmt.Errorf("after HTTP 401 from %s: %w", r.endpoint(), err)
	}
	body, err = c.sendRetrying(ctx, r, access)
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
		return nil, fmt.Errorf("still unauthorized with a freshly refreshed access token: %w", err)
	}
	return body, err
}

// sendRetrying sends r (with the access token, if any) until it succeeds, fails for good, or the retry
// budget (MaxRetries, MaxElapsed) is spent. It returns the body of a 2xx response.
func (c *Client) sendRetrying(ctx context.Context, r request, access string) ([]byte, error) {
	rt := httpclient.Retrier{
		Name:       "vandar " + r.endpoint(),
		MaxRetries: c.cfg.MaxRetries,
		MaxElapsed: c.cfg.MaxElapsed,
		Initial:    c.cfg.RetryInitial,
		Max:        c.cfg.RetryMax,
		Now:        c.cfg.Now,
		Sleep:      c.cfg.Sleep,
		OnRetry: func(ctx context.Context, attempt int, wait time.Duration, err error) {
			c.log.WarnContext(ctx, "vandar: request failed; retrying", slog.String("business", c.cfg.Business),
				slog.String("endpoint", r.endpoint()), slog.Int("attempt", attempt), slog.Duration("wait", wait),
				slog.String("error", err.Error()))
		},
	}
	return rt.Do(ctx, func(ctx context.Context) ([]byte, time.Duration, error) {
		body, retryAfter, err := c.attempt(ctx, r, access)
		if err == nil && r.method == http.MethodGet && !json.Valid(body) {
			// A success whose body is not JSON — cut short by a dropped connection, or a proxy's HTML page — is
			// most often passing; a GET is safe to repeat. If it persists, the retries run out with the snippet.
			why := errors.New("body is not valid JSON")
			err = httpclient.Transient(malformed(r.endpoint(), http.StatusOK, body, why, c.redact))
		}
		return body, retryAfter, err
	})
}

// attempt sends r once. retryAfter is the server's Retry-After (≥ 0) when it sent one, else -1.
func (c *Client) attempt(ctx context.Context, r request, access string) (body []byte, retryAfter time.Duration,
	err error) {
	retryAfter = -1
	lim := c.getLim
	if r.method == http.MethodPost {
		lim = c.postLim
	}
	if err := lim.Wait(ctx); err != nil {
		return nil, retryAfter, fmt.Errorf("vandar %s: rate limiter: %w", r.endpoint(), err)
	}

	u := r.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var reqBody io.Reader
	if r.body != nil {
		reqBody = bytes.NewReader(r.body)
	}
	reqCtx := ctx
	if r.detached {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), DefaultHTTPTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, u, reqBody)
	if err != nil {
		return nil, retryAfter, fmt.Errorf("vandar %s: build request: %w", r.endpoint(), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mizan")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}

	status, body, retryAfter, err := httpclient.Send(c.http, req, "vandar "+r.endpoint(), c.cfg.MaxBodyBytes, c.now)
	if err != nil {
		return nil, retryAfter, err
	}
	if status < 200 || status > 299 {
		return nil, retryAfter, apiErrorFrom(r.endpoint(), status, body, c.redact)
	}
	return body, retryAfter, nil
}
