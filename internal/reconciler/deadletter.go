package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/reconciler/reconcilerdb"
)

// Size bounds of a dead letter. Kafka producers refuse a message over 1 MiB by default (kafka-go's
// Writer.BatchBytes, the brokers' message.max.bytes); the copy on the dead-letter topic base64-encodes the
// original inside an envelope, so it carries at most MaxCopiedValue bytes of it: 4/3 of that plus the bounded
// text fields stays well under the limit, whatever the original's size.
const (
	// MaxStoredValue is how much of the original recon.dead_letters keeps; beyond it, a prefix (truncated).
	MaxStoredValue = 4 << 20
	// MaxCopiedValue is how much of the original the dead-letter topic's copy carries.
	MaxCopiedValue = 512 << 10
	// maxText bounds the reason; maxName the key, event id, type and source of a letter.
	maxText = 8 << 10
	maxName = 1 << 10
)

// letter is one dead letter as recorded.
type letter struct {
	ID         int64
	Topic      string
	Partition  int
	Offset     int64
	Key        string
	EventID    string
	EventType  string
	Source     string
	ReasonCode string
	Reason     string
	Size       int
	SHA256     []byte
	Original   []byte // all of it, or its first MaxStoredValue bytes
	Truncated  bool
	RefusedBy  string
	RefusedAt  time.Time

	alertOpened bool
}

// newLetter builds the dead letter of a refused message. Every text is made storable: the letter of a
// message refused for a NUL byte or bad UTF-8 must not fail for the same reason.
func newLetter(d *decoded, cause error, group string, now time.Time) letter {
	sum := sha256.Sum256(d.msg.Value)
	l := letter{Topic: d.msg.Topic, Partition: d.msg.Partition, Offset: d.msg.Offset,
		Key: alerts.Storable(truncateText(string(d.msg.Key), maxName)), EventID: alerts.Storable(truncateText(d.ev.ID, maxName)),
		EventType: alerts.Storable(truncateText(d.ev.Type, maxName)), Source: alerts.Storable(truncateText(d.ev.Source, maxName)),
		ReasonCode: reasonCode(cause), Reason: alerts.Storable(truncateText(cause.Error(), maxText)),
		Size: len(d.msg.Value), SHA256: sum[:], Original: d.msg.Value, RefusedBy: group, RefusedAt: now.UTC()}
	if len(l.Original) > MaxStoredValue {
		l.Original, l.Truncated = l.Original[:MaxStoredValue], true
	}
	return l
}

// origin names where a letter came from, for its alert. A message the ledger refused had passed the trust
// gate: its key (provider/account), else its event's source, is where it came from. Any other was refused
// before it was authenticated — unreadable, of no known type or version, invalid, or refused by the gate —
// so its key and source are whatever its producer wrote: a producer cycling them would open an alert each.
// Its origin is the topic, which the producer cannot choose beyond the topics it may write.
func (l letter) origin() string {
	switch {
	case l.ReasonCode != CodeRefused:
		return l.Topic
	case l.Key != "":
		return l.Key
	case l.Source != "":
		return l.Source
	}
	return l.Topic
}

// claimed says, for a letter whose origin is its topic, which key the producer wrote: shown, never believed.
func (l letter) claimed() string {
	if l.origin() != l.Topic || l.Key == "" {
		return ""
	}
	return fmt.Sprintf(" (key %q as its producer wrote it)", l.Key)
}

// recordDeadLetters records, inside the batch's transaction, a dead letter for every refused message of
// batch and raises its alert (one per origin and reason code). A message refused again — the batch replayed
// after a crash between the database commit and the offset commit — is the same dead letter (same topic,
// partition and offset): nothing new is recorded, raised or published. It returns the letters new to the table.
func (r *Reconciler) recordDeadLetters(ctx context.Context, tx pgx.Tx, batch []*decoded) ([]letter, error) {
	var out []letter
	for _, d := range batch {
		cause := d.refuse
		if cause == nil {
			cause = d.failed
		}
		if cause == nil {
			continue
		}
		l := newLetter(d, cause, r.cfg.Group, r.cfg.Clock())
		var err error
		l.ID, err = reconcilerdb.New(tx).RecordDeadLetter(ctx, reconcilerdb.RecordDeadLetterParams{Topic: l.Topic,
			Partition: int32(l.Partition), MessageOffset: l.Offset, EventID: l.EventID, EventType: l.EventType,
			Source: l.Source, MessageKey: l.Key, ReasonCode: l.ReasonCode, Reason: l.Reason, Size: int32(l.Size),
			Sha256: hex.EncodeToString(l.SHA256), Original: l.Original, Truncated: l.Truncated, RefusedBy: l.RefusedBy,
			RefusedAt: l.RefusedAt})
		if errors.Is(err, pgx.ErrNoRows) {
			continue // recorded before
		}
		if err != nil {
			return nil, fmt.Errorf("record the dead letter of %s/%d@%d: %w", l.Topic, l.Partition, l.Offset, err)
		}
		l.alertOpened, err = alerts.Raise(ctx, tx, l.alert())
		if err != nil {
			return nil, err
		}
		r.log.Error("message refused to the dead letters", "dead_letter_id", l.ID, "topic", l.Topic,
			"partition", l.Partition, "offset", l.Offset, "event_id", l.EventID, "reason_code", l.ReasonCode,
			"reason", truncateText(l.Reason, 1000))
		out = append(out, l)
	}
	return out, nil
}

// alert is the dead_letter alert of a letter: one per origin (see origin) and reason code, naming where the
// latest refused message sits and why.
func (l letter) alert() alerts.Alert {
	origin := l.origin()
	return alerts.Alert{Kind: alerts.KindDeadLetter, Severity: checks.SeverityCritical, Subject: origin,
		DedupKey: fmt.Sprintf("%s:%s:%s", alerts.KindDeadLetter, origin, l.ReasonCode),
		Summary: fmt.Sprintf("message refused to the dead letters (%s) from %s: %s partition %d offset %d%s: %s",
			l.ReasonCode, origin, l.Topic, l.Partition, l.Offset, l.claimed(), truncateText(l.Reason, 1500)),
		Details: map[string]any{"dead_letter_id": l.ID, "topic": l.Topic, "partition": l.Partition, "offset": l.Offset,
			"event_id": l.EventID, "reason_code": l.ReasonCode, "reason": truncateText(l.Reason, 2000),
			"look_closer": fmt.Sprintf("SELECT id, refused_at, topic, partition, \"offset\", event_id, reason FROM recon.dead_letters "+
				"WHERE reason_code = '%s' ORDER BY id DESC LIMIT 20;  -- then: reconciler dlq list / dlq replay --id %d",
				l.ReasonCode, l.ID)}}
}

// copyEvent is the letter's copy for the dead-letter topic. It always fits under the producer's limit: the
// original is cut to MaxCopiedValue bytes and the copy says so, with the whole original's size and hash.
func (l letter) copyEvent() (events.Event, error) {
	value, truncated := l.Original, l.Truncated
	if len(value) > MaxCopiedValue {
		value, truncated = value[:MaxCopiedValue], true
	}
	reason := truncateText(l.Reason, maxText)
	if truncated {
		reason += fmt.Sprintf(" [the value here is the first %d of %d bytes (sha256 %x); the whole message is "+
			"recon.dead_letters id %d]", len(value), l.Size, l.SHA256, l.ID)
	}
	dl := events.DeadLetter{Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Key: l.Key, EventID: l.EventID,
		Reason: reason, Value: value, RefusedAt: l.RefusedAt, RefusedBy: l.RefusedBy, ReasonCode: l.ReasonCode,
		Size: l.Size, SHA256: hex.EncodeToString(l.SHA256), Truncated: truncated, ID: l.ID}
	return dl.Event()
}

// publishLoop copies new dead letters to the dead-letter topic as they are recorded, and every
// RepublishEvery offers again the ones the topic did not accept. A failure here never holds up consumption:
// the letter is safe in the table.
func (r *Reconciler) publishLoop(ctx context.Context, untilIdle bool) {
	if r.dlq == nil {
		return
	}
	t := time.NewTicker(r.cfg.RepublishEvery)
	defer t.Stop()
	if !untilIdle {
		r.republish(ctx) // what a previous run could not publish
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ls := <-r.publishQ:
			r.publish(ctx, ls)
		case <-t.C:
			r.republish(ctx)
		}
	}
}

// publish copies letters to the dead-letter topic and records them as published; it reports success.
func (r *Reconciler) publish(ctx context.Context, ls []letter) bool {
	if r.dlq == nil || len(ls) == 0 {
		return true
	}
	evs := make([]events.Event, 0, len(ls))
	ids := make([]int64, 0, len(ls))
	for _, l := range ls {
		ev, err := l.copyEvent()
		if err != nil {
			r.log.Error("cannot encode a dead letter's copy", "dead_letter_id", l.ID, "err", err)
			continue
		}
		evs = append(evs, ev)
		ids = append(ids, l.ID)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.dlq.Publish(pctx, events.TopicDLQ, evs); err != nil {
		r.cfg.Metrics.DeadLetterPublishFailures.Add(float64(len(evs)))
		if ctx.Err() == nil {
			r.log.Warn("could not copy dead letters to the dead-letter topic; they are in recon.dead_letters and retried later",
				"dead_letters", len(evs), "err", err)
		}
		return false
	}
	if err := reconcilerdb.New(r.pool).MarkDeadLettersPublished(pctx, ids); err != nil {
		// Published but not marked: the next round publishes them again, the same events (same ids).
		r.log.Warn("could not mark dead letters as published", "err", err)
	}
	return true
}

// republish copies every dead letter still unpublished, oldest first.
func (r *Reconciler) republish(ctx context.Context) {
	if r.dlq == nil {
		return
	}
	after := int64(0)
	for ctx.Err() == nil {
		ls, err := readLetters(reconcilerdb.New(r.pool).UnpublishedDeadLetters(ctx, after))
		if err != nil {
			r.log.Warn("could not read unpublished dead letters", "err", err)
			return
		}
		if len(ls) == 0 || !r.publish(ctx, ls) {
			return
		}
		after = ls[len(ls)-1].ID
	}
}

// readLetters turns the dead letters one of the queries read into letters.
func readLetters(rows []reconcilerdb.ReconDeadLetter, err error) ([]letter, error) {
	if err != nil {
		return nil, err
	}
	out := make([]letter, 0, len(rows))
	for _, row := range rows {
		l := letter{ID: row.ID, Topic: row.Topic, Partition: int(row.Partition), Offset: row.Offset,
			Key: deref(row.MessageKey), EventID: deref(row.EventID), EventType: deref(row.EventType),
			Source: deref(row.Source), ReasonCode: row.ReasonCode, Reason: row.Reason, Size: int(row.Size),
			Original: row.Original, Truncated: row.Truncated, RefusedBy: row.RefusedBy, RefusedAt: row.RefusedAt}
		if l.SHA256, err = hex.DecodeString(row.Sha256); err != nil {
			return nil, fmt.Errorf("dead letter %d: sha256: %w", row.ID, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// deref is a nullable text column's value, "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
