package alerts

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
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/alerts/alertsdb"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
	"github.com/mizanhq/mizan/internal/testpoint"
)

// dispatcherLock is the advisory-lock key of the alert dispatcher ("mizan.alerts" in ASCII).
const dispatcherLock int64 = 0x6d697a616e2e616c

// DispatcherConfig tunes the Slack dispatcher.
type DispatcherConfig struct {
	// WebhookURL is the Slack incoming webhook (SLACK_WEBHOOK_URL). It is a secret: it never appears in a log
	// or an error. Empty disables delivery (alerts stay in the table, undelivered).
	WebhookURL string
	// HTTPClient sends the messages. Default: 10s timeout.
	HTTPClient *http.Client
	// PerSecond is how many messages a second it sends at most. Default 1, Slack's documented limit for
	// incoming webhooks.
	PerSecond rate.Limit
	// Attempts bounds the tries of one message within one Deliver call (429 and 5xx are retried). Default 5.
	Attempts int
	// Sleep waits between tries; tests shorten it. Default: a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Dispatcher sends new and resolved alerts to Slack, one message per state change, and marks each sent.
type Dispatcher struct {
	cfg     DispatcherConfig
	pool    *pgxpool.Pool
	log     *slog.Logger
	limiter *rate.Limiter
	// OnDelivery, when set, is told each delivery's outcome (sent, rejected, failed) — for metrics.
	OnDelivery func(outcome string)
	// sent remembers state changes Slack accepted whose outbox update has not succeeded yet.
	sent map[sentKey]bool
	// ackSent is the same for acknowledgements, by alert id (ack.go).
	ackSent map[int64]bool
}

// NewDispatcher returns a dispatcher reading the outbox in pool.
func NewDispatcher(cfg DispatcherConfig, pool *pgxpool.Pool, log *slog.Logger) *Dispatcher {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.PerSecond = cmp.Or(cfg.PerSecond, 1)
	cfg.Attempts = cmp.Or(cfg.Attempts, 5)
	if cfg.Sleep == nil {
		cfg.Sleep = httpclient.Sleep
	}
	return &Dispatcher{cfg: cfg, pool: pool, log: log, limiter: rate.NewLimiter(cfg.PerSecond, 1), sent: map[sentKey]bool{}}
}

// pending is one state change to announce.
type pending struct {
	id         int64
	kind       string
	severity   string
	subject    string
	summary    string
	details    map[string]any
	openedAt   time.Time
	resolvedAt *time.Time
	openSent   bool
}

// Deliver sends every undelivered state change, oldest first, and returns how many it could not deliver
// (rejected by Slack, or still failing after its attempts). It stops early only when ctx ends.
func (d *Dispatcher) Deliver(ctx context.Context) (undelivered int, err error) {
	if d.cfg.WebhookURL == "" {
		return 0, nil
	}
	// One dispatcher at a time across all reconciler replicas: two reading the outbox at once would both send.
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("alert outbox: %w", err)
	}
	defer conn.Release()
	q := alertsdb.New(conn)
	mine, err := q.TryAdvisoryLock(ctx, dispatcherLock)
	if err != nil {
		return 0, fmt.Errorf("alert outbox lock: %w", err)
	}
	if !mine {
		return 0, nil // another replica is delivering
	}
	defer q.AdvisoryUnlock(context.WithoutCancel(ctx), dispatcherLock)
	rows, err := q.AlertOutbox(ctx)
	if err != nil {
		return 0, fmt.Errorf("read alert outbox: %w", err)
	}
	var todo []pending
	for _, row := range rows {
		p := pending{id: row.ID, kind: row.Kind, severity: row.Severity, subject: row.Subject, summary: row.Summary,
			openedAt: row.OpenedAt, resolvedAt: row.ResolvedAt, openSent: row.OpenSent}
		if err := json.Unmarshal(row.Details, &p.details); len(row.Details) > 0 && err != nil {
			return 0, fmt.Errorf("read alert outbox: alert %d: details: %w", row.ID, err)
		}
		todo = append(todo, p)
	}
	for _, p := range todo {
		// An alert opened and resolved before it was ever sent still gets both messages, in order: people
		// should know it happened.
		if !p.openSent {
			ok, err := d.deliver(ctx, conn, p, false)
			if err != nil {
				return undelivered, err
			}
			if !ok {
				undelivered++
				continue
			}
		}
		if p.resolvedAt != nil {
			ok, err := d.deliver(ctx, conn, p, true)
			if err != nil {
				return undelivered, err
			}
			if !ok {
				undelivered++
			}
		}
		if ctx.Err() != nil {
			return undelivered, ctx.Err()
		}
	}
	return d.deliverAcknowledgements(ctx, conn, undelivered)
}

// errLockLost ends a delivery round whose dispatcher lock is gone; errAlreadySent skips a message the outbox
// says is delivered. See stillUnsent.
var (
	errLockLost    = errors.New("the alert outbox lock was lost with its PostgreSQL session; another replica may deliver now")
	errAlreadySent = errors.New("already delivered")
)

// stillUnsent is asked right before every request to Slack, on the connection that holds the dispatcher
// lock: unsent must answer whether the message is still unsent. The lock lives exactly as long as that
// session, and a PostgreSQL restart or failover ends both; another replica may then take the lock and read
// the same outbox, while this one still holds a list of what was unsent when it read it. Sending from that
// list would announce the same alert twice. So a message goes out only while this session — and with it the
// lock — is alive (else errLockLost ends the round) and the outbox still says it is unsent (else
// errAlreadySent). The window left is a restart between this question and Slack's answer: at least once.
func stillUnsent(unsent func(context.Context) (bool, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		unsent, err := unsent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w (%v)", errLockLost, err) // not %w: the send loop must not retry it
		}
		if !unsent {
			return errAlreadySent
		}
		return nil
	}
}

// deliver sends one state change and marks it sent; it reports whether that succeeded, and returns an error
// only when the round must end (errLockLost).
func (d *Dispatcher) deliver(ctx context.Context, conn *pgxpool.Conn, p pending, resolved bool) (bool, error) {
	if d.sent[sentKey{p.id, resolved}] { // delivered before; only the outbox update is missing
		return d.markSent(ctx, p.id, resolved), nil
	}
	unsent := alertsdb.New(conn).OpenUnsent
	if resolved {
		unsent = alertsdb.New(conn).ResolvedUnsent
	}
	msg := Message(p.kind, p.severity, p.subject, p.summary, p.details, p.openedAt, p.resolvedAt, resolved)
	err := d.send(ctx, msg, stillUnsent(func(ctx context.Context) (bool, error) { return unsent(ctx, p.id) }))
	var rejected *RejectedError
	switch {
	case errors.Is(err, errAlreadySent):
		return true, nil
	case errors.Is(err, errLockLost):
		d.log.Warn("alert delivery stopped: the outbox lock was lost", "alert_id", p.id, "err", err)
		return false, err
	case errors.As(err, &rejected):
		d.log.Error("slack rejected an alert; it stays undelivered", "alert_id", p.id, "status", rejected.Status,
			"slack_error", rejected.Body)
		d.count("rejected")
		d.noteFailure(ctx, p.id, err)
		return false, nil
	case err != nil:
		d.log.Warn("slack delivery failed; it will be retried", "alert_id", p.id, "err", err)
		d.count("failed")
		d.noteFailure(ctx, p.id, err)
		return false, nil
	}
	d.count("sent")
	testpoint.Reach(ctx, testpoint.SlackSent) // tests only: off unless MIZAN_TEST_PAUSE_AT names it
	// Slack has it. Until the outbox says so, this process remembers it, so a database that is briefly away
	// (a failover, a restart) cannot make the next round send it again; only a crash in between can.
	d.sent[sentKey{p.id, resolved}] = true
	d.markSent(ctx, p.id, resolved)
	return true, nil
}

type sentKey struct {
	id       int64
	resolved bool
}

// markSent records a delivered state change in the outbox, retrying while PostgreSQL is away.
func (d *Dispatcher) markSent(ctx context.Context, id int64, resolved bool) bool {
	mark := alertsdb.New(d.pool).MarkOpenSent
	if resolved {
		mark = alertsdb.New(d.pool).MarkResolvedSent
	}
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := mark(ctx, id)
		if err == nil {
			delete(d.sent, sentKey{id, resolved})
			return true
		}
		if attempt == 5 || ctx.Err() != nil {
			d.log.Error("could not record an alert as sent; it will be recorded, not sent again, by the next round",
				"alert_id", id, "err", err)
			return false
		}
		if d.cfg.Sleep(ctx, wait) != nil {
			return false
		}
		wait *= 2
	}
}

func (d *Dispatcher) noteFailure(ctx context.Context, id int64, err error) {
	_ = alertsdb.New(d.pool).NoteDeliveryFailure(ctx, alertsdb.NoteDeliveryFailureParams{ID: id, LastDeliveryError: ptr(err.Error())})
}

func (d *Dispatcher) count(outcome string) {
	if d.OnDelivery != nil {
		d.OnDelivery(outcome)
	}
}

// RejectedError is a 4xx answer other than 429: Slack refused the message (invalid_payload,
// channel_not_found, …). Retrying the same message cannot help.
type RejectedError struct {
	Status int
	Body   string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("slack webhook answered %d: %s", e.Status, e.Body)
}

// send posts one message, retrying 429 (after its Retry-After, at least a second), 5xx and network errors
// with backoff: the retry loop the provider clients use. before runs right before every attempt (after the
// rate limiter's wait); an error from it is returned without a post.
func (d *Dispatcher) send(ctx context.Context, msg *slack.WebhookMessage, before func(context.Context) error) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("encode slack message: %w", err)
	}
	r := httpclient.Retrier{Name: "slack webhook", MaxRetries: d.cfg.Attempts - 1, MaxElapsed: 5 * time.Minute,
		Initial: 500 * time.Millisecond, Max: 30 * time.Second, Now: time.Now, Sleep: d.cfg.Sleep}
	_, err = r.Do(ctx, func(ctx context.Context) ([]byte, time.Duration, error) {
		if err := d.limiter.Wait(ctx); err != nil {
			return nil, -1, err
		}
		if err := before(ctx); err != nil {
			return nil, -1, err
		}
		retryAfter, err := d.post(ctx, body)
		return nil, retryAfter, err
	})
	return err
}

// post makes one request; a failure worth another try is httpclient.Transient. Errors never carry the
// webhook URL: it is a credential.
func (d *Dispatcher) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return -1, errors.New("SLACK_WEBHOOK_URL is not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap() // drop *url.Error, which quotes the URL
		}
		return -1, httpclient.Transient(fmt.Errorf("post to slack webhook: %w", err))
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch {
	case resp.StatusCode == http.StatusOK:
		return -1, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := max(httpclient.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now), time.Second)
		return wait, httpclient.Transient(errors.New("slack webhook answered 429 (rate limited)"))
	case resp.StatusCode >= 500:
		return -1, httpclient.Transient(fmt.Errorf("slack webhook answered %d: %s", resp.StatusCode,
			strings.TrimSpace(string(text))))
	default:
		return -1, &RejectedError{Status: resp.StatusCode, Body: strings.TrimSpace(string(text))}
	}
}

// Message builds the Block Kit message for one state change of an alert, with a plain-text fallback: what,
// where, how much, since when, and the SQL to look closer.
func Message(kind, severity, subject, summary string, details map[string]any, openedAt time.Time, resolvedAt *time.Time, resolved bool) *slack.WebhookMessage {
	title := fmt.Sprintf(":rotating_light: %s — %s", strings.ToUpper(severity), kind)
	text := fmt.Sprintf("[%s] %s: %s", strings.ToUpper(severity), kind, summary)
	if resolved {
		title = fmt.Sprintf(":white_check_mark: Resolved — %s", kind)
		text = fmt.Sprintf("[RESOLVED] %s: %s", kind, summary)
	}
	since := openedAt.UTC().Format(time.RFC3339)
	if resolved && resolvedAt != nil {
		since += " → resolved " + resolvedAt.UTC().Format(time.RFC3339)
	}
	howMuch := "—"
	if v, ok := details["difference"]; ok {
		howMuch = fmt.Sprint(v)
	}
	sql := fmt.Sprintf("SELECT * FROM recon.check_results WHERE subject = '%s' ORDER BY evaluated_at DESC LIMIT 20;",
		strings.ReplaceAll(subject, "'", "''"))
	if s, ok := details["look_closer"].(string); ok && s != "" { // the reconciler's own alerts name their table
		sql = s
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate(title, 150), true, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(summary, 2900), false, false), nil, nil),
		slack.NewSectionBlock(nil, []*slack.TextBlockObject{
			slack.NewTextBlockObject(slack.MarkdownType, "*What*\n"+kind, false, false),
			slack.NewTextBlockObject(slack.MarkdownType, "*Where*\n`"+subject+"`", false, false),
			slack.NewTextBlockObject(slack.MarkdownType, "*How much*\n"+howMuch, false, false),
			slack.NewTextBlockObject(slack.MarkdownType, "*Since*\n"+since, false, false),
		}, nil),
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, "Look closer: ```"+sql+"```", false, false)),
	}
	return &slack.WebhookMessage{Text: truncate(text, 3000), Blocks: &slack.Blocks{BlockSet: blocks}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
