package reconciler

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/reconciler/reconcilerdb"
)

// applyJob applies a worker's batch in one transaction: the messages that apply, and a dead letter for each
// that is its own fault — found by bisect, with savepoints, inside this same transaction — so a refusal is
// committed together with the batch it was cut from, or not at all. It returns an error only for what is not
// a message's fault (Infrastructure, Environment), or for a Message fault that only COMMIT revealed.
//
// A message the trust gate could not judge when it was fetched is judged again first; if the gate still
// cannot say, the batch fails as a whole (an infrastructure failure, retried), never as a dead letter.
func (r *Reconciler) applyJob(ctx context.Context, batch []*decoded) error {
	for _, d := range batch { // what a failed attempt blamed on the database is judged afresh
		d.failed = nil
		if d.unjudged != nil {
			if d.admit(ctx, r.cfg.Trust); d.unjudged != nil {
				return d.unjudged
			}
		}
	}
	var t tally
	var letters []letter
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		t = newTally()
		if err := r.bisect(ctx, tx, batch, &t); err != nil {
			return err
		}
		var err error
		letters, err = r.recordDeadLetters(ctx, tx, batch)
		return err
	})
	if err != nil {
		return err
	}
	r.committed(t, letters)
	return nil
}

// applySplit is the fallback when a batch's COMMIT itself failed for a message's fault (a deferred check):
// it applies the halves in transactions of their own, down to single messages, and dead-letters a single
// message that still fails in a transaction that holds nothing else.
func (r *Reconciler) applySplit(ctx context.Context, batch []*decoded) error {
	err := r.applyJob(ctx, batch)
	if err == nil || Classify(err) != Message {
		return err
	}
	live := applicable(batch)
	if len(live) <= 1 {
		for _, d := range live {
			d.refuse = err
		}
		return r.applyJob(ctx, batch)
	}
	mid := len(batch) / 2
	if err := r.applySplit(ctx, batch[:mid]); err != nil {
		return err
	}
	return r.applySplit(ctx, batch[mid:])
}

// bisect applies the applicable messages of batch under a savepoint; if that fails for a message's fault it
// rolls back to the savepoint and applies each half the same way, until the messages at fault are alone and
// marked. Messages are applied in their order, so a key's order holds whatever is cut out. A batch with k bad
// messages out of n costs about k·log2(n) extra attempts, and no bad message is tried more than log2(n)+1
// times.
func (r *Reconciler) bisect(ctx context.Context, tx pgx.Tx, batch []*decoded, t *tally) error {
	live := applicable(batch)
	if len(live) == 0 {
		return nil
	}
	sp, err := tx.Begin(ctx) // a savepoint
	if err != nil {
		return err
	}
	sub := newTally()
	err = r.applyFacts(ctx, sp, live, &sub)
	if err == nil {
		if err := sp.Commit(ctx); err != nil { // RELEASE SAVEPOINT
			return err
		}
		t.merge(sub)
		return nil
	}
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return fmt.Errorf("%w (and rolling back to the savepoint: %v)", err, rbErr)
	}
	if Classify(err) != Message {
		return err
	}
	r.cfg.Metrics.ApplyFailures.WithLabelValues(Message.String()).Inc()
	if len(live) == 1 {
		live[0].failed = err
		return nil
	}
	if len(live) == len(batch) && len(live) > 1 {
		r.log.Warn("batch refused by the database; isolating the messages at fault", "err", err, "messages", len(live))
	}
	mid := len(live) / 2
	if err := r.bisect(ctx, tx, live[:mid], t); err != nil {
		return err
	}
	return r.bisect(ctx, tx, live[mid:], t)
}

// applicable are the messages of batch not refused.
func applicable(batch []*decoded) []*decoded {
	out := make([]*decoded, 0, len(batch))
	for _, d := range batch {
		if d.refuse == nil && d.failed == nil {
			out = append(out, d)
		}
	}
	return out
}

// tally is what one transaction did, counted into the stats and metrics once it commits.
type tally struct {
	apply.Result
	applied    map[string]int // by topic
	duplicates map[string]int
	parts      map[topicPartition]bool // partitions of which messages were applied or skipped
}

func newTally() tally {
	return tally{applied: map[string]int{}, duplicates: map[string]int{}, parts: map[topicPartition]bool{}}
}

func (t *tally) merge(o tally) {
	t.Opened += o.Opened
	t.Entries += o.Entries
	t.Outcomes = append(t.Outcomes, o.Outcomes...)
	for k, n := range o.applied {
		t.applied[k] += n
	}
	for k, n := range o.duplicates {
		t.duplicates[k] += n
	}
	for k := range o.parts {
		t.parts[k] = true
	}
}

// committed counts a transaction that committed, and hands its new dead letters to the publisher.
func (r *Reconciler) committed(t tally, letters []letter) {
	m := r.cfg.Metrics
	for topic, n := range t.applied {
		m.Messages.WithLabelValues(topic, metrics.MessageApplied).Add(float64(n))
	}
	for topic, n := range t.duplicates {
		m.Messages.WithLabelValues(topic, metrics.MessageDuplicate).Add(float64(n))
	}
	m.EntriesPosted.Add(float64(t.Entries))
	for _, res := range t.Outcomes {
		m.CheckOutcomes.WithLabelValues(res.Check, string(res.Outcome)).Inc()
	}
	opened := t.Opened
	for _, l := range letters {
		m.DeadLetters.WithLabelValues(l.Topic).Inc()
		m.Messages.WithLabelValues(l.Topic, metrics.MessageDeadLetter).Inc()
		t.parts[topicPartition{l.Topic, l.Partition}] = true
		if l.alertOpened {
			opened++
		}
	}
	r.markApplied(t.parts)
	r.addStats(func(s *Stats) {
		s.AlertsOpened += opened
		s.DeadLetters += len(letters)
	})
	if len(letters) > 0 && r.dlq != nil {
		select {
		case r.publishQ <- letters:
		default: // the publisher is behind: the periodic retry finds these in the table
		}
	}
}

// applyFacts applies the messages of batch inside tx: it records every new event id, posts the ledger
// entries they imply and stores what the checks need. Events already applied are skipped, so replaying a
// batch changes nothing.
func (r *Reconciler) applyFacts(ctx context.Context, tx pgx.Tx, batch []*decoded, t *tally) error {
	var ids, topics []string
	var partitions []int32
	var offsets []int64
	seen := make(map[string]bool, len(batch))
	todo := make([]*decoded, 0, len(batch))
	for _, d := range batch {
		t.parts[topicPartition{d.msg.Topic, d.msg.Partition}] = true
		if seen[d.ev.ID] {
			t.duplicates[d.msg.Topic]++
			continue
		}
		seen[d.ev.ID] = true
		todo = append(todo, d)
		ids = append(ids, d.ev.ID)
		topics = append(topics, d.msg.Topic)
		partitions = append(partitions, int32(d.msg.Partition))
		offsets = append(offsets, d.msg.Offset)
	}
	if len(todo) == 0 {
		return nil
	}
	fresh, err := reconcilerdb.New(tx).RecordProcessedEvents(ctx, reconcilerdb.RecordProcessedEventsParams{
		EventIds: ids, Topics: topics, Partitions: partitions, Offsets: offsets})
	if err != nil {
		return fmt.Errorf("record event ids: %w", err)
	}
	isNew := make(map[string]bool, len(fresh))
	for _, id := range fresh {
		isNew[id] = true
	}
	facts := make([]apply.Fact, 0, len(fresh))
	for _, d := range todo {
		if !isNew[d.ev.ID] {
			t.duplicates[d.msg.Topic]++
			continue
		}
		t.applied[d.msg.Topic]++
		facts = append(facts, apply.Fact{EventID: d.ev.ID, Value: d.fact, Published: d.msg.Time})
	}
	t.Result, err = r.applier.Apply(ctx, tx, facts)
	return err
}
