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

	"github.com/mizanhq/mizan/internal/apply/applydb"
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
		if err := applydb.New(tx).LockBank(ctx, bankLockKey+iban); err != nil {
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
	found, err := applydb.New(tx).FollowedBanks(ctx, ibans)
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
			at, err := applydb.New(tx).EntryEffectiveAt(ctx, key)
			if err == nil {
				created = at
			}
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("find when payout %s was requested: %w", bp.Key, err)
			}
		}
		a.cfg.Bank.BankPayoutDays(&bp, created)
		if err := applydb.New(tx).RecordBankPayout(ctx, applydb.RecordBankPayoutParams{PayoutKey: bp.Key,
			Provider: bp.Provider, Account: bp.Account, Iban: bp.IBAN, Currency: bp.Currency, Amount: bp.Amount,
			TransactionID: bp.TransactionID, SettlementID: bp.SettlementID, BatchID: bp.BatchID, TrackID: bp.TrackID,
			PaymentNumber: bp.PaymentNumber, PaidAt: bp.PaidAt, PaidDay: bp.PaidDay, WindowFrom: bp.WindowFrom,
			DueDay: bp.DueDay, EventID: text("event_id")}); err != nil {
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
			cur, err := applydb.New(tx).RecordBankAccount(ctx, applydb.RecordBankAccountParams{Iban: iban,
				Provider: provider, Currency: currency})
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
	q := applydb.New(tx)
	for _, f := range lines {
		l := f.line
		like := l.Amount.IsPositive() && a.cfg.Bank.PayoutPattern.MatchString(strings.Join([]string{l.Description,
			l.EndToEndID, l.BankReference, l.EntryReference, l.CounterpartyName}, "\n"))
		n, err := q.RecordBankLine(ctx, applydb.RecordBankLineParams{Iban: l.IBAN, LineID: l.LineID,
			Provider: l.Provider, Currency: l.Currency, BookingDate: l.BookingDate, ValueDate: l.ValueDate,
			BookedAt: l.BookedAt, Amount: l.Amount, EndToEndID: l.EndToEndID, BankReference: l.BankReference,
			EntryReference: l.EntryReference, Description: l.Description,
			CounterpartyIban: events.NormalizeIBAN(l.CounterpartyIBAN), CounterpartyName: l.CounterpartyName,
			StatementID: l.StatementID, File: l.File, LineNo: int32(l.Line), EventID: f.eventID, PayoutLike: like})
		if err != nil {
			return 0, fmt.Errorf("record bank line %s of %s: %w", l.LineID, l.IBAN, err)
		}
		if n == 0 {
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
	q := applydb.New(tx)
	if b.Kind == events.BankBalanceClosing {
		if err := q.CoverBankStatement(ctx, applydb.CoverBankStatementParams{Iban: b.IBAN, CoversFrom: b.From,
			CoversTo: b.To}); err != nil {
			return nil, 0, fmt.Errorf("record how far %s's statements reach: %w", b.IBAN, err)
		}
	}
	outcome := "NOT_STATED"
	var ledgerBal, diff *decimal.Decimal
	var res *checks.Result
	if b.Amount != nil {
		at := b.At.Add(-time.Microsecond)
		opened, err := q.BankOpenedOn(ctx, b.IBAN)
		if err != nil {
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
			if err := q.OpenBankAccount(ctx, applydb.OpenBankAccountParams{Iban: b.IBAN, OpenedOn: b.Date}); err != nil {
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
	if err := q.RecordBankBalance(ctx, applydb.RecordBankBalanceParams{EventID: eventID, Iban: b.IBAN,
		Provider: b.Provider, Currency: b.Currency, StatementID: b.StatementID, Kind: b.Kind, Day: b.Date, At: b.At,
		Reported: b.Amount, Ledger: ledgerBal, Difference: diff, Outcome: outcome, CoversFrom: b.From, CoversTo: b.To,
		File: b.File}); err != nil {
		return nil, 0, fmt.Errorf("record %s balance of %s: %w", b.Kind, b.IBAN, err)
	}
	return res, posted, nil
}

// matchBank matches the payouts awaiting each of ibans with their credits, posts the confirmations and
// returns what the matches resolve and raise.
func (a *Applier) matchBank(ctx context.Context, tx pgx.Tx, ibans []string, out *Result) ([]checks.Result, error) {
	var results []checks.Result
	var entries []ledger.Entry
	q := applydb.New(tx)
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
		open, err := q.OpenCredits(ctx, applydb.OpenCreditsParams{Iban: iban,
			FromDay: from.AddDate(0, 0, -ibanMatchMargin), ToDay: to.AddDate(0, 0, ibanMatchMargin)})
		if err != nil {
			return nil, fmt.Errorf("read the open credits of %s: %w", iban, err)
		}
		booked := map[string]time.Time{}
		var credits []checks.BankCredit
		for _, r := range open {
			booked[r.LineID] = r.BookedAt
			credits = append(credits, checks.BankCredit{IBAN: iban, LineID: r.LineID, BookingDate: r.BookingDate,
				Amount: r.Amount, Currency: r.Currency, EndToEndID: r.EndToEndID, BankReference: r.BankReference,
				EntryReference: r.EntryReference, Description: r.Description})
		}
		for _, m := range checks.MatchBankCredits(payouts, credits) {
			p, c := m.Payout, m.Credit
			if err := q.MatchPayout(ctx, applydb.MatchPayoutParams{PayoutKey: p.Key, LineID: c.LineID, Rule: m.Rule,
				Credited: c.Amount, Difference: m.Difference()}); err != nil {
				return nil, fmt.Errorf("match payout %s with line %s: %w", p.Key, c.LineID, err)
			}
			if err := q.MatchLine(ctx, applydb.MatchLineParams{Iban: iban, LineID: c.LineID, PayoutKey: p.Key}); err != nil {
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
	rows, err := applydb.New(tx).AwaitingPayouts(ctx, iban)
	if err != nil {
		return nil, fmt.Errorf("read the payouts awaiting %s: %w", iban, err)
	}
	out := make([]checks.BankPayout, len(rows))
	for i, r := range rows {
		out[i] = bankPayout(r.PayoutKey, r.Provider, r.Account, r.Iban, r.Currency, r.Amount, r.TransactionID,
			r.SettlementID, r.BatchID, r.TrackID, r.PaymentNumber, r.PaidAt, r.PaidDay, r.WindowFrom, r.DueDay)
	}
	return out, nil
}

// bankPayout is a recon.bank_payouts row as the checks take it.
func bankPayout(key, provider, account, iban, currency string, amount decimal.Decimal, transactionID, settlementID,
	batchID, trackID, paymentNumber string, paidAt, paidDay, windowFrom, dueDay time.Time) checks.BankPayout {
	p := checks.BankPayout{Key: key, PaymentNumber: paymentNumber, PaidAt: paidAt, PaidDay: paidDay,
		WindowFrom: windowFrom, DueDay: dueDay}
	p.Provider, p.Account, p.IBAN, p.Currency, p.Amount = provider, account, iban, currency, amount
	p.TransactionID, p.SettlementID, p.BatchID, p.TrackID = transactionID, settlementID, batchID, trackID
	return p
}

// judgeBank judges what the bank's statements say by now, for ibans (nil: every followed bank account): the
// payouts their statements have passed the due day of without a credit, and the payout-like credits nothing
// explains once every payout feed has been applied past their day. Each is alerted once.
func (a *Applier) judgeBank(ctx context.Context, tx pgx.Tx, ibans []string) ([]checks.Result, error) {
	all := ibans == nil
	q := applydb.New(tx)
	ms, err := q.MissingPayouts(ctx, applydb.MissingPayoutsParams{AllIbans: all, Ibans: ibans})
	if err != nil {
		return nil, fmt.Errorf("find payouts missing at their bank: %w", err)
	}
	var results []checks.Result
	for _, m := range ms {
		p := bankPayout(m.PayoutKey, m.Provider, m.Account, m.Iban, m.Currency, m.Amount, m.TransactionID,
			m.SettlementID, m.BatchID, m.TrackID, m.PaymentNumber, m.PaidAt, m.PaidDay, m.WindowFrom, m.DueDay)
		r := checks.BankCreditMissing(p, m.CoveredFrom, m.CoveredThrough)
		if r.Outcome != checks.Mismatch {
			continue
		}
		// A reconciler that matched it meanwhile wins: only a payout still unconfirmed is marked, and alerted.
		n, err := q.MarkPayoutMissing(ctx, p.Key)
		if err != nil {
			return nil, fmt.Errorf("mark payout %s missing: %w", p.Key, err)
		}
		if n == 1 {
			results = append(results, r)
		}
	}
	through, complete, err := payoutFeedsThrough(ctx, tx)
	if err != nil || !complete {
		return results, err
	}
	rows, err := q.UnexplainedCredits(ctx, applydb.UnexplainedCreditsParams{AllIbans: all, Ibans: ibans})
	if err != nil {
		return nil, fmt.Errorf("find unexplained payout-like credits: %w", err)
	}
	cal := a.cfg.Bank.Calendar
	for _, r := range rows {
		c := checks.BankCredit{IBAN: r.Iban, LineID: r.LineID, BookingDate: r.BookingDate, Amount: r.Amount,
			Currency: r.Currency, EndToEndID: r.EndToEndID, BankReference: r.BankReference,
			EntryReference: r.EntryReference, Description: r.Description}
		// Every payout reported done by the end of the credit's day has been applied: none of them is it.
		if through != nil && through.Before(cal.Start(c.BookingDate.AddDate(0, 0, 1))) {
			continue
		}
		n, err := q.MarkLineUnexpected(ctx, applydb.MarkLineUnexpectedParams{Iban: c.IBAN, LineID: c.LineID})
		if err != nil {
			return nil, fmt.Errorf("mark line %s unexpected: %w", c.LineID, err)
		}
		if n == 1 {
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
	row, err := applydb.New(tx).PayoutFeedsThrough(ctx, []string{events.FeedSettlements, events.FeedBatches})
	if err != nil {
		return nil, false, fmt.Errorf("read the payout feeds' watermarks: %w", err)
	}
	if row.Feeds == 0 {
		return nil, true, nil
	}
	return &row.Through, !row.Pending, nil
}

// bankStaleness warns about each followed bank account whose statements have stopped reaching further.
func (a *Applier) bankStaleness(ctx context.Context, tx pgx.Tx, now time.Time) ([]checks.Result, error) {
	accts, err := applydb.New(tx).CoveredBankAccounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read bank accounts: %w", err)
	}
	var results []checks.Result
	cal := a.cfg.Bank.Calendar
	for _, ac := range accts {
		results = append(results, checks.BankStatementStale(ac.Iban, ac.CoveredThrough, cal.Start(ac.CoveredThrough), now,
			a.cfg.Bank.StatementMaxAge))
	}
	return results, nil
}

// bankReturn notes that a payout awaiting its bank's credit came back before the bank showed it: it is no
// longer expected. It returns the result that resolves an alert of it missing, if it was awaited.
func bankReturn(ctx context.Context, tx pgx.Tx, provider, account, transactionID string) ([]checks.Result, error) {
	key := posting.PayoutDoneKey(provider, account, transactionID, "")
	r, err := applydb.New(tx).ReturnBankPayout(ctx, key)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mark payout %s returned: %w", key, err)
	}
	p := checks.BankPayout{Key: r.PayoutKey}
	p.Provider, p.Account, p.IBAN, p.Amount, p.Currency = r.Provider, r.Account, r.Iban, r.Amount, r.Currency
	p.TransactionID, p.SettlementID, p.BatchID = r.TransactionID, r.SettlementID, r.BatchID
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
	status, err := applydb.New(tx).BankPayoutStatus(ctx, doneKey)
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
