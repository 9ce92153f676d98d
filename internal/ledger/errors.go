package ledger

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Domain errors. Apply's errors wrap one of them (test with errors.Is); an error about one entry of a batch
// is also an *EntryError naming it.
var (
	// ErrInvalid: a malformed entry — no key, no time, a zero amount, an unknown account type, a currency
	// that is not three upper-case letters, metadata that is not JSON, text PostgreSQL cannot store.
	ErrInvalid = errors.New("ledger: invalid entry")
	// ErrUnbalanced: an entry's postings do not sum to zero in some currency, or there are fewer than two.
	ErrUnbalanced = errors.New("ledger: unbalanced entry")
	// ErrAccountMismatch: an account is used with another type or currency than it has (or than another
	// posting of the batch gives it), or a posting's currency is not its account's.
	ErrAccountMismatch = errors.New("ledger: account type or currency mismatch")
	// ErrImmutable: something tried to change what the ledger never changes — an entry, a posting, an
	// account's code, type or currency, a balance row, or an entry by adding postings to it later.
	ErrImmutable = errors.New("ledger: ledger rows are immutable")
	// ErrConflict: one idempotency key given twice in a batch with different content.
	ErrConflict = errors.New("ledger: idempotency key reused with different content")
	// ErrReversal: a reversal that does not exactly negate its entry, reverses an entry already reversed,
	// or reverses an entry that is not posted (nor earlier in the batch).
	ErrReversal = errors.New("ledger: invalid reversal")
	// ErrBalanceChain: postings that do not continue their account's balance chain (sequence, running
	// balance, booking time). Apply computes the chain from locked rows, so from Apply this means a bug.
	ErrBalanceChain = errors.New("ledger: balance chain broken")
	// ErrOutOfBounds: an amount or a time the ledger does not take — a currency it does not know, more
	// decimal places than the currency's minor unit, an amount beyond the currency's bound, an effective or
	// booking time before the floor or too far in the future (ledger.currencies, ledger.limits).
	ErrOutOfBounds = errors.New("ledger: amount or time out of bounds")
	// ErrUnknownAccount: an account code that names no account (BalanceAt; ledger.balance_at in SQL raises
	// the same as SQLSTATE 42704 with the constraint name accounts_unknown).
	ErrUnknownAccount = errors.New("ledger: no such account")
	// ErrConcurrent: a concurrent transaction got in the way (it posted the same key first, a
	// serialization failure, a deadlock). The error is Retryable: roll back and run the batch again.
	ErrConcurrent = errors.New("ledger: concurrent transaction conflict")
)

// EntryError is an error about one entry of a batch: the caller can set that entry aside and apply the
// rest. It wraps one of the domain errors.
type EntryError struct {
	Key string // the entry's idempotency key
	Err error
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry %q: %v", e.Key, e.Err) }

// Unwrap returns the domain error.
func (e *EntryError) Unwrap() error { return e.Err }

// entryErr builds an *EntryError wrapping sentinel with a formatted reason.
func entryErr(key string, sentinel error, format string, args ...any) error {
	return &EntryError{Key: key, Err: errorf(sentinel, format, args...)}
}

// errorf wraps sentinel with a formatted reason.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// retryableError marks an error that a retry of the whole transaction may cure.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// Retryable reports true: roll the transaction back and try again.
func (e *retryableError) Retryable() bool { return true }

// constraintErrors maps the names the schema gives its constraints and trigger errors (reported as
// pgconn.PgError.ConstraintName) to domain errors.
var constraintErrors = map[string]error{
	"postings_balanced":     ErrUnbalanced,
	"postings_min_two":      ErrUnbalanced,
	"entries_have_postings": ErrUnbalanced,

	"postings_account_currency_fkey": ErrAccountMismatch,
	"accounts_immutable":             ErrImmutable,
	"accounts_in_use":                ErrImmutable,
	"postings_one_statement":         ErrImmutable,
	"entries_immutable":              ErrImmutable,
	"postings_immutable":             ErrImmutable,
	"account_balances_guard":         ErrImmutable,

	"entries_reversal_negates":       ErrReversal,
	"entries_reverses_entry_id_key":  ErrReversal,
	"entries_reverses_entry_id_fkey": ErrReversal,
	"entries_reverses_other_check":   ErrReversal,

	"accounts_unknown": ErrUnknownAccount,

	"postings_balance_chain":   ErrBalanceChain,
	"postings_account_seq_key": ErrBalanceChain,

	"postings_currency_known":     ErrOutOfBounds,
	"postings_amount_scale":       ErrOutOfBounds,
	"postings_amount_bound":       ErrOutOfBounds,
	"postings_booked_at_bounds":   ErrOutOfBounds,
	"entries_effective_at_bounds": ErrOutOfBounds,

	"accounts_code_check":           ErrInvalid,
	"accounts_type_check":           ErrInvalid,
	"accounts_currency_check":       ErrInvalid,
	"entries_idempotency_key_check": ErrInvalid,
	"entries_metadata_check":        ErrInvalid,
	"postings_amount_check":         ErrInvalid,
	"postings_account_seq_check":    ErrInvalid,
}

// mapError turns a PostgreSQL error into a domain error wrapping it; other errors pass unchanged.
func mapError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return &retryableError{fmt.Errorf("%w: %w", ErrConcurrent, err)}
	}
	// Apply looks its keys up under the balance-row locks; a key that still collides was posted by a
	// transaction that committed in between, which a retry will see as a duplicate.
	if pgErr.ConstraintName == "entries_idempotency_key_key" {
		return &retryableError{fmt.Errorf("%w: %w", ErrConcurrent, err)}
	}
	if sentinel, ok := constraintErrors[pgErr.ConstraintName]; ok {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}
