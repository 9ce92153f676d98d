package vandar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/sources"
)

// Token lifetimes Vandar documents (providers/facts.md 2.3): an access token lives 5 days, a refresh token 10.
// The refresh response states the access token's lifetime (expires_in) but not the refresh token's, so the
// documented 10 days is all there is.
const (
	documentedAccessLifetime  = 5 * 24 * time.Hour
	documentedRefreshLifetime = 10 * 24 * time.Hour
)

// The names under which a source's Vandar credentials are stored (sources.Credentials; in production
// poller.credentials).
const (
	CredentialAccess  = "access_token"
	CredentialRefresh = "refresh_token"
	// CredentialAnswer is Vandar's raw refresh answer, kept from the moment it arrives until the pair in it
	// is stored: a refresh rotates the refresh token, so an answer lost to a parse failure or a crash would
	// lock the business out. A later attempt (or a fixed mizan) reads the pair from it instead of refreshing
	// again with a refresh token Vandar has already retired.
	CredentialAnswer = "refresh_answer"
	// CredentialLost records that a refresh may have rotated the pair and its answer was lost (the old access
	// token stopped working before its expiry): the stored refresh token is dead, and presenting it again
	// would only look like a stolen token to Vandar. Polls fail at once, naming the fix, until someone issues
	// a new pair (and deletes the source's stored credentials).
	CredentialLost = "refresh_lost"
)

// Tokens is one business's token pair. The refresh token rotates: every refresh returns a new pair and the
// old refresh token stops working, so the latest pair must be kept durably.
//
// String, GoString and LogValue redact both tokens, so a Tokens printed with fmt or logged with slog shows
// only the expiry times.
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

// credentials renders the pair as the store keeps it; the kept answer, if any, is cleared with it.
func (t Tokens) credentials() map[string]sources.Credential {
	return map[string]sources.Credential{
		CredentialAccess:  {Value: []byte(t.Access), ExpiresAt: t.AccessExpiresAt},
		CredentialRefresh: {Value: []byte(t.Refresh), ExpiresAt: t.RefreshExpiresAt},
		CredentialAnswer:  {Value: nil},
		CredentialLost:    {Value: nil},
	}
}

// ErrRefresh marks a failed token refresh: Vandar refused the refresh token (expired, already used, revoked),
// its answer could not be read, or the refreshed pair could not be saved. Polling cannot go on until it is
// fixed, usually by issuing a new token pair in Vandar's dashboard.
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
	if c.kept || c.needsRefresh(*c.tokens) {
		if err := c.refreshLocked(ctx, c.tokens.Access, false); err != nil {
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
	if c.tokens.Access != used && !c.kept && !c.needsRefresh(*c.tokens) {
		return c.tokens.Access, nil // a concurrent call refreshed while this one waited for the lock
	}
	if err := c.refreshLocked(ctx, used, true); err != nil {
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

// stored is what the credential store holds for the business.
type stored struct {
	tokens   Tokens
	answer   []byte    // a kept refresh answer not yet turned into the pair, or nil
	answerAt time.Time // when it arrived
	lostAt   time.Time // when a refresh's answer was lost after Vandar rotated the pair (CredentialLost)
}

// loadStored reads the store. Nothing stored yet means the dashboard's pair from the sources file (Seed).
func (c *Client) loadStored(ctx context.Context) (stored, error) {
	creds, err := c.cfg.Credentials.Load(ctx)
	if err != nil {
		return stored{}, fmt.Errorf("vandar: business %s: load tokens: %w", c.cfg.Business, err)
	}
	var s stored
	if a, ok := creds[CredentialAccess]; ok {
		s.tokens.Access, s.tokens.AccessExpiresAt = string(a.Value), a.ExpiresAt
	}
	if r, ok := creds[CredentialRefresh]; ok {
		s.tokens.Refresh, s.tokens.RefreshExpiresAt = string(r.Value), r.ExpiresAt
	}
	if s.tokens.Access == "" && s.tokens.Refresh == "" {
		s.tokens = c.cfg.Seed
	}
	if a, ok := creds[CredentialAnswer]; ok && len(a.Value) > 0 {
		s.answer, s.answerAt = a.Value, a.UpdatedAt
	}
	if l, ok := creds[CredentialLost]; ok {
		s.lostAt = l.UpdatedAt
	}
	c.remember(s.tokens)
	return s, nil
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
	s, err := c.loadStored(ctx)
	if err != nil {
		return err
	}
	if s.tokens.Access == "" && s.tokens.Refresh == "" && s.answer == nil {
		return fmt.Errorf("vandar: business %s: no tokens stored", c.cfg.Business)
	}
	c.tokens, c.kept = &s.tokens, s.answer != nil
	return nil
}

// refreshLocked replaces the pair whose access token is stale. Under the source's credential lock — so that
// no other process refreshes the same pair meanwhile — it re-reads the store and:
//   - turns a kept refresh answer into the pair, if one is there (an earlier attempt got Vandar's answer
//     but could not finish);
//   - adopts a pair another process (or an earlier call) saved, if its access token is fresh: refreshing
//     again would burn the refresh token that pair depends on;
//   - else refreshes, keeping Vandar's answer (sealed) before reading it.
//
// A refresh that timed out or failed on Vandar's side may still have rotated the pair. It is tried again
// only when that cannot burn a pair: when the old access token still works (so Vandar did not rotate).
// refused says Vandar refused stale before this refresh (a 401): its refusal afterwards then tells nothing.
func (c *Client) refreshLocked(ctx context.Context, stale string, refused bool) error {
	release, err := c.cfg.Credentials.Lock(ctx)
	if err != nil {
		return fmt.Errorf("%w: business %s: take the refresh lock: %w", ErrRefresh, c.cfg.Business, err)
	}
	defer release()
	wait := c.cfg.RetryInitial
	for attempt := 1; ; attempt++ {
		s, err := c.loadStored(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRefresh, err)
		}
		c.tokens, c.kept = &s.tokens, false
		if s.answer != nil {
			return c.recoverAnswer(ctx, s)
		}
		if !s.lostAt.IsZero() {
			return fmt.Errorf("%w: business %s: a refresh at %s got no answer and Vandar had rotated the pair, so the "+
				"stored refresh token is dead: issue a new token pair in Vandar's dashboard, put it in the "+
				"environment, and delete the source's rows in poller.credentials", ErrRefresh, c.cfg.Business,
				s.lostAt.UTC().Format(time.RFC3339))
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
		answer, endpoint, retryAfter, err := c.postRefresh(ctx, old.Refresh)
		if err == nil {
			return c.acceptAnswer(ctx, endpoint, answer)
		}
		err = fmt.Errorf("%w: business %s: %w", ErrRefresh, c.cfg.Business, err)
		if ctx.Err() != nil || attempt > c.cfg.MaxRetries {
			return err
		}
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusTooManyRequests:
			// Refused before it was looked at: trying again later cannot burn anything.
		case errors.As(err, &apiErr) && apiErr.Status < 500:
			return err // refused: the refresh token is dead, and saying it again will not revive it
		default:
			// A timeout, a reset, a 5xx: Vandar may have rotated the pair and the answer been lost.
			if works, lost, why := c.lostRefresh(ctx, old, refused && old.Access == stale); !works {
				c.log.ErrorContext(ctx, "vandar: refresh failed and may have rotated the pair; not refreshing again now",
					slog.String("business", c.cfg.Business), slog.String("reason", why), slog.String("error", err.Error()))
				next := "the next poll tries again"
				if lost {
					next = "issue a new token pair in Vandar's dashboard, put it in the environment, and delete the " +
						"source's rows in poller.credentials"
				}
				return fmt.Errorf("%w (%s: the answer may have been lost after Vandar rotated the pair; %s)", err, why, next)
			}
		}
		pause := wait
		if retryAfter >= 0 {
			pause = retryAfter
		}
		c.log.WarnContext(ctx, "vandar: token refresh failed; Vandar did not rotate the pair, trying again",
			slog.String("business", c.cfg.Business), slog.Int("attempt", attempt), slog.Duration("wait", pause),
			slog.String("error", err.Error()))
		if err := c.cfg.Sleep(ctx, pause); err != nil {
			return fmt.Errorf("%w: business %s: waiting to retry the refresh: %w", ErrRefresh, c.cfg.Business, err)
		}
		wait = min(2*wait, c.cfg.RetryMax)
	}
}

// lostRefresh decides, after a refresh that failed without a clear answer, whether Vandar left the pair as it
// was (works: the old access token still works, so trying again cannot present a retired refresh token) or
// rotated it (lost: the old access token was refused before its expiry). A lost pair is recorded
// (CredentialLost), so that later polls fail at once instead of presenting the dead refresh token. Otherwise
// — an access token that had expired anyway, one Vandar had refused before the refresh (refusedBefore: Vandar
// ends access tokens early, and a refusal that came first says nothing about the refresh), or no clear answer
// — nothing can be told: not retried now, the next poll tries again. Recording a loss there would lock the
// business out for good after a 5xx that never reached Vandar (make chaos found it: a 503 on the refresh
// after every access token had been ended early).
func (c *Client) lostRefresh(ctx context.Context, old Tokens, refusedBefore bool) (works, lost bool, why string) {
	works, err := c.accessWorks(ctx, old.Access)
	switch {
	case works:
		return true, false, ""
	case err != nil:
		return false, false, "whether the old access token still works is unknown: " + err.Error()
	case !c.now().Before(old.AccessExpiresAt):
		return false, false, "the old access token no longer works, but it had expired anyway"
	case refusedBefore:
		return false, false, "the old access token no longer works, but Vandar refused it before the refresh too"
	}
	at := c.now().UTC().Format(time.RFC3339)
	if err := c.saveDetached(ctx, map[string]sources.Credential{CredentialLost: {Value: []byte(at)}}); err != nil {
		c.log.ErrorContext(ctx, "vandar: could not record the lost refresh", slog.String("business", c.cfg.Business),
			slog.String("error", err.Error()))
	}
	return false, true, "the old access token was refused before its expiry, so Vandar rotated the pair"
}

// postRefresh sends one refresh request — never retried by itself: a refresh repeated after Vandar answered
// it would present a retired refresh token — and returns the raw answer, or the error and the server's
// Retry-After (-1 if none).
func (c *Client) postRefresh(ctx context.Context, refresh string) (answer []byte, endpoint string,
	retryAfter time.Duration, err error) {
	body, err := json.Marshal(map[string]string{"refreshtoken": refresh})
	if err != nil {
		return nil, "", -1, fmt.Errorf("encode request: %w", err)
	}
	req := request{method: http.MethodPost, base: c.cfg.APIURL, path: "/v3/refreshtoken", body: body, detached: true}
	answer, retryAfter, err = c.attempt(ctx, req, "")
	return answer, req.endpoint(), retryAfter, err
}

// acceptAnswer keeps Vandar's refresh answer, sealed, before reading it; then reads the pair and saves it,
// clearing the kept answer. The answer is kept first so that a parse failure or a crash before the pair is
// saved leaves something to recover from: Vandar has retired the old refresh token already.
func (c *Client) acceptAnswer(ctx context.Context, endpoint string, answer []byte) error {
	c.rememberAnswer(answer)
	kept := true
	if err := c.saveDetached(ctx, map[string]sources.Credential{CredentialAnswer: {Value: answer}}); err != nil {
		kept = false
		c.log.ErrorContext(ctx, "vandar: refresh answer not kept before reading it; reading it anyway",
			slog.String("business", c.cfg.Business), slog.String("error", err.Error()))
	}
	fresh, err := c.decodeRefresh(endpoint, answer, c.now())
	if err != nil {
		where := "it could not be stored either"
		if kept {
			where = "it is kept, sealed, as the source's refresh_answer in poller.credentials, and read again " +
				"before any other refresh (a mizan that can read it recovers the pair)"
		}
		return fmt.Errorf("%w: business %s: Vandar answered the refresh but its answer could not be read (%s): %w",
			ErrRefresh, c.cfg.Business, where, err)
	}
	return c.adoptFresh(ctx, fresh)
}

// recoverAnswer turns a kept refresh answer into the pair.
func (c *Client) recoverAnswer(ctx context.Context, s stored) error {
	c.rememberAnswer(s.answer)
	at := s.answerAt
	if at.IsZero() {
		at = c.now()
	}
	fresh, err := c.decodeRefresh("POST /v3/refreshtoken", s.answer, at)
	if err != nil {
		c.kept = true
		return fmt.Errorf("%w: business %s: a refresh answer Vandar gave at %s is kept but cannot be read, and "+
			"the refresh token it replaced is retired, so mizan does not refresh again: upgrade mizan to one that "+
			"reads it, or issue a new token pair in Vandar's dashboard and delete the source's rows in "+
			"poller.credentials: %w", ErrRefresh, c.cfg.Business, at.Format(time.RFC3339), err)
	}
	c.log.InfoContext(ctx, "vandar: token pair recovered from a kept refresh answer",
		slog.String("business", c.cfg.Business), slog.Time("answered_at", at))
	return c.adoptFresh(ctx, fresh)
}

// adoptFresh saves a freshly rotated pair and uses it from then on.
func (c *Client) adoptFresh(ctx context.Context, fresh Tokens) error {
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

// accessWorks asks Vandar, once, whether an access token is still accepted (a balance read): after a refresh
// that may or may not have reached Vandar, a token that still works says the pair was not rotated.
func (c *Client) accessWorks(ctx context.Context, access string) (bool, error) {
	if access == "" {
		return false, nil
	}
	_, _, err := c.attempt(ctx, c.balanceRequest(), access)
	var apiErr *APIError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
		return false, nil
	}
	return false, err
}

// saveLocked saves a rotated pair and, once the store has it, makes it the pair in use.
func (c *Client) saveLocked(ctx context.Context, t Tokens) error {
	if err := c.saveDetached(ctx, t.credentials()); err != nil {
		return err
	}
	c.tokens, c.kept = &t, false
	c.unsaved = nil
	return nil
}

// saveDetached saves credentials detached from the caller's cancellation (bounded by saveTimeout): a
// shutdown arriving between Vandar's answer and the save must not throw away the only pair that still works.
func (c *Client) saveDetached(ctx context.Context, creds map[string]sources.Credential) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	return c.cfg.Credentials.Save(sctx, creds)
}

// decodeRefresh reads the new pair from Vandar's refresh answer; at is when the answer arrived, from which
// the expiry times count. The documents show the answer flat — {"token_type":"Bearer","expires_in":432000,
// "access_token":"…","refresh_token":"…"} — while every other Vandar answer is wrapped in {"status":1,
// "data":{…}}; both are read. Its errors never quote the body: it holds the new tokens.
func (c *Client) decodeRefresh(endpoint string, body []byte, at time.Time) (Tokens, error) {
	m, err := members(body)
	if err != nil {
		return Tokens{}, fmt.Errorf("vandar %s: %w: %d bytes that are not a JSON object (body withheld: it may "+
			"hold tokens)", endpoint, ErrMalformedResponse, len(body))
	}
	if _, flat := m["access_token"]; !flat {
		if data, ok := m["data"]; ok {
			var status jsonNum
			if err := member(m, "status", &status); err != nil {
				return Tokens{}, fmt.Errorf("vandar %s: %w: %w", endpoint, ErrMalformedResponse, err)
			}
			if n, err := status.int64(); status.set && (err != nil || n != 1) {
				return Tokens{}, fmt.Errorf("vandar %s: %w: wrapped answer with status %s", endpoint,
					ErrMalformedResponse, quote(status.text))
			}
			if m, err = members(data); err != nil {
				return Tokens{}, fmt.Errorf("vandar %s: %w: data is not an object (body withheld: it may hold "+
					"tokens)", endpoint, ErrMalformedResponse)
			}
		}
	}
	var access, refresh, tokenType jsonText
	var expiresIn jsonNum
	for name, v := range map[string]json.Unmarshaler{"access_token": &access, "refresh_token": &refresh,
		"token_type": &tokenType, "expires_in": &expiresIn} {
		if raw, ok := m[name]; ok && bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
			return Tokens{}, fmt.Errorf("vandar %s: %w: field %s is an object", endpoint, ErrMalformedResponse, name)
		}
		if err := member(m, name, v); err != nil {
			// The member's own error may quote its value: a token. Name the field only.
			return Tokens{}, fmt.Errorf("vandar %s: %w: field %s is not the documented type", endpoint,
				ErrMalformedResponse, name)
		}
	}
	switch {
	case strings.TrimSpace(access.text) == "" || strings.TrimSpace(refresh.text) == "":
		return Tokens{}, fmt.Errorf("vandar %s: %w: no access_token or refresh_token", endpoint, ErrMalformedResponse)
	case tokenType.text != "" && !strings.EqualFold(tokenType.text, "Bearer"):
		return Tokens{}, fmt.Errorf("vandar %s: %w: token_type %s, want Bearer", endpoint, ErrMalformedResponse,
			quote(tokenType.text))
	}
	lifetime := documentedAccessLifetime
	if expiresIn.set {
		secs, err := expiresIn.int64()
		if err != nil || secs <= 0 || secs > int64(365*24*time.Hour/time.Second) {
			return Tokens{}, fmt.Errorf("vandar %s: %w: expires_in %s is not a lifetime in seconds", endpoint,
				ErrMalformedResponse, quote(expiresIn.text))
		}
		lifetime = time.Duration(secs) * time.Second
	}
	return Tokens{
		Access:           strings.TrimSpace(access.text),
		Refresh:          strings.TrimSpace(refresh.text),
		AccessExpiresAt:  at.Add(lifetime),
		RefreshExpiresAt: at.Add(documentedRefreshLifetime),
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

// rememberAnswer records the tokens in a refresh answer, however it is shaped, before anything that could
// echo them runs: every string in it at least 16 characters long.
func (c *Client) rememberAnswer(answer []byte) {
	var v any
	if json.Unmarshal(answer, &v) != nil {
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 16 {
				c.remember(Tokens{Access: v})
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
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
