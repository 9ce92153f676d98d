package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/alerts"
	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/posting"
)

// decoded is one consumed message, read as far as it could be.
type decoded struct {
	msg    kafka.Message
	ev     events.Event
	fact   any    // events.StatementItem, events.Balance or events.Watermark
	refuse string // why the message cannot be applied; "" if it can
}

// knownTypes are the event types this reconciler applies. A type it does not know, or a newer version of
// one it knows, is refused to the dead-letter topic rather than guessed at.
var knownTypes = map[string]func(events.Event) (any, error){
	events.TypeStatementItem: decodeAs[events.StatementItem],
	events.TypeBalance:       decodeAs[events.Balance],
	events.TypeWatermark:     decodeAs[events.Watermark],
	events.TypeSettlement:    decodeAs[events.Settlement],
	events.TypeBatch:         decodeAs[events.Batch],
}

func decodeAs[T any](ev events.Event) (any, error) { return events.DecodeData[T](ev) }

// decode reads one message. It never fails: what cannot be read is marked to be refused, with the reason.
func decode(m kafka.Message) decoded {
	d := decoded{msg: m}
	ev, err := events.Decode(m.Value)
	if err != nil {
		d.refuse = err.Error()
		return d
	}
	d.ev = ev
	read, ok := knownTypes[ev.Type]
	if !ok {
		d.refuse = unknownTypeReason(ev.Type)
		return d
	}
	if d.fact, err = read(ev); err != nil {
		d.refuse = err.Error()
		return d
	}
	if err := validate(d.fact); err != nil {
		d.refuse = fmt.Sprintf("event %s (%s): %v", ev.ID, ev.Type, err)
	}
	return d
}

func unknownTypeReason(typ string) string {
	for known := range knownTypes {
		if base, _, ok := strings.Cut(known, ".v"); ok && strings.HasPrefix(typ, base+".v") {
			return fmt.Sprintf("unsupported schema version: event type %q (this reconciler reads %q)", typ, known)
		}
	}
	return fmt.Sprintf("unknown event type %q", typ)
}

// validate refuses facts whose content would corrupt the ledger if applied.
func validate(fact any) error {
	switch f := fact.(type) {
	case events.StatementItem:
		switch {
		case f.Provider == "" || f.Account == "" || f.ItemID == "":
			return errors.New("statement item without provider, account or item id")
		case f.Currency == "":
			return fmt.Errorf("statement item %s has no currency", f.ItemID)
		case f.Amount.IsNegative() || f.Fee.IsNegative():
			return fmt.Errorf("statement item %s has a negative amount or fee", f.ItemID)
		case f.MovedWallet && f.EffectiveAt.IsZero():
			return fmt.Errorf("statement item %s moved the wallet but has no effective time", f.ItemID)
		case f.Direction != events.DirectionIn && f.Direction != events.DirectionOut:
			return fmt.Errorf("statement item %s has direction %q", f.ItemID, f.Direction)
		}
	case events.Balance:
		if f.Provider == "" || f.Account == "" || f.Currency == "" || f.ObservedAt.IsZero() {
			return errors.New("balance without provider, account, currency or observation time")
		}
	case events.Watermark:
		if f.Provider == "" || f.Account == "" || f.Feed == "" || f.Through.IsZero() {
			return errors.New("watermark without provider, account, feed or time")
		}
	case events.Settlement:
		switch {
		case f.Provider == "" || f.Account == "" || f.SettlementID == "" || f.Currency == "" || f.ObservedAt.IsZero():
			return errors.New("settlement without provider, account, id, currency or observation time")
		case f.Amount.IsNegative() || f.Fee.IsNegative():
			return fmt.Errorf("settlement %s has a negative amount or fee", f.SettlementID)
		}
		switch f.Status {
		case events.SettlementInit, events.SettlementPending, events.SettlementSubmitted, events.SettlementDone,
			events.SettlementFailed, events.SettlementCanceled:
		default:
			return fmt.Errorf("settlement %s has unknown status %q", f.SettlementID, f.Status)
		}
	case events.Batch:
		if f.Provider == "" || f.Account == "" || f.BatchID == "" || f.ObservedAt.IsZero() {
			return errors.New("batch without provider, account, id or observation time")
		}
	}
	return nil
}

// permanent marks an error that applying the same events again would repeat: the events are refused, not
// retried.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// isPermanent tells data errors (the same input fails the same way) from infrastructure errors (a dropped
// connection, a failover) that a retry can cure.
func isPermanent(err error) bool {
	var p permanent
	if errors.As(err, &p) {
		return true
	}
	if ledger.Retryable(err) { // e.g. another member posting the same key during a rebalance
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22", "23", "P0", "42": // data exception, integrity violation, raised by a trigger, syntax/undefined
			return true
		}
		return false
	}
	return errors.Is(err, ledger.ErrUnbalanced) || errors.Is(err, ledger.ErrAccountMismatch)
}

// applyBatch applies the applicable messages of a batch in one transaction: it records every new event id,
// posts the ledger entries they imply and stores watermarks and balance observations. Events already applied
// are skipped, so replaying a batch changes nothing.
func (r *Reconciler) applyBatch(ctx context.Context, batch []decoded) error {
	var t tally
	err := r.applyBatchTx(ctx, batch, &t)
	if err == nil { // counted only once the transaction has committed
		r.Stats.AlertsOpened += t.opened
		r.count(t)
	}
	return err
}

// tally is what one batch transaction did, counted into the metrics once it commits.
type tally struct {
	opened     int
	applied    map[string]int // by topic
	duplicates map[string]int
	entries    int
	outcomes   []checks.Result
}

func (r *Reconciler) count(t tally) {
	m := r.cfg.Metrics
	for topic, n := range t.applied {
		m.Messages.WithLabelValues(topic, metrics.MessageApplied).Add(float64(n))
	}
	for topic, n := range t.duplicates {
		m.Messages.WithLabelValues(topic, metrics.MessageDuplicate).Add(float64(n))
	}
	m.EntriesPosted.Add(float64(t.entries))
	for _, res := range t.outcomes {
		m.CheckOutcomes.WithLabelValues(res.Check, string(res.Outcome)).Inc()
	}
}

func (r *Reconciler) applyBatchTx(ctx context.Context, batch []decoded, t *tally) error {
	*t = tally{applied: map[string]int{}, duplicates: map[string]int{}}
	r.txEntries = 0
	var ids, topics []string
	var partitions []int32
	var offsets []int64
	seen := map[string]bool{}
	var todo []decoded
	for _, d := range batch {
		if d.refuse != "" || seen[d.ev.ID] {
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
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			INSERT INTO recon.processed_events (event_id, topic, partition, "offset")
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[])
			ON CONFLICT (event_id) DO NOTHING
			RETURNING event_id`, ids, topics, partitions, offsets)
		if err != nil {
			return fmt.Errorf("record event ids: %w", err)
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("record event ids: %w", err)
		}
		isNew := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			isNew[id] = true
		}
		var items []itemEvent
		var marks []events.Watermark
		var balances []balanceEvent
		var settlements []settlementEvent
		var batches []batchEvent
		for _, d := range todo {
			if !isNew[d.ev.ID] {
				t.duplicates[d.msg.Topic]++
				continue
			}
			t.applied[d.msg.Topic]++
			switch f := d.fact.(type) {
			case events.StatementItem:
				items = append(items, itemEvent{f, d.ev.ID})
			case events.Watermark:
				marks = append(marks, f)
			case events.Balance:
				balances = append(balances, balanceEvent{f, d.ev.ID})
			case events.Settlement:
				settlements = append(settlements, settlementEvent{f, d.ev.ID})
			case events.Batch:
				batches = append(batches, batchEvent{f, d.ev.ID})
			}
		}
		posted, err := r.postItems(ctx, tx, items)
		if err != nil {
			return err
		}
		results, err := r.checkItems(ctx, tx, items, posted)
		if err != nil {
			return err
		}
		returned, err := r.markReturns(ctx, tx, items)
		if err != nil {
			return err
		}
		results = append(results, returned...)
		settled, err := r.applySettlements(ctx, tx, settlements)
		if err != nil {
			return err
		}
		results = append(results, settled...)
		var paid []ledger.Entry
		for _, b := range batches {
			res := checks.Batch(b.batch)
			res.EventID = b.eventID
			results = append(results, res)
			paid = append(paid, posting.BatchItemsDone(b.batch, b.eventID)...)
		}
		if len(paid) > 0 {
			res, err := ledger.Apply(ctx, tx, paid)
			if err != nil {
				return fmt.Errorf("post %d paid batch items: %w", len(paid), err)
			}
			r.txEntries += len(res.Posted)
		}
		if err := storeWatermarks(ctx, tx, marks); err != nil {
			return err
		}
		for _, w := range marks {
			for _, id := range w.Duplicates {
				res := checks.Duplicate(w.Provider, w.Account, id, w.PolledAt)
				res.EventID = w.LastEvent
				results = append(results, res)
			}
		}
		if err := storeBalances(ctx, tx, balances); err != nil {
			return err
		}
		snapshots, err := r.applyYabandPay(ctx, tx, balances)
		if err != nil {
			return err
		}
		results = append(results, snapshots...)
		// The item checks' alerts go in first: the balance check asks which differences they already explain.
		n, err := alerts.Record(ctx, tx, results)
		if err != nil {
			return err
		}
		due, err := r.checkDueBalances(ctx, tx)
		if err != nil {
			return err
		}
		m, err := alerts.Record(ctx, tx, due)
		t.opened = n + m
		t.outcomes = append(results, due...)
		t.entries = r.txEntries
		return err
	})
}

type itemEvent struct {
	item    events.StatementItem
	eventID string
}

type balanceEvent struct {
	bal     events.Balance
	eventID string
}

// postItems posts the wallet movements of statement items, opening each wallet first if its history starts
// before what mizan reads. It returns the idempotency keys the ledger posted now (the others it had already).
func (r *Reconciler) postItems(ctx context.Context, tx pgx.Tx, items []itemEvent) (map[string]bool, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var wallets []string
	seen := map[string]bool{}
	for _, ie := range items {
		code := posting.Wallet(ie.item.Provider, ie.item.Account, ie.item.Currency).Code
		if !seen[code] { // a batch is mostly one or a few hot wallets: ask once each
			seen[code] = true
			wallets = append(wallets, code)
		}
	}
	rows, err := tx.Query(ctx, `
		SELECT a.code FROM ledger.accounts a JOIN ledger.account_balances b ON b.account_id = a.id
		WHERE a.code = ANY($1) AND b.last_seq > 0`, wallets)
	if err != nil {
		return nil, fmt.Errorf("find opened wallets: %w", err)
	}
	opened, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find opened wallets: %w", err)
	}
	isOpen := map[string]bool{}
	for _, code := range opened {
		isOpen[code] = true
	}
	var entries []ledger.Entry
	for _, ie := range items {
		e, ok, err := posting.Statement(ie.item, ie.eventID)
		if err != nil {
			return nil, permanent{err}
		}
		if !ok {
			continue
		}
		wallet := posting.Wallet(ie.item.Provider, ie.item.Account, ie.item.Currency).Code
		if !isOpen[wallet] {
			isOpen[wallet] = true
			if opening, ok := posting.Opening(ie.item); ok {
				entries = append(entries, opening)
			}
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, nil
	}
	res, err := ledger.Apply(ctx, tx, entries)
	if err != nil {
		return nil, fmt.Errorf("post %d entries: %w", len(entries), err)
	}
	r.txEntries += len(res.Posted)
	posted := make(map[string]bool, len(res.Posted))
	for _, k := range res.Posted {
		posted[k] = true
	}
	return posted, nil
}

// storeWatermarks keeps, per (provider, account, feed), the furthest watermark seen.
func storeWatermarks(ctx context.Context, tx pgx.Tx, marks []events.Watermark) error {
	for _, w := range marks {
		_, err := tx.Exec(ctx, `
			INSERT INTO recon.watermarks (provider, account, feed, source, through, last_event, polled_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, now())
			ON CONFLICT (provider, account, feed) DO UPDATE SET
				source = EXCLUDED.source, through = EXCLUDED.through, last_event = EXCLUDED.last_event,
				polled_at = EXCLUDED.polled_at, updated_at = now()
			WHERE recon.watermarks.through <= EXCLUDED.through`,
			w.Provider, w.Account, w.Feed, w.Source, w.Through, w.LastEvent, w.PolledAt)
		if err != nil {
			return fmt.Errorf("store watermark %s/%s/%s: %w", w.Provider, w.Account, w.Feed, err)
		}
	}
	return nil
}

// storeBalances records each balance a provider reported, as reported.
func storeBalances(ctx context.Context, tx pgx.Tx, bals []balanceEvent) error {
	for _, b := range bals {
		_, err := tx.Exec(ctx, `
			INSERT INTO recon.balance_observations (event_id, provider, account, currency, amount, figures, observed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			b.eventID, b.bal.Provider, b.bal.Account, b.bal.Currency, b.bal.Amount, b.bal.Figures, b.bal.ObservedAt)
		if err != nil {
			return fmt.Errorf("store balance %s/%s/%s: %w", b.bal.Provider, b.bal.Account, b.bal.Currency, err)
		}
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
