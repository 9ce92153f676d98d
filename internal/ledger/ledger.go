// Package ledger is mizan's double-entry storage in PostgreSQL: accounts, journal entries, their postings and
// balances, current and at any point in time.
//
// The ledger's invariants — an entry's postings sum to zero per currency, entries and postings never change,
// a posting's currency is its account's, a reversal negates what it reverses, each posting carries the
// account's balance after it — are enforced by the database itself (see migrations/00001_ledger.sql). This
// package checks the same rules first, to report a bad entry by its idempotency key before anything is
// written, and then writes a whole batch of entries in a handful of statements.
//
// Amounts are signed: debit positive, credit negative. The package knows nothing of providers, events or
// Kafka; which event becomes which entry is decided above it.
package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
)

// AccountType is an account's place in the chart of accounts. It never changes once the account exists.
type AccountType string

// The five account types of double-entry bookkeeping.
const (
	AccountAsset     AccountType = "asset"
	AccountLiability AccountType = "liability"
	AccountIncome    AccountType = "income"
	AccountExpense   AccountType = "expense"
	AccountEquity    AccountType = "equity"
)

// Valid reports whether t is one of the five account types.
func (t AccountType) Valid() bool {
	switch t {
	case AccountAsset, AccountLiability, AccountIncome, AccountExpense, AccountEquity:
		return true
	}
	return false
}

// Account identifies an account by its code, e.g. "assets:vandar:acme:wallet". Apply creates an account the
// first time an entry uses it; afterwards every use must give the same type and currency.
type Account struct {
	Code     string
	Type     AccountType
	Currency string // three upper-case letters: ISO 4217, or IRT for tomans
}

// Posting is one line of an entry: an amount on an account, in the account's currency.
type Posting struct {
	Account Account
	Amount  decimal.Decimal // signed: debit positive, credit negative; never zero
}

// Entry is one journal entry: one economic event, as balanced postings.
type Entry struct {
	// IdempotencyKey identifies the entry: posting an entry whose key is already posted does nothing.
	// At most MaxKeyLen bytes.
	IdempotencyKey string
	// EffectiveAt is when the event happened, as the provider says. It is stored with microsecond
	// precision. A posting is booked at EffectiveAt, or later if its account already has a posting booked
	// after that: see Apply.
	EffectiveAt time.Time
	Description string
	// Metadata is stored as a jsonb object (e.g. the source event's id); nil is stored as {}.
	Metadata map[string]any
	// Reverses is the idempotency key of the entry this one reverses, or "". A reversal's postings must be
	// the reversed entry's with their signs flipped, and an entry is reversed at most once.
	Reverses string
	// Postings: at least two, summing to zero per currency.
	Postings []Posting
}

// MaxKeyLen is the longest idempotency key or account code accepted, in bytes. PostgreSQL's unique
// indexes refuse much longer values outright; the limit makes that an early, clear error instead.
const MaxKeyLen = 1024

// Result says what Apply did with each entry, by idempotency key, in the order the entries were given.
type Result struct {
	// Posted are the entries written by this call.
	Posted []string
	// Duplicates are the entries skipped because their key was already posted — before this call, or
	// earlier in the same batch. Their content is not compared with what was posted: detecting an item
	// that changed is the caller's business.
	Duplicates []string
}

// Querier runs a query returning one row: a pgx.Tx, *pgx.Conn or *pgxpool.Pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Balance returns an account's current balance, or zero if the account does not exist.
func Balance(ctx context.Context, q Querier, accountCode string) (decimal.Decimal, error) {
	var s string
	if err := q.QueryRow(ctx, sqlBalance, accountCode).Scan(&s); err != nil {
		return decimal.Decimal{}, fmt.Errorf("ledger: balance of %q: %w", accountCode, mapError(err))
	}
	return parseDecimal(s)
}

// BalanceAt returns an account's balance at time at: the balance after its last posting booked at or
// before at, or zero if there is none. An account code the ledger does not know is an error wrapping
// ErrUnknownAccount (as ledger.balance_at raises one in SQL): a typo must not read as an empty account. It
// is one indexed read, however long the account's history, and leaves the caller's transaction usable
// whatever it returns.
//
// Booking time is not always the provider's time: a fact that arrives after later ones were booked on the
// same account is booked when mizan learns of it (see Apply), as a bank books a late item on the day it
// arrives whatever its value date.
func BalanceAt(ctx context.Context, q Querier, accountCode string, at time.Time) (decimal.Decimal, error) {
	var (
		known bool
		s     string
	)
	if err := q.QueryRow(ctx, sqlBalanceAt, accountCode, at).Scan(&known, &s); err != nil {
		return decimal.Decimal{}, fmt.Errorf("ledger: balance of %q at %s: %w", accountCode, at.Format(time.RFC3339Nano), mapError(err))
	}
	if !known {
		return decimal.Decimal{}, fmt.Errorf("ledger: balance of %q at %s: %w", accountCode, at.Format(time.RFC3339Nano), ErrUnknownAccount)
	}
	return parseDecimal(s)
}

func parseDecimal(s string) (decimal.Decimal, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("ledger: numeric %q from the database: %w", s, err)
	}
	return d, nil
}
