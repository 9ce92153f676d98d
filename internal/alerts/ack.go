package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/slack-go/slack"

	"github.com/mizanhq/mizan/internal/alerts/alertsdb"
)

// Acknowledgements. A person acknowledges an alert with a note (recon.acknowledge_alert, `reconciler ack`),
// and Slack hears of it once. The ideal is a reply in the alert's thread, but an incoming webhook — how mizan
// talks to Slack — can neither reply in a thread nor edit a message it sent (both need a bot token and
// chat.postMessage / chat.update). So the acknowledgement is a message of its own in the same channel,
// naming the alert (kind, severity, subject, summary, id) and saying who acknowledged it, when, and what
// they said. recon.alert_acknowledgements is its outbox, as recon.alerts is the alerts': sent_at records
// delivery, and the same memory of "Slack has it, the outbox does not know yet" keeps a database blip from
// sending it twice. It is sent only after the alert's own message, so that the channel reads in order.

// pendingAck is one acknowledgement to announce.
type pendingAck struct {
	alertID                          int64
	kind, severity, subject, summary string
	openedAt                         time.Time
	by, note                         string
	at                               time.Time
}

// deliverAcknowledgements sends every acknowledgement not sent yet whose alert has been announced, oldest
// first, and returns undelivered plus how many it could not deliver. Deliver calls it while it holds the
// dispatcher lock, on the lock's connection.
func (d *Dispatcher) deliverAcknowledgements(ctx context.Context, conn *pgxpool.Conn, undelivered int) (int, error) {
	rows, err := alertsdb.New(conn).AcknowledgementOutbox(ctx)
	if err != nil {
		return undelivered, fmt.Errorf("read acknowledgement outbox: %w", err)
	}
	var todo []pendingAck
	for _, row := range rows {
		todo = append(todo, pendingAck{alertID: row.AlertID, kind: row.Kind, severity: row.Severity, subject: row.Subject,
			summary: row.Summary, openedAt: row.OpenedAt, by: row.AcknowledgedBy, note: row.Note, at: row.AcknowledgedAt})
	}
	for _, p := range todo {
		ok, err := d.deliverAck(ctx, conn, p)
		if err != nil {
			return undelivered, err
		}
		if !ok {
			undelivered++
		}
		if ctx.Err() != nil {
			return undelivered, ctx.Err()
		}
	}
	return undelivered, nil
}

// deliverAck sends one acknowledgement and marks it sent; it reports whether that succeeded, and returns an
// error only when the round must end (errLockLost: see stillUnsent).
func (d *Dispatcher) deliverAck(ctx context.Context, conn *pgxpool.Conn, p pendingAck) (bool, error) {
	if d.ackSent == nil {
		d.ackSent = map[int64]bool{}
	}
	if !d.ackSent[p.alertID] {
		err := d.send(ctx, AcknowledgementMessage(p.alertID, p.kind, p.severity, p.subject, p.summary, p.openedAt, p.by, p.note, p.at),
			stillUnsent(func(ctx context.Context) (bool, error) {
				return alertsdb.New(conn).AcknowledgementUnsent(ctx, p.alertID)
			}))
		var rejected *RejectedError
		switch {
		case errors.Is(err, errAlreadySent):
			return true, nil
		case errors.Is(err, errLockLost):
			d.log.Warn("acknowledgement delivery stopped: the outbox lock was lost", "alert_id", p.alertID, "err", err)
			return false, err
		case errors.As(err, &rejected):
			d.log.Error("slack rejected an acknowledgement; it stays undelivered", "alert_id", p.alertID,
				"status", rejected.Status, "slack_error", rejected.Body)
			d.count("rejected")
			d.noteAckFailure(ctx, p.alertID, err)
			return false, nil
		case err != nil:
			d.log.Warn("slack delivery of an acknowledgement failed; it will be retried", "alert_id", p.alertID, "err", err)
			d.count("failed")
			d.noteAckFailure(ctx, p.alertID, err)
			return false, nil
		}
		d.count("sent")
		d.ackSent[p.alertID] = true
	}
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := alertsdb.New(d.pool).MarkAcknowledgementSent(ctx, p.alertID)
		if err == nil {
			delete(d.ackSent, p.alertID)
			return true, nil
		}
		if attempt == 5 || ctx.Err() != nil {
			d.log.Error("could not record an acknowledgement as sent; it will be recorded, not sent again, by the next round",
				"alert_id", p.alertID, "err", err)
			return false, nil
		}
		if d.cfg.Sleep(ctx, wait) != nil {
			return false, nil
		}
		wait *= 2
	}
}

func (d *Dispatcher) noteAckFailure(ctx context.Context, alertID int64, err error) {
	_ = alertsdb.New(d.pool).NoteAcknowledgementFailure(ctx, alertsdb.NoteAcknowledgementFailureParams{AlertID: alertID,
		LastDeliveryError: ptr(err.Error())})
}

// AcknowledgementMessage builds the Block Kit message that announces an acknowledgement: which alert (it is
// a message of its own, not a reply — see above), who acknowledged it, when, and their note.
func AcknowledgementMessage(alertID int64, kind, severity, subject, summary string, openedAt time.Time, by, note string,
	at time.Time) *slack.WebhookMessage {
	text := fmt.Sprintf("[ACKNOWLEDGED] %s: %s — %s: %s", kind, summary, by, note)
	sql := fmt.Sprintf("SELECT * FROM analytics.open_alerts WHERE id = %d;", alertID)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType,
			truncate(fmt.Sprintf(":eyes: Acknowledged — %s", kind), 150), true, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(fmt.Sprintf(
			"*%s* acknowledged the %s alert on `%s` (opened %s):\n%s", by, strings.ToUpper(severity), subject,
			openedAt.UTC().Format(time.RFC3339), summary), 2900), false, false), nil, nil),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate("> "+strings.ReplaceAll(note, "\n", "\n> "), 2900),
			false, false), nil, nil),
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf(
			"Alert #%d · acknowledged %s · ```%s```", alertID, at.UTC().Format(time.RFC3339), sql), false, false)),
	}
	return &slack.WebhookMessage{Text: truncate(text, 3000), Blocks: &slack.Blocks{BlockSet: blocks}}
}
