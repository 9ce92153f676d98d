package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// Apply posts entries inside the caller's transaction, all or none, and says which were posted and which
// were duplicates. The caller commits; it may write other things in the same transaction (the reconciler
// records the ids of the events the entries came from).
//
// Entries are posted in the order given. Each posting is booked at its entry's EffectiveAt, unless its
// account already has a posting booked later: then at that later time, so that an account's history is
// only ever appended to and a past balance never changes. A fact that arrives late is thus booked when
// mizan learns of it; entries.effective_at keeps the provider's time.
//
// Apply makes the same number of round trips whatever the batch size: one pipelined read that creates
// missing accounts, locks the balance rows of every account the batch touches and finds the keys already
// posted, then one statement that inserts all new entries and postings. Holding the balance-row locks until
// the caller's transaction ends serializes batches that share an account, so concurrent Apply calls never
// compute from a stale balance.
//
// Errors wrap the package's domain errors. An error about one entry is an *EntryError naming it; most are
// found before anything is written, and then the transaction is still usable. An error from the final
// insert aborts the transaction. A Retryable error (ErrConcurrent) asks the caller to roll back and retry.
func Apply(ctx context.Context, tx pgx.Tx, entries []Entry) (Result, error) {
	if len(entries) == 0 {
		return Result{}, nil
	}
	b, err := newBatch(entries)
	if err != nil {
		return Result{}, err
	}
	st, err := b.read(ctx, tx)
	if err != nil {
		return Result{}, err
	}
	ins, res, err := b.plan(st)
	if err != nil {
		return Result{}, err
	}
	if len(ins.keys) == 0 {
		return res, nil
	}
	if _, err := tx.Exec(ctx, sqlInsertEntries, ins.args()...); err != nil {
		return Result{}, fmt.Errorf("ledger: post %d entries: %w", len(ins.keys), mapError(err))
	}
	return res, nil
}

// accountState is an account as the database has it, with the end of its balance chain, locked.
type accountState struct {
	id       int64
	account  Account
	balance  decimal.Decimal
	seq      int64
	bookedAt time.Time // zero before the account's first posting
}

// postedEntry is an entry already in the ledger.
type postedEntry struct {
	id         int64
	reversedBy string // key of the entry reversing it, or ""
}

// state is what the database holds about a batch's accounts and keys.
type state struct {
	accounts map[string]*accountState
	posted   map[string]postedEntry
	// targetLines are the postings of posted entries the batch reverses, by key.
	targetLines map[string][]line
}

// read creates the batch's missing accounts, locks its accounts' balance rows and looks up its keys, in
// one round trip.
func (b *batch) read(ctx context.Context, tx pgx.Tx) (*state, error) {
	types := make([]string, len(b.codes))
	currencies := make([]string, len(b.codes))
	for i, c := range b.codes {
		types[i], currencies[i] = string(b.accounts[c].Type), b.accounts[c].Currency
	}
	q := &pgx.Batch{}
	q.Queue(sqlUpsertAccounts, b.codes, types, currencies)
	q.Queue(sqlLockAccounts, b.codes)
	q.Queue(sqlLookupEntries, b.lookup)
	if len(b.reversed) > 0 {
		q.Queue(sqlReversalTargets, b.reversed)
	}
	br := tx.SendBatch(ctx, q)
	st, err := readResults(br, len(b.reversed) > 0)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("ledger: read batch state: %w", mapError(cerr))
	}
	return st, err
}

func readResults(br pgx.BatchResults, reversals bool) (*state, error) {
	st := &state{
		accounts:    make(map[string]*accountState),
		posted:      make(map[string]postedEntry),
		targetLines: make(map[string][]line),
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("ledger: create accounts: %w", mapError(err))
	}

	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("ledger: lock accounts: %w", mapError(err))
	}
	for rows.Next() {
		var (
			s          accountState
			typ, bal   string
			lastBooked *time.Time
		)
		if err := rows.Scan(&s.id, &s.account.Code, &typ, &s.account.Currency, &bal, &s.seq, &lastBooked); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger: lock accounts: %w", err)
		}
		s.account.Type = AccountType(typ)
		if s.balance, err = parseDecimal(bal); err != nil {
			rows.Close()
			return nil, err
		}
		if lastBooked != nil {
			s.bookedAt = *lastBooked
		}
		st.accounts[s.account.Code] = &s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: lock accounts: %w", mapError(err))
	}

	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("ledger: look up keys: %w", mapError(err))
	}
	for rows.Next() {
		var key string
		var e postedEntry
		if err := rows.Scan(&key, &e.id, &e.reversedBy); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger: look up keys: %w", err)
		}
		st.posted[key] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: look up keys: %w", mapError(err))
	}

	if !reversals {
		return st, nil
	}
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("ledger: read reversed entries: %w", mapError(err))
	}
	for rows.Next() {
		var key, code, amount string
		if err := rows.Scan(&key, &code, &amount); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger: read reversed entries: %w", err)
		}
		d, err := parseDecimal(amount)
		if err != nil {
			rows.Close()
			return nil, err
		}
		st.targetLines[key] = append(st.targetLines[key], line{code, d})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger: read reversed entries: %w", mapError(err))
	}
	return st, nil
}

// insert holds the arrays insert_entries.sql takes, one element per new entry or posting.
type insert struct {
	keys         []string
	effectiveAt  []time.Time
	descriptions []string
	metadata     []string
	reversesID   []int64
	reversesOrd  []int64

	entryOrd     []int64
	accountID    []int64
	currency     []string
	amount       []string
	balanceAfter []string
	accountSeq   []int64
	bookedAt     []time.Time
}

func (in *insert) args() []any {
	return []any{
		in.keys, in.effectiveAt, in.descriptions, in.metadata, in.reversesID, in.reversesOrd,
		in.entryOrd, in.accountID, in.currency, in.amount, in.balanceAfter, in.accountSeq, in.bookedAt,
	}
}

// plan checks the batch against the database's state and computes, in entry order, what to insert: each
// new posting's account_seq, balance_after and booked_at continue its account's chain.
func (b *batch) plan(st *state) (*insert, Result, error) {
	var res Result
	in := &insert{}
	ord := make(map[string]int64, len(b.entries)) // new entry key → its 1-based position in the insert
	reversedIn := make(map[string]string)         // key reversed by a new entry of this batch → reversal's key
	for i := range b.entries {
		p := &b.entries[i]
		key := p.IdempotencyKey
		if _, posted := st.posted[key]; posted || p.dupOf >= 0 {
			// Skipped whatever it says, even if its accounts no longer match: the caller compares content.
			res.Duplicates = append(res.Duplicates, key)
			continue
		}
		for _, posting := range p.Postings {
			a := posting.Account
			s, ok := st.accounts[a.Code]
			if !ok {
				// Created by a transaction our snapshot predates (REPEATABLE READ or stricter).
				return nil, Result{}, &retryableError{&EntryError{Key: key,
					Err: errorf(ErrConcurrent, "account %q created by a concurrent transaction", a.Code)}}
			}
			if s.account != a {
				return nil, Result{}, entryErr(key, ErrAccountMismatch, "account %q is %s %s, the entry says %s %s",
					a.Code, s.account.Type, s.account.Currency, a.Type, a.Currency)
			}
		}

		var reversesID, reversesOrd int64
		if r := p.Reverses; r != "" {
			if by, ok := reversedIn[r]; ok {
				return nil, Result{}, entryErr(key, ErrReversal, "entry %q is reversed by %q earlier in the batch", r, by)
			}
			if t, ok := st.posted[r]; ok {
				if t.reversedBy != "" {
					return nil, Result{}, entryErr(key, ErrReversal, "entry %q is already reversed by %q", r, t.reversedBy)
				}
				if !negates(linesOf(p.Postings), st.targetLines[r]) {
					return nil, Result{}, entryErr(key, ErrReversal, "postings do not exactly negate those of %q", r)
				}
				reversesID = t.id
			} else if o, ok := ord[r]; ok {
				if !negates(linesOf(p.Postings), linesOf(b.entries[b.index[r]].Postings)) {
					return nil, Result{}, entryErr(key, ErrReversal, "postings do not exactly negate those of %q", r)
				}
				reversesOrd = o
			} else if _, later := b.index[r]; later {
				return nil, Result{}, entryErr(key, ErrReversal, "reverses %q, which comes later in the batch", r)
			} else {
				return nil, Result{}, entryErr(key, ErrReversal, "reverses %q, which is not posted", r)
			}
			reversedIn[r] = key
		}

		in.keys = append(in.keys, key)
		n := int64(len(in.keys))
		ord[key] = n
		in.effectiveAt = append(in.effectiveAt, p.at)
		in.descriptions = append(in.descriptions, p.Description)
		in.metadata = append(in.metadata, p.metadata)
		in.reversesID = append(in.reversesID, reversesID)
		in.reversesOrd = append(in.reversesOrd, reversesOrd)

		for _, posting := range p.Postings {
			s := st.accounts[posting.Account.Code]
			if s.bookedAt.Before(p.at) {
				s.bookedAt = p.at
			}
			s.seq++
			s.balance = s.balance.Add(posting.Amount)
			in.entryOrd = append(in.entryOrd, n)
			in.accountID = append(in.accountID, s.id)
			in.currency = append(in.currency, s.account.Currency)
			in.amount = append(in.amount, posting.Amount.String())
			in.balanceAfter = append(in.balanceAfter, s.balance.String())
			in.accountSeq = append(in.accountSeq, s.seq)
			in.bookedAt = append(in.bookedAt, s.bookedAt)
		}
		res.Posted = append(res.Posted, key)
	}
	return in, res, nil
}

// Retryable reports whether err, from this package, asks for the transaction to be rolled back and run
// again: errors.As(err, &interface{ Retryable() bool }) with Retryable() true.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}
