package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Token lifetimes Vandar documents (providers/facts.md 2.3): an access token lives 5 days, a refresh token 10.
// The refresh response states the access token's lifetime (expires_in) but not the refresh token's, so the
// documented 10 days is all there is.
const (
	documentedAccessLifetime  = 5 * 24 * time.Hour
	documentedRefreshLifetime = 10 * 24 * time.Hour
)

// Tokens is one business's token pair. The refresh token rotates: every refresh returns a new pair and the
// old refresh token stops working, so the latest pair must be kept durably.
//
// String, GoString and LogValue redact both tokens, so a Tokens printed with fmt or logged with slog shows
// only the expiry times. Encoding it as JSON does not redact: that is for the TokenStore, which encrypts it.
type Tokens struct {
	Access           string
	Refresh          string
	AccessExpiresAt  time.Time // zero: unknown, so due: the first call refreshes and learns the lifetime
	RefreshExpiresAt time.Time // zero: unknown; a refresh is attempted regardless
}

// String redacts both tokens.
func (t Tokens) String() string {
	return fmt.Sprintf("vandar.Tokens{Access:%s Refresh:%s AccessExpiresAt:%s RefreshExpiresAt:%s}",
		redacted(t.Access), redacted(t.Refresh), t.AccessExpiresAt.Format(time.RFC3339),
		t.RefreshExpiresAt.Format(time.RFC3339))
}

// GoString redacts both tokens for %#v.
func (t Tokens) GoString() string { return t.String() }

// LogValue redacts both tokens in structured logs.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access", redacted(t.Access)),
		slog.String("refresh", redacted(t.Refresh)),
		slog.Time("access_expires_at", t.AccessExpiresAt),
		slog.Time("refresh_expires_at", t.RefreshExpiresAt),
	)
}

func redacted(s string) string {
	if s == "" {
		return "[empty]"
	}
	return "[REDACTED]"
}

// TokenStore keeps a business's token pair durably (in production: PostgreSQL, encrypted with AES-GCM).
//
// Save must not return before the pair is durable: the Client uses a new pair only after Save returned nil,
// because the old refresh token is already dead by then and a pair lost to a crash locks the business out
// until someone issues a new one in Vandar's dashboard. If several processes share one business's tokens, the
// store is where they meet: the Client re-reads it before every refresh and adopts a pair another process has
// saved instead of refreshing again.
type TokenStore interface {
	Load(ctx context.Context) (Tokens, error)
	Save(ctx context.Context, t Tokens) error
}

// ErrRefresh marks a failed token refresh: Vandar refused the refresh token (expired, already used, revoked)
// or the refreshed pair could not be saved. Polling cannot go on until it is fixed, usually by issuing a new
// token pair in Vandar's dashboard.
var ErrRefresh = errors.New("vandar token refresh failed")

// saveTimeout bounds a Save that runs detached from the caller's context (see saveLocked).
const saveTimeout = 30 * time.Second

// accessToken returns an access token to send, refreshing first if it has expired or will within
// Config.RefreshBefore.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if err := c.loadLocked(ctx); err != nil {
		return "", err
	}
	if c.needsRefresh(*c.tokens) {
		if err := c.refreshLocked(ctx, c.tokens.Access); err != nil {
			return "", err
		}
	}
	return c.tokens.Access, nil
}

// refreshAfterUnauthorized handles a 401 for a request sent with the access token used: unless another call
// has already replaced that token, it refreshes. Either way it returns the token to retry with.
func (c *Client) refreshAfterUnauthorized(ctx context.Context, used string) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if err := c.loadLocked(ctx); err != nil {
		return "", err
	}
	if c.tokens.Access != used && !c.needsRefresh(*c.tokens) {
		return c.tokens.Access, nil // a concurrent call refreshed while this one waited for the lock
	}
	if err := c.refreshLocked(ctx, used); err != nil {
		return "", err
	}
	return c.tokens.Access, nil
}

// needsRefresh: no access token, one of unknown expiry (a pair seeded from the dashboard: refreshing it at
// once makes its lifetime known and starts the refresh token's 10 days afresh), or one that expires within
// RefreshBefore.
func (c *Client) needsRefresh(t Tokens) bool {
	if t.Access == "" || t.AccessExpiresAt.IsZero() {
		return true
	}
	return !c.now().Add(c.cfg.RefreshBefore).Before(t.AccessExpiresAt)
}

// loadLocked makes sure c.tokens holds the pair to use: first any rotated pair still waiting to be saved
// (it is the only one Vandar still accepts), else the cached pair, else the store's.
func (c *Client) loadLocked(ctx context.Context) error {
	if c.unsaved != nil {
		if err := c.saveLocked(ctx, *c.unsaved); err != nil {
			return fmt.Errorf("%w: business %s: a refreshed token pair is still not saved: %w",
				ErrRefresh, c.cfg.Business, err)
		}
	}
	if c.tokens != nil {
		return nil
	}
	t, err := c.cfg.Tokens.Load(ctx)
	if err != nil {
		return fmt.Errorf("vandar: business %s: load tokens: %w", c.cfg.Business, err)
	}
	if t.Access == "" && t.Refresh == "" {
		return fmt.Errorf("vandar: business %s: no tokens stored", c.cfg.Business)
	}
	c.remember(t)
	c.tokens = &t
	return nil
}

// refreshLocked replaces the pair whose access token is stale. It first re-reads the store: if another
// process (or an earlier call) has saved a pair with a different, still-fresh access token, that pair is
// adopted and nothing is sent — refreshing again would burn the refresh token that pair depends on.
func (c *Client) refreshLocked(ctx context.Context, stale string) error {
	stored, err := c.cfg.Tokens.Load(ctx)
	if err != nil {
		return fmt.Errorf("%w: business %s: re-read tokens before refreshing: %w", ErrRefresh, c.cfg.Business, err)
	}
	if stored.Access != "" || stored.Refresh != "" {
		c.remember(stored)
		c.tokens = &stored // the store is the source of truth; the cache may be another process's past
	}
	if c.tokens.Access != "" && c.tokens.Access != stale && !c.needsRefresh(*c.tokens) {
		return nil
	}
	old := *c.tokens
	if old.Refresh == "" {
		return fmt.Errorf("%w: business %s: no refresh token; issue a new token pair in Vandar's dashboard",
			ErrRefresh, c.cfg.Business)
	}
	if !old.RefreshExpiresAt.IsZero() && !c.now().Before(old.RefreshExpiresAt) {
		return fmt.Errorf("%w: business %s: the refresh token expired at %s; issue a new token pair in Vandar's "+
			"dashboard", ErrRefresh, c.cfg.Business, old.RefreshExpiresAt.Format(time.RFC3339))
	}

	body, err := json.Marshal(map[string]string{"refreshtoken": old.Refresh})
	if err != nil {
		return fmt.Errorf("%w: encode request: %w", ErrRefresh, err)
	}
	req := request{method: http.MethodPost, base: c.cfg.APIURL, path: "/v3/refreshtoken", body: body,
		detached: true}
	resp, err := c.sendRetrying(ctx, req, "")
	if err != nil {
		return fmt.Errorf("%w: business %s: %w", ErrRefresh, c.cfg.Business, err)
	}
	fresh, err := c.decodeRefresh(req.endpoint(), resp)
	if err != nil {
		return fmt.Errorf("%w: business %s: %w", ErrRefresh, c.cfg.Business, err)
	}
	c.remember(fresh)

	// From here on only the new pair works. It is kept in memory until the store has it, and not used before.
	c.unsaved = &fresh
	if err := c.saveLocked(ctx, fresh); err != nil {
		c.log.ErrorContext(ctx, "vandar: refreshed token pair not saved; will retry saving before any other call",
			slog.String("business", c.cfg.Business), slog.Any("error", err))
		return fmt.Errorf("%w: business %s: save refreshed tokens: %w", ErrRefresh, c.cfg.Business, err)
	}
	c.log.InfoContext(ctx, "vandar: access token refreshed", slog.String("business", c.cfg.Business),
		slog.Time("access_expires_at", fresh.AccessExpiresAt), slog.Time("refresh_expires_at", fresh.RefreshExpiresAt))
	return nil
}

// saveLocked saves a rotated pair and, once the store has it, makes it the pair in use. The save runs
// detached from the caller's cancellation (bounded by saveTimeout): a shutdown arriving between Vandar's
// answer and the save must not throw away the only pair that still works.
func (c *Client) saveLocked(ctx context.Context, t Tokens) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := c.cfg.Tokens.Save(sctx, t); err != nil {
		return err
	}
	c.tokens = &t
	c.unsaved = nil
	return nil
}

// wireRefresh is the refresh response: {"token_type":"Bearer","expires_in":432000,"access_token":"...",
// "refresh_token":"..."}, without the usual status wrapper.
type wireRefresh struct {
	TokenType    string  `json:"token_type"`
	ExpiresIn    jsonNum `json:"expires_in"`
	AccessToken  string  `json:"access_token"`
	RefreshToken string  `json:"refresh_token"`
}

// decodeRefresh reads the new pair. Its errors never quote the body: it holds the new tokens.
func (c *Client) decodeRefresh(endpoint string, body []byte) (Tokens, error) {
	var w wireRefresh
	if err := json.Unmarshal(body, &w); err != nil {
		return Tokens{}, fmt.Errorf("vandar %s: %w: %d bytes that are not the documented token response "+
			"(body withheld: it may hold tokens)", endpoint, ErrMalformedResponse, len(body))
	}
	switch {
	case w.AccessToken == "" || w.RefreshToken == "":
		return Tokens{}, fmt.Errorf("vandar %s: %w: no access_token or refresh_token", endpoint, ErrMalformedResponse)
	case w.TokenType != "" && !strings.EqualFold(w.TokenType, "Bearer"):
		return Tokens{}, fmt.Errorf("vandar %s: %w: token_type %s, want Bearer", endpoint, ErrMalformedResponse,
			quote(w.TokenType))
	}
	lifetime := documentedAccessLifetime
	if w.ExpiresIn.set {
		secs, err := w.ExpiresIn.int64()
		if err != nil || secs <= 0 || secs > int64(365*24*time.Hour/time.Second) {
			return Tokens{}, fmt.Errorf("vandar %s: %w: expires_in %s is not a lifetime in seconds", endpoint,
				ErrMalformedResponse, quote(w.ExpiresIn.text))
		}
		lifetime = time.Duration(secs) * time.Second
	}
	now := c.now()
	return Tokens{
		Access:           w.AccessToken,
		Refresh:          w.RefreshToken,
		AccessExpiresAt:  now.Add(lifetime),
		RefreshExpiresAt: now.Add(documentedRefreshLifetime),
	}, nil
}

// maxRemembered bounds the tokens kept for redaction: a pair rotates every few days, so this covers the
// process's recent past without growing forever.
const maxRemembered = 16

// remember records a pair's tokens so that redact can remove them from any text that echoes them.
func (c *Client) remember(t Tokens) {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	for _, tok := range []string{t.Access, t.Refresh} {
		if tok == "" || slices.Contains(c.seen, tok) {
			continue
		}
		c.seen = append(c.seen, tok)
	}
	if n := len(c.seen); n > maxRemembered {
		c.seen = slices.Delete(c.seen, 0, n-maxRemembered)
	}
}

// redact removes every token this client has held from s. The snippet and message sanitizers already drop
// anything that looks like a token field; this catches a token echoed in free text.
func (c *Client) redact(s string) string {
	c.seenMu.Lock()
	defer c.seenMu.Unlock()
	for _, tok := range c.seen {
		if len(tok) >= 4 {
			s = strings.ReplaceAll(s, tok, "[REDACTED]")
		}
	}
	return s
}
