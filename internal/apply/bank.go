package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/posting"
)

// The payout loop, closed by the business's bank statements (docs/accounts.md, "How a payout's money moves").
//
// A bank account is *followed* when mizan reads its statements: a source whose account is its IBAN is
// registered in recon.sources (the source's provider is no concern of this package), or its statements have
// already been applied. A payout reported paid to a followed account moves from transit into
// payouts_unconfirmed instead of the bank account, and is recorded in recon.bank_payouts. Every line of every
// statement posts to the bank account against its unidentified account; a credit matched to a payout clears
// the payout's money from payouts_unconfirmed into the unidentified account the credit left it in
// (posting.PayoutConfirmed) — so, line and match together, the payout has moved from unconfirmed to the bank.
// Payouts and lines arrive on different partitions in any order; each side is matched as it arrives, and the
// entries are the same either way.
//
// Everything about one IBAN happens under a transaction-scoped advisory lock on it, taken at the start of
// Apply in IBAN order, so two reconcilers applying a payout and its credit at once do not both match them.

// bankLockKey is the namespace of the advisory locks on bank accounts.
const bankLockKey = "mizan.bank/"

// ibanMatchMargin is how far beyond its window a credit carrying a payout's reference is still looked for.
const ibanMatchMargin = 30

type bankFact struct {
	line    *events.BankLine
	balance *events.BankBalance
	eventID string
}

// payoutTimes is what a payout-done entry does not say of its payout: when the provider paid it as well as it
// says, and when it was requested.
type payoutTimes struct {
	paidAt, created time.Time
}

// settlementPaidAt is when a provider paid a settlement, as well as it says: its done time where reported,
// else its predicted completion if that had passed when it was seen done, else when it was seen done.
func settlementPaidAt(s events.Settlement) time.Time {
	switch {
	case !s.SettledAt.IsZero():
		return s.SettledAt
	case !s.PredictedAt.IsZero() && s.PredictedAt.Before(s.ObservedAt):
		return s.PredictedAt
	}
	return s.ObservedAt
}

// bankIBANs lists, sorted, the bank accounts a batch's facts may touch: those of its bank facts and those its
// payouts are paid to.
func bankIBANs(facts []Fact) []string {
	set := map[string]bool{}
	for _, f := range facts {
		switch v := f.Value.(type) {
		case events.BankLine:
			set[events.NormalizeIBAN(v.IBAN)] = true
		case events.BankBalance:
			set[events.NormalizeIBAN(v.IBAN)] = true
		case events.Settlement:
			if v.Status == events.SettlementDone && v.IBAN != "" {
				set[events.NormalizeIBAN(v.IBAN)] = true
			}
		case events.Batch:
			for _, it := range v.Items {
				if it.IBAN != "" {
					set[events.NormalizeIBAN(it.IBAN)] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for iban := range set {
		out = append(out, iban)
	}
	slices.Sort(out)
	return out
}

// lockBanks takes the advisory lock of each bank account, in order, for the rest of the transaction.
func lockBanks(ctx context.Context, tx pgx.Tx, ibans []string) error {
	for _, iban := range ibans {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, bankLockKey+iban); err != nil {
			return fmt.Errorf("lock bank account %s: %w", iban, err)
		}
	}
	return nil
}

// followedBanks returns which of ibans mizan reads the statements of.
func followedBanks(ctx context.Context, tx pgx.Tx, ibans []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ibans) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `
		SELECT account FROM recon.sources WHERE account = ANY($1)
		UNION SELECT iban FROM recon.bank_accounts WHERE iban = ANY($1)`, ibans)
	if err != nil {
		return nil, fmt.Errorf("find followed bank accounts: %w", err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find followed bank accounts: %w", err)
	}
	for _, iban := range found {
		out[iban] = true
	}
	return out, nil
}

// awaitingPayout is a payout-done entry turned to wait for its bank's credit.
type awaitingPayout struct {
	entry ledger.Entry
	times payoutTimes
}

// awaitBank turns the payout-done entries of payouts to followed bank accounts into entries that wait for the
// bank (posting.AwaitBank). times gives each payout's times by the entry's key.
func awaitBank(ctx context.Context, tx pgx.Tx, entries []ledger.Entry, times map[string]payoutTimes) ([]ledger.Entry, []awaitingPayout, error) {
	var ibans []string
	for _, e := range entries {
		if iban, _ := e.Metadata["iban"].(string); e.Metadata["kind"] == "payout_done" && iban != "" {
			ibans = append(ibans, events.NormalizeIBAN(iban))
		}
	}
	if len(ibans) == 0 {
		return entries, nil, nil
	}
	followed, err := followedBanks(ctx, tx, ibans)
	if err != nil || len(followed) == 0 {
		return entries, nil, err
	}
	var waiting []awaitingPayout
	out := make([]ledger.Entry, len(entries))
	for i, e := range entries {
		out[i] = e
		iban, _ := e.Metadata["iban"].(string)
		if !followed[events.NormalizeIBAN(iban)] {
			continue
		}
		if w, ok := posting.AwaitBank(e); ok {
			out[i] = w
			waiting = append(waiting, awaitingPayout{entry: w, times: times[e.IdempotencyKey]})
		}
	}
	return out, waiting, nil
}

// recordBankPayouts records the waiting payouts the ledger posted now (posted: their keys) in
// recon.bank_payouts — one the ledger had already posted went where it went then — and marks their bank
// accounts touched.
func (a *Applier) recordBankPayouts(ctx context.Context, tx pgx.Tx, waiting []awaitingPayout, posted []string,
	touched map[string]bool) error {
	now := map[string]bool{}
	for _, k := range posted {
		now[k] = true
	}
	for _, w := range waiting {
		e := w.entry
		if !now[e.IdempotencyKey] {
			continue
		}
		p, rest, _ := strings.Cut(e.IdempotencyKey, ":")
		acc, _, _ := strings.Cut(rest, ":")
		text := func(k string) string { v, _ := e.Metadata[k].(string); return v }
		bp := checks.BankPayout{Key: e.IdempotencyKey, PaymentNumber: text(posting.RefPaymentNumber),
			PaidAt: w.times.paidAt}
		bp.Provider, bp.Account, bp.IBAN = p, acc, events.NormalizeIBAN(text("iban"))
		bp.TransactionID, bp.SettlementID, bp.BatchID, bp.TrackID = text("transaction_id"), text("settlement_id"),
			text("batch_id"), text("track_id")
		bp.Amount, bp.Currency = e.Postings[1].Amount, e.Postings[1].Account.Currency
		if bp.PaidAt.IsZero() {
			bp.PaidAt = e.EffectiveAt
		}
		created := w.times.created
		if created.IsZero() && bp.TransactionID != "" {
			// When its statement item took the money out of the wallet, if that has been applied.
			key := posting.StatementKey(events.StatementItem{Provider: p, Account: acc, ItemID: bp.TransactionID})
			err := tx.QueryRow(ctx, `SELECT effective_at FROM ledger.entries WHERE idempotency_key = $1`, key).Scan(&created)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("find when payout %s was requested: %w", bp.Key, err)
			}
		}
		a.cfg.Bank.BankPayoutDays(&bp, created)
		if _, err := tx.Exec(ctx, `
			INSERT INTO recon.bank_payouts (payout_key, provider, account, iban, currency, amount, transaction_id,
				settlement_id, batch_id, track_id, payment_number, paid_at, paid_day, window_from, due_day, status, event_id)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, ''), nullif($8, ''), nullif($9, ''), nullif($10, ''),
				nullif($11, ''), $12, $13, $14, $15, 'unconfirmed', $16)
			ON CONFLICT (payout_key) DO NOTHING`,
			bp.Key, bp.Provider, bp.Account, bp.IBAN, bp.Currency, bp.Amount, bp.TransactionID, bp.SettlementID,
			bp.BatchID, bp.TrackID, bp.PaymentNumber, bp.PaidAt, bp.PaidDay, bp.WindowFrom, bp.DueDay,
			text("event_id")); err != nil {
			return fmt.Errorf("record payout %s awaiting bank %s: %w", bp.Key, bp.IBAN, err)
		}
		touched[bp.IBAN] = true
	}
	return nil
}

// applyBank applies a batch's bank facts in the order they came — a statement's opening balance, its lines,
// its closing balance — and marks their bank accounts touched.
func (a *Applier) applyBank(ctx context.Context, tx pgx.Tx, facts []bankFact, touched map[string]bool, out *Result) ([]checks.Result, error) {
	var results []checks.Result
	var pending []bankFact       // lines not yet posted: posted together before the next balance
	known := map[string]string{} // iban → currency of its recon.bank_accounts row
	flush := func() error {
		n, err := a.postBankLines(ctx, tx, pending)
		out.Entries += n
		pending = pending[:0]
		return err
	}
	for _, f := range facts {
		var iban, currency, provider string
		if f.line != nil {
			if err := f.line.Validate(); err != nil {
				return nil, &FactError{EventID: f.eventID, Err: err}
			}
			iban, currency, provider = f.line.IBAN, f.line.Currency, f.line.Provider
		} else {
			if err := f.balance.Validate(); err != nil {
				return nil, &FactError{EventID: f.eventID, Err: err}
			}
			iban, currency, provider = f.balance.IBAN, f.balance.Currency, f.balance.Provider
		}
		touched[iban] = true
		if _, ok := known[iban]; !ok {
			var cur string
			err := tx.QueryRow(ctx, `
				WITH ins AS (INSERT INTO recon.bank_accounts (iban, provider, currency) VALUES ($1, $2, $3)
					ON CONFLICT (iban) DO NOTHING RETURNING currency)
				SELECT currency FROM ins UNION ALL SELECT currency FROM recon.bank_accounts WHERE iban = $1`,
				iban, provider, currency).Scan(&cur)
			if err != nil {
				return nil, fmt.Errorf("record bank account %s: %w", iban, err)
			}
			known[iban] = cur
		}
		if known[iban] != currency {
			return nil, &FactError{EventID: f.eventID, Err: fmt.Errorf("bank account %s is kept in %s; this fact is in %s",
				iban, known[iban], currency)}
		}
		if f.line != nil {
			pending = append(pending, f)
			continue
		}
		if err := flush(); err != nil {
			return nil, err
		}
		r, n, err := a.applyBankBalance(ctx, tx, *f.balance, f.eventID)
		if err != nil {
			return nil, err
		}
		out.Entries += n
		if r != nil {
			results = append(results, *r)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return results, nil
}

// postBankLines records new lines in recon.bank_lines and posts each one's entry. A line recorded before (the
// same line in another statement) posts nothing.
func (a *Applier) postBankLines(ctx context.Context, tx pgx.Tx, lines []bankFact) (int, error) {
	var entries []ledger.Entry
	for _, f := range lines {
		l := f.line
		like := l.Amount.IsPositive() && a.cfg.Bank.PayoutPattern.MatchString(strings.Join([]string{l.Description,
			l.EndToEndID, l.BankReference, l.EntryReference, l.CounterpartyName}, "\n"))
		tag, err := tx.Exec(ctx, `
			INSERT INTO recon.bank_lines (iban, line_id, provider, currency, booking_date, value_date, booked_at, amount,
				end_to_end_id, bank_reference, entry_reference, description, counterparty_iban, counterparty_name,
				statement_id, file, line_no, event_id, payout_like)
			VALUES ($1, $2, $3, $4, $5, nullif($6, '')::date, $7, $8, nullif($9, ''), nullif($10, ''), nullif($11, ''),
				nullif($12, ''), nullif($13, ''), nullif($14, ''), nullif($15, ''), nullif($16, ''), nullif($17, 0), $18, $19)
			ON CONFLICT (iban, line_id) DO NOTHING`,
			l.IBAN, l.LineID, l.Provider, l.Currency, l.BookingDate, l.ValueDate, l.BookedAt, l.Amount,
			l.EndToEndID, l.BankReference, l.EntryReference, l.Description, events.NormalizeIBAN(l.CounterpartyIBAN),
			l.CounterpartyName, l.StatementID, l.File, l.Line, f.eventID, like)
		if err != nil {
			return 0, fmt.Errorf("record bank line %s of %s: %w", l.LineID, l.IBAN, err)
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		entries = append(entries, posting.BankLine(*l, f.eventID))
	}
	if len(entries) == 0 {
		return 0, nil
	}
	lr, err := ledger.Apply(ctx, tx, entries)
	if err != nil {
		return 0, fmt.Errorf("post %d bank lines: %w", len(entries), err)
	}
	return len(lr.Posted), nil
}

// applyBankBalance applies a statement's balance: the first balance stated of an account (normally the first
// statement's opening balance) opens the ledger's bank account at it (no alert); every other is compared with
// the ledger's at the same moment. A closing balance also moves how far the account's statements reach.
func (a *Applier) applyBankBalance(ctx context.Context, tx pgx.Tx, b events.BankBalance, eventID string) (*checks.Result, int, error) {
	bank := posting.BankAccount(b.IBAN, b.Currency)
	posted := 0
	if b.Kind == events.BankBalanceClosing {
		if _, err := tx.Exec(ctx, `
			UPDATE recon.bank_accounts SET covered_from = least(covered_from, $2::date),
				covered_through = greatest(covered_through, $3::date), updated_at = now()
			WHERE iban = $1 AND (covered_from IS NULL OR covered_from > $2::date
			                     OR covered_through IS NULL OR covered_through < $3::date)`, b.IBAN, b.From, b.To); err != nil {
			return nil, 0, fmt.Errorf("record how far %s's statements reach: %w", b.IBAN, err)
		}
	}
	outcome := "NOT_STATED"
	var ledgerBal, diff *decimal.Decimal
	var res *checks.Result
	if b.Amount != nil {
		at := b.At.Add(-time.Microsecond)
		var opened *time.Time
		if err := tx.QueryRow(ctx, `SELECT opened_on FROM recon.bank_accounts WHERE iban = $1`, b.IBAN).Scan(&opened); err != nil {
			return nil, 0, fmt.Errorf("read bank account %s: %w", b.IBAN, err)
		}
		bal, err := ledger.BalanceAt(ctx, tx, bank.Code, at)
		if errors.Is(err, ledger.ErrUnknownAccount) {
			bal, err = decimal.Zero, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if opened == nil {
			// The first balance a statement states: the ledger's bank account starts at what the bank says it
			// held (less what lines of statements that stated no balance have moved it already).
			if e, ok := posting.BankOpening(b, b.Amount.Sub(bal), eventID); ok {
				lr, err := ledger.Apply(ctx, tx, []ledger.Entry{e})
				if err != nil {
					return nil, 0, fmt.Errorf("open bank account %s: %w", b.IBAN, err)
				}
				posted = len(lr.Posted)
			}
			if _, err := tx.Exec(ctx, `UPDATE recon.bank_accounts SET opened_on = $2, updated_at = now() WHERE iban = $1`,
				b.IBAN, b.Date); err != nil {
				return nil, 0, fmt.Errorf("record opening of %s: %w", b.IBAN, err)
			}
			outcome, bal = "OPENED", *b.Amount
		} else {
			r := checks.BankBalance(b.IBAN, b.Kind, b.Date, b.StatementID, b.Currency, *b.Amount, bal)
			r.EventID, r.WindowEnd = eventID, b.At
			res = &r
			outcome = string(r.Outcome)
		}
		d := bal.Sub(*b.Amount)
		ledgerBal, diff = &bal, &d
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO recon.bank_balances (event_id, iban, provider, currency, statement_id, kind, day, at, reported, ledger,
			difference, outcome, covers_from, covers_to, file)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10, $11, $12, $13, $14, nullif($15, ''))
		ON CONFLICT (event_id) DO NOTHING`,
		eventID, b.IBAN, b.Provider, b.Currency, b.StatementID, b.Kind, b.Date, b.At, b.Amount, ledgerBal, diff, outcome,
		b.From, b.To, b.File); err != nil {
		return nil, 0, fmt.Errorf("record %s balance of %s: %w", b.Kind, b.IBAN, err)
	}
	return res, posted, nil
}

// matchBank matches the payouts awaiting each of ibans with their credits, posts the confirmations and
// returns what the matches resolve and raise.
func (a *Applier) matchBank(ctx context.Context, tx pgx.Tx, ibans []string, out *Result) ([]checks.Result, error) {
	var results []checks.Result
	var entries []ledger.Entry
	for _, iban := range ibans {
		payouts, err := a.awaitingPayouts(ctx, tx, iban)
		if err != nil || len(payouts) == 0 {
			if err != nil {
				return nil, err
			}
			continue
		}
		from, to := payouts[0].WindowFrom, payouts[0].DueDay
		for _, p := range payouts {
			from, to = minTime(from, p.WindowFrom), maxTime(to, p.DueDay)
		}
		rows, err := tx.Query(ctx, `
			SELECT line_id, booking_date, amount, currency, coalesce(end_to_end_id, ''), coalesce(bank_reference, ''),
				coalesce(entry_reference, ''), coalesce(description, ''), booked_at
			FROM recon.bank_lines
			WHERE iban = $1 AND payout_key IS NULL AND amount > 0 AND booking_date BETWEEN $2::date AND $3::date`,
			iban, from.AddDate(0, 0, -ibanMatchMargin), to.AddDate(0, 0, ibanMatchMargin))
		if err != nil {
			return nil, fmt.Errorf("read the open credits of %s: %w", iban, err)
		}
		booked := map[string]time.Time{}
		var credits []checks.BankCredit
		for rows.Next() {
			c := checks.BankCredit{IBAN: iban}
			var at time.Time
			if err := rows.Scan(&c.LineID, &c.BookingDate, &c.Amount, &c.Currency, &c.EndToEndID, &c.BankReference,
				&c.EntryReference, &c.Description, &at); err != nil {
				rows.Close()
				return nil, err
			}
			booked[c.LineID] = at
			credits = append(credits, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, m := range checks.MatchBankCredits(payouts, credits) {
			p, c := m.Payout, m.Credit
			if _, err := tx.Exec(ctx, `
				UPDATE recon.bank_payouts SET status = 'matched', line_id = $2, rule = $3, credited = $4, difference = $5,
					matched_at = now(), updated_at = now()
				WHERE payout_key = $1`, p.Key, c.LineID, m.Rule, c.Amount, m.Difference()); err != nil {
				return nil, fmt.Errorf("match payout %s with line %s: %w", p.Key, c.LineID, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE recon.bank_lines SET payout_key = $3 WHERE iban = $1 AND line_id = $2`,
				iban, c.LineID, p.Key); err != nil {
				return nil, fmt.Errorf("match line %s with payout %s: %w", c.LineID, p.Key, err)
			}
			amount := decimal.Min(p.Amount, c.Amount)
			entries = append(entries, posting.PayoutConfirmed(p.Key, p.Provider, p.Account, iban, p.Currency, c.LineID,
				amount, maxTime(booked[c.LineID], p.PaidAt), map[string]any{"transaction_id": p.TransactionID,
					"settlement_id": p.SettlementID, "track_id": p.TrackID, "rule": m.Rule, "credited": c.Amount.String()}))
			results = append(results, checks.BankCreditArrived(m)...)
			if !m.Difference().IsZero() {
				results = append(results, checks.BankAmountDiffers(m))
			}
		}
	}
	if len(entries) > 0 {
		lr, err := ledger.Apply(ctx, tx, entries)
		if err != nil {
			return nil, fmt.Errorf("post %d confirmed payouts: %w", len(entries), err)
		}
		out.Entries += len(lr.Posted)
	}
	return results, nil
}

// awaitingPayouts are the payouts to iban no credit has met yet.
func (a *Applier) awaitingPayouts(ctx context.Context, tx pgx.Tx, iban string) ([]checks.BankPayout, error) {
	rows, err := tx.Query(ctx, `
		SELECT payout_key, provider, account, iban, currency, amount, coalesce(transaction_id, ''),
			coalesce(settlement_id, ''), coalesce(batch_id, ''), coalesce(track_id, ''), coalesce(payment_number, ''),
			paid_at, paid_day, window_from, due_day
		FROM recon.bank_payouts WHERE iban = $1 AND status = 'unconfirmed'`, iban)
	if err != nil {
		return nil, fmt.Errorf("read the payouts awaiting %s: %w", iban, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (checks.BankPayout, error) {
		var p checks.BankPayout
		err := r.Scan(&p.Key, &p.Provider, &p.Account, &p.IBAN, &p.Currency, &p.Amount, &p.TransactionID,
			&p.SettlementID, &p.BatchID, &p.TrackID, &p.PaymentNumber, &p.PaidAt, &p.PaidDay, &p.WindowFrom, &p.DueDay)
		return p, err
	})
}

// judgeBank judges what the bank's statements say by now, for ibans (nil: every followed bank account): the
// payouts their statements have passed the due day of without a credit, and the payout-like credits nothing
// explains once every payout feed has been applied past their day. Each is alerted once.
func (a *Applier) judgeBank(ctx context.Context, tx pgx.Tx, ibans []string) ([]checks.Result, error) {
	all := ibans == nil
	rows, err := tx.Query(ctx, `
		SELECT p.payout_key, p.provider, p.account, p.iban, p.currency, p.amount, coalesce(p.transaction_id, ''),
			coalesce(p.settlement_id, ''), coalesce(p.batch_id, ''), coalesce(p.track_id, ''),
			coalesce(p.payment_number, ''), p.paid_at, p.paid_day, p.window_from, p.due_day, b.covered_from,
			b.covered_through
		FROM recon.bank_payouts p JOIN recon.bank_accounts b ON b.iban = p.iban
		WHERE p.status = 'unconfirmed' AND p.missing_at IS NULL AND ($1 OR p.iban = ANY($2))
		  AND b.covered_through >= p.due_day AND b.covered_from <= p.paid_day
		ORDER BY p.paid_at, p.payout_key`, all, ibans)
	if err != nil {
		return nil, fmt.Errorf("find payouts missing at their bank: %w", err)
	}
	type missing struct {
		p          checks.BankPayout
		from, thru time.Time
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (missing, error) {
		var m missing
		p := &m.p
		err := r.Scan(&p.Key, &p.Provider, &p.Account, &p.IBAN, &p.Currency, &p.Amount, &p.TransactionID,
			&p.SettlementID, &p.BatchID, &p.TrackID, &p.PaymentNumber, &p.PaidAt, &p.PaidDay, &p.WindowFrom, &p.DueDay,
			&m.from, &m.thru)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("find payouts missing at their bank: %w", err)
	}
	var results []checks.Result
	for _, m := range ms {
		r := checks.BankCreditMissing(m.p, m.from, m.thru)
		if r.Outcome != checks.Mismatch {
			continue
		}
		// A reconciler that matched it meanwhile wins: only a payout still unconfirmed is marked, and alerted.
		tag, err := tx.Exec(ctx, `UPDATE recon.bank_payouts SET missing_at = now(), updated_at = now()
			WHERE payout_key = $1 AND status = 'unconfirmed' AND missing_at IS NULL`, m.p.Key)
		if err != nil {
			return nil, fmt.Errorf("mark payout %s missing: %w", m.p.Key, err)
		}
		if tag.RowsAffected() == 1 {
			results = append(results, r)
		}
	}
	through, complete, err := payoutFeedsThrough(ctx, tx)
	if err != nil || !complete {
		return results, err
	}
	rows, err = tx.Query(ctx, `
		SELECT l.iban, l.line_id, l.booking_date, l.amount, l.currency, coalesce(l.end_to_end_id, ''),
			coalesce(l.bank_reference, ''), coalesce(l.entry_reference, ''), coalesce(l.description, '')
		FROM recon.bank_lines l
		WHERE l.payout_like AND l.payout_key IS NULL AND l.unexpected_at IS NULL AND l.amount > 0
		  AND ($1 OR l.iban = ANY($2))
		ORDER BY l.iban, l.booking_date, l.line_id`, all, ibans)
	if err != nil {
		return nil, fmt.Errorf("find unexplained payout-like credits: %w", err)
	}
	credits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (checks.BankCredit, error) {
		var c checks.BankCredit
		err := r.Scan(&c.IBAN, &c.LineID, &c.BookingDate, &c.Amount, &c.Currency, &c.EndToEndID, &c.BankReference,
			&c.EntryReference, &c.Description)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find unexplained payout-like credits: %w", err)
	}
	cal := a.cfg.Bank.Calendar
	for _, c := range credits {
		// Every payout reported done by the end of the credit's day has been applied: none of them is it.
		if through != nil && through.Before(cal.Start(c.BookingDate.AddDate(0, 0, 1))) {
			continue
		}
		tag, err := tx.Exec(ctx, `UPDATE recon.bank_lines SET unexpected_at = now()
			WHERE iban = $1 AND line_id = $2 AND payout_key IS NULL AND unexpected_at IS NULL`, c.IBAN, c.LineID)
		if err != nil {
			return nil, fmt.Errorf("mark line %s unexpected: %w", c.LineID, err)
		}
		if tag.RowsAffected() == 1 {
			results = append(results, checks.BankCreditUnexpected(c))
		}
	}
	return results, nil
}

// payoutFeedsThrough is how far every source's payout feeds (settlements, batches) have been applied: the
// least of their watermarks, each trusted only once the event it vouches for is applied. The feeds to wait for
// are those registered with their sources (recon.source_feeds) and any whose watermark has been seen: with
// parallel workers a bank statement may be applied before a provider's first payout watermark, so the
// watermarks seen so far cannot tell which feeds exist. complete is false while one of them has not been
// applied (nothing can be judged yet); through is nil when no source has a payout feed (a credit nothing
// explains can be judged at once).
func payoutFeedsThrough(ctx context.Context, tx pgx.Tx) (through *time.Time, complete bool, err error) {
	var pending bool
	err = tx.QueryRow(ctx, `
		WITH feeds AS (
			SELECT provider, account, feed FROM recon.source_feeds WHERE feed = ANY($1)
			UNION
			SELECT provider, account, feed FROM recon.watermarks WHERE feed = ANY($1)
		)
		SELECT min(w.through),
			coalesce(bool_or(w.through IS NULL OR NOT (w.last_event IS NULL OR w.last_event = ''
			     OR EXISTS (SELECT 1 FROM recon.processed_events p WHERE p.event_id = w.last_event))), false)
		FROM feeds f
		LEFT JOIN recon.watermarks w ON w.provider = f.provider AND w.account = f.account AND w.feed = f.feed`,
		[]string{events.FeedSettlements, events.FeedBatches}).Scan(&through, &pending)
	if err != nil {
		return nil, false, fmt.Errorf("read the payout feeds' watermarks: %w", err)
	}
	return through, !pending, nil
}

// bankStaleness warns about each followed bank account whose statements have stopped reaching further.
func (a *Applier) bankStaleness(ctx context.Context, tx pgx.Tx, now time.Time) ([]checks.Result, error) {
	rows, err := tx.Query(ctx, `SELECT iban, covered_through FROM recon.bank_accounts WHERE covered_through IS NOT NULL ORDER BY iban`)
	if err != nil {
		return nil, fmt.Errorf("read bank accounts: %w", err)
	}
	type acct struct {
		iban string
		thru time.Time
	}
	accts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (acct, error) {
		var a acct
		return a, r.Scan(&a.iban, &a.thru)
	})
	if err != nil {
		return nil, fmt.Errorf("read bank accounts: %w", err)
	}
	var results []checks.Result
	cal := a.cfg.Bank.Calendar
	for _, ac := range accts {
		results = append(results, checks.BankStatementStale(ac.iban, ac.thru, cal.Start(ac.thru), now, a.cfg.Bank.StatementMaxAge))
	}
	return results, nil
}

// bankReturn notes that a payout awaiting its bank's credit came back before the bank showed it: it is no
// longer expected. It returns the result that resolves an alert of it missing, if it was awaited.
func bankReturn(ctx context.Context, tx pgx.Tx, provider, account, transactionID string) ([]checks.Result, error) {
	key := posting.PayoutDoneKey(provider, account, transactionID, "")
	var p checks.BankPayout
	err := tx.QueryRow(ctx, `
		UPDATE recon.bank_payouts SET status = 'returned', updated_at = now()
		WHERE payout_key = $1 AND status = 'unconfirmed'
		RETURNING payout_key, provider, account, iban, amount, currency, coalesce(transaction_id, ''),
			coalesce(settlement_id, ''), coalesce(batch_id, '')`, key).
		Scan(&p.Key, &p.Provider, &p.Account, &p.IBAN, &p.Amount, &p.Currency, &p.TransactionID, &p.SettlementID, &p.BatchID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mark payout %s returned: %w", key, err)
	}
	return []checks.Result{{Check: checks.CheckBankCreditMissing, Subject: checks.PayoutSubject(p.Payout),
		Outcome: checks.OK, DedupKey: checks.CheckBankCreditMissing + ":" + checks.PayoutSubject(p.Payout),
		Details: map[string]any{"iban": p.IBAN, "returned": true}}}, nil
}

// paidToNow is where a payout's money is now, for a return of a payout reported paid (posting.Returned): the
// bank account it was paid to, or — for a bank account whose statements mizan reads — payouts_unconfirmed
// while the bank has not shown it, and the bank account's unidentified account once it has (the bank's own
// line taking the money back out posts there).
func paidToNow(ctx context.Context, tx pgx.Tx, provider, account, iban, currency, doneKey string, awaited bool) (ledger.Account, error) {
	if !awaited {
		return posting.Bank(provider, account, iban, currency), nil
	}
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM recon.bank_payouts WHERE payout_key = $1`, doneKey).Scan(&status)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return ledger.Account{}, fmt.Errorf("read payout %s: %w", doneKey, err)
	}
	if status == "matched" {
		return posting.BankUnidentified(iban, currency), nil
	}
	return posting.PayoutsUnconfirmed(provider, account, iban, currency), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
