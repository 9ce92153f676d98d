package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/reconciler/reconcilerdb"
)

// ListDeadLetters writes the dead letters refused at or after since (zero: all), oldest first, one line
// each, to w, and returns how many it listed.
func ListDeadLetters(ctx context.Context, pool *pgxpool.Pool, since time.Time, w io.Writer) (int, error) {
	rows, err := reconcilerdb.New(pool).ListDeadLetters(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("list dead letters: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREFUSED AT\tWHERE\tEVENT\tCODE\tBYTES\tON TOPIC\tREPLAY\tREASON")
	for _, row := range rows {
		bytes := fmt.Sprint(row.Size)
		if row.Truncated {
			bytes += " (truncated)"
		}
		onTopic := "yes"
		if !row.Published {
			onTopic = "not yet"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s/%d@%d\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, row.RefusedAt.UTC().Format(time.RFC3339),
			row.Topic, row.Partition, row.Offset, cmpOr(row.EventID, "-"), row.ReasonCode, bytes, onTopic,
			cmpOr(row.ReplayOutcome, "-"), oneLine(truncateText(row.Reason, 160)))
	}
	return len(rows), tw.Flush()
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Applied       int // applied now
	Duplicates    int // applied before (an earlier replay, or the same event arrived again meanwhile)
	Failed        int // still refused
	NotReplayable int // truncated, or an expectation that must be signed: a dead letter keeps no signature
}

// ReplayError ends a `dlq replay` that left dead letters failing or not replayable.
type ReplayError struct{ Result ReplayResult }

func (e *ReplayError) Error() string {
	return fmt.Sprintf("%d dead letters still fail and %d cannot be replayed", e.Result.Failed, e.Result.NotReplayable)
}

// ExitCode is ExitDeadLetters.
func (e *ReplayError) ExitCode() int { return ExitDeadLetters }

// Replay re-drives dead letters after a fix: those with the given ids, else those refused at or after since
// that no replay has applied yet (zero since: all of them). Each goes through the same decode, trust gate
// and apply path as a consumed message, in a transaction of its own that also records the outcome on the
// letter; replaying twice is harmless (the event id makes the second a duplicate). A letter whose original
// was truncated cannot be replayed, nor, when Config.ExpectationKeys are given, an expectation: its signature
// was in a record header, which a dead letter does not keep. It writes one line per letter to out; an infrastructure or environment
// failure stops it with an error.
func (r *Reconciler) Replay(ctx context.Context, ids []int64, since time.Time, out io.Writer) (ReplayResult, error) {
	var res ReplayResult
	if err := CheckSchema(ctx, r.pool); err != nil {
		return res, err
	}
	var ls []letter
	var err error
	if len(ids) > 0 {
		ls, err = readLetters(reconcilerdb.New(r.pool).DeadLettersByID(ctx, ids))
		if err == nil && len(ls) < len(ids) {
			err = fmt.Errorf("%d of the %d dead letters asked for do not exist", len(ids)-len(ls), len(ids))
		}
	} else {
		ls, err = readLetters(reconcilerdb.New(r.pool).DeadLettersToReplay(ctx, since))
	}
	if err != nil {
		return res, fmt.Errorf("read dead letters: %w", err)
	}
	resolved := map[[2]string]bool{}
	for _, l := range ls {
		outcome, why, err := r.replayOne(ctx, l)
		if err != nil {
			return res, fmt.Errorf("replay dead letter %d: %w", l.ID, err)
		}
		where := fmt.Sprintf("%s/%d@%d", l.Topic, l.Partition, l.Offset)
		switch outcome {
		case "applied":
			res.Applied++
			fmt.Fprintf(out, "dead letter %d (%s, event %s): applied\n", l.ID, where, cmpOr(l.EventID, "-"))
		case "duplicate":
			res.Duplicates++
			fmt.Fprintf(out, "dead letter %d (%s, event %s): already applied, nothing to do\n", l.ID, where, cmpOr(l.EventID, "-"))
		case "not_replayable":
			res.NotReplayable++
			fmt.Fprintf(out, "dead letter %d (%s): cannot be replayed: %s\n", l.ID, where, why)
		default:
			res.Failed++
			fmt.Fprintf(out, "dead letter %d (%s, event %s): still fails: %s\n", l.ID, where, cmpOr(l.EventID, "-"),
				oneLine(truncateText(why, 500)))
		}
		if outcome == "applied" || outcome == "duplicate" {
			resolved[[2]string{l.origin(), l.ReasonCode}] = true
		}
	}
	// A dead_letter alert whose every letter has now been applied is resolved.
	for k := range resolved {
		left, err := reconcilerdb.New(r.pool).DeadLettersLeft(ctx, reconcilerdb.DeadLettersLeftParams{Origin: k[0], ReasonCode: k[1]})
		if err == nil && !left {
			_, err = alerts.Resolve(ctx, r.pool, fmt.Sprintf("%s:%s:%s", alerts.KindDeadLetter, k[0], k[1]))
		}
		if err != nil {
			r.log.Warn("could not resolve a dead_letter alert", "source", k[0], "reason_code", k[1], "err", err)
		}
	}
	fmt.Fprintf(out, "replayed %d dead letters: %d applied, %d already applied, %d still fail, %d cannot be replayed\n",
		len(ls), res.Applied, res.Duplicates, res.Failed, res.NotReplayable)
	if res.Failed > 0 || res.NotReplayable > 0 {
		return res, &ReplayError{Result: res}
	}
	return res, nil
}

// replayOne replays one letter in a transaction of its own and records its outcome on it: applied,
// duplicate, failed (with why) or not_replayable. err is an infrastructure or environment failure.
func (r *Reconciler) replayOne(ctx context.Context, l letter) (outcome, why string, err error) {
	record := func(ctx context.Context, tx pgx.Tx) error {
		return reconcilerdb.New(tx).RecordReplay(ctx, reconcilerdb.RecordReplayParams{ID: l.ID, Outcome: outcome,
			Error: alerts.Storable(truncateText(why, maxText))})
	}
	if l.Truncated {
		outcome = "not_replayable"
		why = fmt.Sprintf("only the first %d of its %d bytes were kept (sha256 %x); publish the original again instead",
			len(l.Original), l.Size, l.SHA256)
		return outcome, why, pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error { return record(ctx, tx) })
	}
	// A dead letter keeps the record's value, not its headers: an expectation's signature is not among what is
	// replayed. So where expectations must be signed, a letter that is one is refused again, and told apart from
	// one that still fails: the fix is the business publishing it again, signed, not a replay.
	d := decode(ctx, kafka.Message{Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Key: []byte(l.Key),
		Value: l.Original}, r.cfg.Trust, r.cfg.ExpectationKeys)
	if errors.Is(d.refuse, matching.ErrSignature) {
		outcome = "not_replayable"
		why = fmt.Sprintf("expectations must be signed here (%s) and a dead letter keeps a record's value, not its "+
			"headers, so its signature cannot be checked again; have the business publish it again, signed", matching.KeysEnv)
		return outcome, why, pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error { return record(ctx, tx) })
	}
	if d.unjudged != nil {
		return "", "", d.unjudged // the gate could not judge it: stop, as for any database failure
	}
	t := newTally()
	err = pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		t = newTally()
		outcome, why = "failed", ""
		if d.refuse != nil {
			why = d.refuse.Error()
			return record(ctx, tx)
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if err := r.applyFacts(ctx, sp, []*decoded{&d}, &t); err != nil {
			if rbErr := sp.Rollback(ctx); rbErr != nil || Classify(err) != Message {
				return err
			}
			why = err.Error()
			return record(ctx, tx)
		}
		if err := sp.Commit(ctx); err != nil {
			return err
		}
		outcome = "duplicate"
		if len(t.applied) > 0 {
			outcome = "applied"
		}
		return record(ctx, tx)
	})
	if err != nil {
		return "", "", err
	}
	if outcome == "applied" {
		r.committed(t, nil)
	}
	return outcome, why, nil
}

func cmpOr(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// oneLine folds a text onto one line for a listing.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
