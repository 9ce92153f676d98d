// Package adjust is what an accountant does to the ledger and the alerts by hand: post an adjustment entry
// (clearing suspense, correcting a misattribution), reverse one, and acknowledge an alert with a note.
//
// It calls the audited SQL functions of migrations/00093_adjustments.sql and 00094_alert_acknowledgements.sql,
// which the group role mizan_accountant may execute and which do the work as the ledger's owner: the
// adjustment is a new, balanced entry posted through the ledger's own invariants, with a reason and the
// connected login role as its author, recorded in ledger.adjustments; history is never edited — a wrong
// adjustment is reversed by another entry. This package checks what it can before the round trip, to say what
// is wrong in an accountant's words, and reports the database's refusals with their hints.
package adjust

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"
)

// Querier runs a query returning one row: a pgx.Tx, *pgx.Conn or *pgxpool.Pool.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Posting is one line of an adjustment: an account code and a signed amount, debit positive.
type Posting struct {
	Account string
	Amount  decimal.Decimal
}

// Adjustment is an entry an accountant posts.
type Adjustment struct {
	// Reason says why, in the author's words: which ticket, statement line or decision. Required.
	Reason string
	// Postings: at least two, each account once, non-zero amounts summing to zero per currency.
	Postings []Posting
	// EffectiveAt is when the adjustment takes effect; zero means now. Never in the future. The postings are
	// booked then, or at their account's latest booking if that is later (docs/ledger.md).
	EffectiveAt time.Time
	// Clears names the entries whose suspense postings this adjustment settles (analytics.suspense.entry_id).
	Clears []int64
	// CreateAccounts opens accounts that do not exist yet (type from the code's first part, currency from the
	// other postings). Without it an unknown code is an error, so that a typo cannot open an account.
	CreateAccounts bool
	// Key makes a retry safe: posting the same adjustment with the same key again returns the first entry
	// instead of posting twice. Empty: a fresh key each time.
	Key string
}

// ErrInvalid is an adjustment or acknowledgement refused before it reached the database.
var ErrInvalid = errors.New("adjust: invalid")

// Validate checks what can be checked without the ledger: a reason, two or more postings, each account once,
// no zero amounts. Whether the postings balance per currency, and whether the accounts exist, the database
// says.
func (a Adjustment) Validate() error {
	if strings.TrimSpace(a.Reason) == "" {
		return fmt.Errorf("%w: a reason is required (--reason): say why, e.g. which ticket or statement line", ErrInvalid)
	}
	if len(a.Postings) < 2 {
		return fmt.Errorf("%w: %d posting(s); an adjustment needs at least two (--post ACCOUNT=AMOUNT)", ErrInvalid, len(a.Postings))
	}
	seen := map[string]bool{}
	for _, p := range a.Postings {
		if strings.TrimSpace(p.Account) == "" {
			return fmt.Errorf("%w: a posting without an account", ErrInvalid)
		}
		if seen[p.Account] {
			return fmt.Errorf("%w: account %s appears twice; give each account one amount", ErrInvalid, p.Account)
		}
		seen[p.Account] = true
		if p.Amount.IsZero() {
			return fmt.Errorf("%w: %s: the amount is zero", ErrInvalid, p.Account)
		}
	}
	if !a.EffectiveAt.IsZero() && a.EffectiveAt.After(time.Now()) {
		return fmt.Errorf("%w: effective time %s is in the future", ErrInvalid, a.EffectiveAt.Format(time.RFC3339))
	}
	return nil
}

// Post posts the adjustment and returns its entry id. The author is the login role q is connected as.
func Post(ctx context.Context, q Querier, a Adjustment) (int64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	accounts := make([]string, len(a.Postings))
	amounts := make([]string, len(a.Postings))
	for i, p := range a.Postings {
		accounts[i], amounts[i] = p.Account, p.Amount.String()
	}
	var at *time.Time
	if !a.EffectiveAt.IsZero() {
		at = &a.EffectiveAt
	}
	clears := a.Clears
	if clears == nil {
		clears = []int64{}
	}
	var id int64
	err := q.QueryRow(ctx, `SELECT ledger.post_adjustment(reason => $1, accounts => $2::text[], amounts => $3::numeric[],
		effective_at => $4, clears => $5::bigint[], create_accounts => $6, key => nullif($7, ''))`,
		a.Reason, accounts, amounts, at, clears, a.CreateAccounts, a.Key).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("post adjustment: %w", explain(err))
	}
	return id, nil
}

// Reverse posts the entry that exactly negates adjustment entryID, with a reason, and returns its id. The
// suspense lines the adjustment cleared are open again.
func Reverse(ctx context.Context, q Querier, entryID int64, reason string) (int64, error) {
	if strings.TrimSpace(reason) == "" {
		return 0, fmt.Errorf("%w: a reason is required (--reason)", ErrInvalid)
	}
	var id int64
	if err := q.QueryRow(ctx, `SELECT ledger.reverse_adjustment($1, $2)`, entryID, reason).Scan(&id); err != nil {
		return 0, fmt.Errorf("reverse adjustment %d: %w", entryID, explain(err))
	}
	return id, nil
}

// Acknowledge acknowledges open alert alertID with a note, as the login role q is connected as, and returns
// when. The Slack dispatcher announces it once.
func Acknowledge(ctx context.Context, q Querier, alertID int64, note string) (time.Time, error) {
	if strings.TrimSpace(note) == "" {
		return time.Time{}, fmt.Errorf("%w: a note is required (--note): what you found or are doing", ErrInvalid)
	}
	var at time.Time
	if err := q.QueryRow(ctx, `SELECT recon.acknowledge_alert($1, $2)`, alertID, note).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("acknowledge alert %d: %w", alertID, explain(err))
	}
	return at, nil
}

// ParsePosting reads "ACCOUNT=AMOUNT", e.g. "liabilities:vandar:acme:suspense=48000" or
// "income:vandar:acme:sales:ipg=-48000". The amount is signed, debit positive.
func ParsePosting(s string) (Posting, error) {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 || i == len(s)-1 {
		return Posting{}, fmt.Errorf("%w: posting %q: want ACCOUNT=AMOUNT, e.g. liabilities:vandar:acme:suspense=48000", ErrInvalid, s)
	}
	amount, err := decimal.NewFromString(strings.TrimSpace(s[i+1:]))
	if err != nil {
		return Posting{}, fmt.Errorf("%w: posting %q: amount %q is not a number", ErrInvalid, s, s[i+1:])
	}
	return Posting{Account: strings.TrimSpace(s[:i]), Amount: amount}, nil
}

// ParseIDs reads a comma-separated list of entry ids, e.g. "1041,1207".
func ParseIDs(s string) ([]int64, error) {
	var ids []int64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%w: %q is not an entry id", ErrInvalid, f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// explain turns a PostgreSQL refusal into an error that reads as the database phrased it, hint included,
// and that still unwraps to the *pgconn.PgError. A missing privilege gets a hint of its own: it means the
// connection is not an accountant's.
func explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	hint := pgErr.Hint
	if pgErr.Code == "42501" { // insufficient_privilege
		hint = "DATABASE_URL must name your own login role, a member of mizan_accountant (docs/analysts.md)"
	}
	if hint == "" {
		return &refusal{msg: pgErr.Message, err: err}
	}
	return &refusal{msg: pgErr.Message + " (" + hint + ")", err: err}
}

// refusal is the database's refusal in its own words.
type refusal struct {
	msg string
	err error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.err }
