package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// The summary is written for the finance person who reads it: every wallet and bank account beside the
// provider's figure with the difference, amounts with thousands separators, what the signs mean, each
// planted discrepancy beside the alert it raised, and what sits in suspense and why. Its headings and the
// sign legend are constants, so the tests find them.
const (
	headingBalances  = "Ledger against provider: every wallet and bank account, in its own currency"
	headingPayouts   = "Payouts"
	headingRecords   = "The businesses' records against Vandar's statements (matching)"
	headingPlanted   = "Planted discrepancies and the alert each raised"
	headingOther     = "Other open alerts: nothing was planted for these"
	headingLedger    = "Every ledger account (ledger.balances)"
	legendDifference = "difference = provider - ledger: positive, the provider reports more than the ledger holds; negative, less."
	legendSigns      = "Signs: balances are debit-positive, as double entry keeps them. Assets and expenses (fees) show " +
		"positive. Income, equity and liabilities are credits and show negative: income:…:sales -1,000 is 1,000 of " +
		"sales; equity:…:cash_in -1,000 is 1,000 the owners put in; a refund is a debit to income, so " +
		"income:…:refunds is positive and reduces the sales."
)

// alert is one row of recon.alerts.
type alert struct {
	id                            int64
	kind, severity, subject, text string
	details                       map[string]any
	open, sent                    bool
}

// summary prints what the run did, each wallet in the ledger beside the provider's, the planted discrepancies
// beside their alerts and every ledger balance. It fails when the clean business disagrees with its provider,
// a planted discrepancy raised no alert, or the matching or bank alerts are not exactly the planted ones.
func summary(ctx context.Context, w io.Writer, dbURL string, sim *vandartest.Server, p plantings, banks []bankDrop,
	elapsed time.Duration) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var statementEvents, entries, postings int64
	err = conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM recon.processed_events WHERE topic LIKE '%statement%'),
		       (SELECT count(*) FROM ledger.entries),
		       (SELECT count(*) FROM ledger.postings)`).Scan(&statementEvents, &entries, &postings)
	if err != nil {
		return err
	}
	printTable(w, nil, []bool{false, false}, [][]string{
		{"statement items fetched and applied", group(statementEvents)},
		{"ledger entries posted", fmt.Sprintf("%s (%s postings)", group(entries), group(postings))},
		{"poll + reconcile took", elapsed.Round(time.Millisecond).String()},
	})

	alerts, err := readAlerts(ctx, conn)
	if err != nil {
		return err
	}
	agree, err := balancesTable(ctx, w, conn, alerts)
	if err != nil {
		return err
	}
	if err := payouts(ctx, w, conn); err != nil {
		return err
	}
	if err := records(ctx, w, conn, sim); err != nil {
		return err
	}
	missing, paired := plantedAlerts(w, p, banks, alerts)
	others := otherAlerts(w, alerts, paired)
	if err := ledgerBalances(ctx, w, conn); err != nil {
		return err
	}

	var problems []error
	if !agree["assets:vandar:acme:wallet"] {
		problems = append(problems, errors.New("the clean business's ledger does not agree with its provider"))
	}
	for _, m := range missing {
		problems = append(problems, fmt.Errorf("planted, but no alert: %s", m))
	}
	if err := checkMatchingAlerts(alerts, p); err != nil {
		problems = append(problems, err)
	}
	if err := checkBankAlerts(ctx, conn, banks); err != nil {
		problems = append(problems, err)
	}
	for _, a := range others {
		if a.kind != "payout_failed" {
			problems = append(problems, fmt.Errorf("an alert nothing was planted for: %s %s: %s", a.kind, a.subject, a.text))
		}
	}
	return errors.Join(problems...)
}

// balancesTable prints every provider wallet (each currency) and bank account beside the provider's last
// figure, and says which agree (by ledger account).
func balancesTable(ctx context.Context, w io.Writer, conn *pgx.Conn, alerts []alert) (map[string]bool, error) {
	// A wallet: the provider's last reported balance against the wallet account now (the poll read the
	// statement through the moment of that report). A bank account: the last closing balance a statement
	// stated, against the ledger's bank account, which only the statements' lines move. The ledger's figure is
	// the one ledger.balances shows below.
	rows, err := conn.Query(ctx, `
		WITH figures AS (
		    (SELECT DISTINCT ON (provider, account, currency)
		            'assets:' || provider || ':' || account || ':wallet'
		                || CASE WHEN currency = 'IRT' THEN '' ELSE ':' || lower(currency) END AS code,
		            currency, to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') AS as_of,
		            amount AS reported
		     FROM recon.balance_observations
		     ORDER BY provider, account, currency, observed_at DESC)
		    UNION ALL
		    -- YabandPay's deposit: a figure of the same report, held in an account of its own.
		    (SELECT DISTINCT ON (account, currency)
		            'assets:yabandpay:' || account || ':deposit:' || lower(currency), currency,
		            to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), (figures->>'deposit')::numeric
		     FROM recon.balance_observations WHERE provider = 'yabandpay' AND figures ? 'deposit'
		     ORDER BY account, currency, observed_at DESC)
		    UNION ALL
		    (SELECT DISTINCT ON (iban, currency)
		            'assets:bank:' || iban || ':cash', currency, 'statement of ' || day, reported
		     FROM recon.bank_balances WHERE kind = 'closing'
		     ORDER BY iban, currency, at DESC))
		SELECT f.code, f.currency, f.as_of, coalesce(b.balance, 0), f.reported
		FROM figures f LEFT JOIN ledger.balances b ON b.account = f.code
		ORDER BY f.code`)
	if err != nil {
		return nil, err
	}
	type row struct {
		code, currency, asOf string
		ledger               decimal.Decimal
		reported             decimal.NullDecimal
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.code, &x.currency, &x.asOf, &x.ledger, &x.reported)
	})
	if err != nil {
		return nil, err
	}
	section(w, headingBalances)
	agree := map[string]bool{}
	table := [][]string{}
	for _, x := range got {
		provider, difference, verdict := "not stated", "", "no figure to compare"
		if x.reported.Valid {
			d := x.reported.Decimal.Sub(x.ledger)
			provider, difference = money(x.reported.Decimal, x.currency), money(d, x.currency)
			agree[x.code] = d.IsZero()
			verdict = "AGREE"
			if !d.IsZero() {
				verdict = "DISAGREE"
			}
		}
		table = append(table, []string{x.code, x.currency, x.asOf, money(x.ledger, x.currency), provider, difference, verdict})
	}
	printTable(w, []string{"account", "currency", "provider's figure as of", "ledger", "provider", "difference", "verdict"},
		[]bool{false, false, false, true, true, true, false}, table)
	fmt.Fprintf(w, "  %s\n", legendDifference)
	// A wallet that disagrees has a balance alert saying how much of the difference the other open alerts (a
	// broken running balance, an item changed) explain.
	for _, x := range got {
		if ok, compared := agree[x.code]; ok || !compared {
			continue
		}
		parts := strings.Split(x.code, ":") // assets:<provider>:<account>:wallet
		if len(parts) != 4 || parts[3] != "wallet" {
			continue
		}
		subject := strings.Join(parts[1:], "/") + "/" + x.currency
		i := slices.IndexFunc(alerts, func(a alert) bool { return a.open && a.kind == "balance" && a.subject == subject })
		if i < 0 {
			fmt.Fprintf(w, "  %s: no balance alert explains the difference yet\n", x.code)
			continue
		}
		d, explained := detail(alerts[i], "difference"), detail(alerts[i], "explained_by_open_alerts")
		fmt.Fprintf(w, "  %s: of the %s, other open alerts below explain %s; %s is unexplained (the balance alert)\n",
			x.code, money(d, x.currency), money(explained, x.currency), money(d.Sub(explained), x.currency))
	}
	return agree, nil
}

// payouts says what happened to the money the businesses sent out of their Vandar wallets.
func payouts(ctx context.Context, w io.Writer, conn *pgx.Conn) error {
	var requested, paid, confirmed, failed, single, batches, snapshots int64
	err := conn.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM ledger.entries WHERE metadata->>'kind' = 'settlement'),
		       (SELECT count(*) FROM ledger.entries WHERE metadata->>'kind' = 'payout_done'),
		       (SELECT count(*) FROM ledger.entries WHERE metadata->>'kind' = 'payout_confirmed'),
		       (SELECT count(*) FROM recon.alerts WHERE kind = 'payout_failed' AND resolved_at IS NULL),
		       (SELECT count(*) FROM recon.settlements),
		       (SELECT count(DISTINCT subject) FROM recon.check_results WHERE check_name = 'batch'),
		       (SELECT count(*) FROM recon.balance_observations WHERE provider = 'yabandpay')`).
		Scan(&requested, &paid, &confirmed, &failed, &single, &batches, &snapshots)
	if err != nil {
		return err
	}
	section(w, headingPayouts)
	fmt.Fprintf(w, "  %s payouts left the Vandar wallets (single settlements and the items of %s batches): Vandar reports\n",
		group(requested), group(batches))
	fmt.Fprintf(w, "  %s of them paid into bank accounts, and %s failed or cancelled (each a payout_failed alert below).\n",
		group(paid), group(failed))
	fmt.Fprintf(w, "  The two bank statements read confirm %s of the paid ones as credited. Vandar's settlements feed\n",
		group(confirmed))
	fmt.Fprintf(w, "  reported the status of %s of them; each batch was checked as a whole. YabandPay's balances were read\n",
		group(single))
	fmt.Fprintf(w, "  %s (it reports balances only).\n", plural(snapshots, "time", "times"))
	return nil
}

// records says how the businesses' records (mizan.expected.v1) matched the statements.
func records(ctx context.Context, w io.Writer, conn *pgx.Conn, sim *vandartest.Server) error {
	section(w, headingRecords)
	for _, b := range sim.Businesses() {
		var total, orders, payoutReqs, refunds, matched, cancelled, notDue, wrong, unexplained int64
		err := conn.QueryRow(ctx, `
			SELECT count(*), count(*) FILTER (WHERE kind = 'payment'), count(*) FILTER (WHERE kind = 'payout'),
			       count(*) FILTER (WHERE kind = 'refund'),
			       count(*) FILTER (WHERE match_status = 'matched'),
			       count(*) FILTER (WHERE match_status = 'cancelled'),
			       count(*) FILTER (WHERE match_status = 'unmatched' AND expected_by > now()),
			       count(*) FILTER (WHERE match_status NOT IN ('matched', 'cancelled')
			                          AND NOT (match_status = 'unmatched' AND expected_by > now())),
			       (SELECT count(*) FROM recon.provider_lines
			        WHERE provider = 'vandar' AND account = $1 AND referenced AND NOT explained AND state = 'counted')
			FROM recon.expectations WHERE provider = 'vandar' AND account = $1`, b).
			Scan(&total, &orders, &payoutReqs, &refunds, &matched, &cancelled, &notDue, &wrong, &unexplained)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s: %s records (%s orders, %s payout requests, %s refunds)\n", b, group(total), group(orders),
			group(payoutReqs), group(refunds))
		fmt.Fprintf(w, "    %s matched by a statement line, %s cancelled (the payment or payout failed), %s not due yet,"+
			" %s wrong;\n    %s with a reference that no record explains\n",
			group(matched), group(cancelled), group(notDue), group(wrong), plural(unexplained, "statement line", "statement lines"))
	}
	return nil
}

func readAlerts(ctx context.Context, conn *pgx.Conn) ([]alert, error) {
	rows, err := conn.Query(ctx, `SELECT id, kind, severity, subject, summary, details, resolved_at IS NULL,
		open_sent_at IS NOT NULL FROM recon.alerts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (alert, error) {
		var a alert
		return a, r.Scan(&a.id, &a.kind, &a.severity, &a.subject, &a.text, &a.details, &a.open, &a.sent)
	})
}

// plantedAlerts prints each planted discrepancy beside the open alert it raised, and returns those that raised
// none and the ids of the alerts it paired.
func plantedAlerts(w io.Writer, p plantings, banks []bankDrop, alerts []alert) ([]string, map[int64]bool) {
	section(w, headingPlanted)
	var missing []string
	paired := map[int64]bool{}
	for _, f := range p.faults(banks) {
		fmt.Fprintf(w, "  - %s\n", f.what)
		i := slices.IndexFunc(alerts, func(a alert) bool { return a.open && !paired[a.id] && f.raised(a) })
		if i < 0 {
			fmt.Fprintln(w, "      NO ALERT")
			missing = append(missing, f.what)
			continue
		}
		fmt.Fprintf(w, "      → %s\n", describeAlert(alerts[i]))
		paired[alerts[i].id] = true
	}
	return missing, paired
}

// otherAlerts prints the open alerts no planted discrepancy explains and returns them.
func otherAlerts(w io.Writer, alerts []alert, paired map[int64]bool) []alert {
	var others []alert
	for _, a := range alerts {
		if a.open && !paired[a.id] {
			others = append(others, a)
		}
	}
	section(w, headingOther)
	if len(others) == 0 {
		fmt.Fprintln(w, "  (none)")
		return nil
	}
	fmt.Fprintln(w, "  The simulated month has payouts Vandar reports failed or cancelled, as a real one does:")
	for _, a := range others {
		fmt.Fprintf(w, "  - %s\n", describeAlert(a))
	}
	return others
}

func describeAlert(a alert) string {
	delivered := "sent to Slack"
	if !a.sent {
		delivered = "NOT sent to Slack"
	}
	return fmt.Sprintf("[%s] %s (%s): %s", a.severity, a.kind, delivered, a.text)
}

func detail(a alert, key string) decimal.Decimal {
	s, _ := a.details[key].(string)
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.NewFromInt(-1 << 62) // equals nothing a plant looks for
	}
	return d
}

// checkMatchingAlerts says whether matching raised exactly the four planted alerts, ever (none opened and
// resolved on the way), and nothing about the clean business.
func checkMatchingAlerts(alerts []alert, p plantings) error {
	var got []string
	for _, a := range alerts {
		switch a.kind {
		case matching.AlertUnpaid, matching.AlertPayoutMissing, matching.AlertAmountMismatch, matching.AlertPaidTwice,
			matching.AlertUnexpected:
			got = append(got, a.kind+" "+a.subject)
		}
	}
	slices.Sort(got)
	if want := p.records.Alerts(p.business); !slices.Equal(got, want) {
		return fmt.Errorf("matching raised %q; the planted records call for exactly %q", got, want)
	}
	return nil
}

// ledgerBalances prints every ledger account's balance, what the signs mean, and what sits in suspense.
func ledgerBalances(ctx context.Context, w io.Writer, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT account, type, currency, balance FROM ledger.balances ORDER BY account`)
	if err != nil {
		return err
	}
	type row struct {
		account, typ, currency string
		balance                decimal.Decimal
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.account, &x.typ, &x.currency, &x.balance)
	})
	if err != nil {
		return err
	}
	section(w, headingLedger)
	var table [][]string
	for _, x := range got {
		table = append(table, []string{x.account, x.typ, x.currency, money(x.balance, x.currency)})
	}
	printTable(w, []string{"account", "type", "currency", "balance"}, []bool{false, false, false, true}, table)
	fmt.Fprintln(w)
	wrap(w, legendSigns)

	// Suspense: what was posted there, by what kind of entry, and whether a person has cleared it.
	rows, err = conn.Query(ctx, `
		SELECT a.code, p.currency, coalesce(e.metadata->>'kind', 'adjustment'), count(*), sum(p.amount)
		FROM ledger.postings p JOIN ledger.accounts a ON a.id = p.account_id JOIN ledger.entries e ON e.id = p.entry_id
		WHERE a.code LIKE '%:suspense%'
		GROUP BY 1, 2, 3 ORDER BY 1, 3`)
	if err != nil {
		return err
	}
	type susp struct {
		account, currency, kind string
		n                       int64
		sum                     decimal.Decimal
	}
	lines, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (susp, error) {
		var x susp
		return x, r.Scan(&x.account, &x.currency, &x.kind, &x.n, &x.sum)
	})
	if err != nil {
		return err
	}
	for _, s := range lines {
		fmt.Fprintln(w)
		wrap(w, fmt.Sprintf("%s %s %s: %s", s.account, money(s.sum, s.currency), s.currency, suspenseMeaning(s.kind, s.n, s.sum, s.currency)))
	}
	return nil
}

// suspenseMeaning explains n postings of one kind of entry on a suspense account, summing to sum (debit
// positive: money put into suspense is a credit, negative).
func suspenseMeaning(kind string, n int64, sum decimal.Decimal, currency string) string {
	amount := money(sum.Abs(), currency) + " " + currency
	switch kind {
	case "correction":
		moved := "came into"
		if sum.IsPositive() {
			moved = "left"
		}
		return fmt.Sprintf("%s corrections Vandar made to the wallet, with no sale, payout or refund behind them: "+
			"net, %s %s the wallet. mizan cannot tell what they are for, so it holds them here rather than guess "+
			"(a credit, so negative: money the business holds but cannot yet account for). They are no discrepancy: "+
			"Vandar's statement shows them and its wallet includes them. An accountant clears them with an "+
			"adjustment once they know what each was "+
			"(analytics.suspense; docs/analysts.md, question 16).", group(n), amount, moved)
	case "yabandpay_snapshot":
		return fmt.Sprintf("%s changes of a YabandPay balance that no entry explains (YabandPay reports balances "+
			"only), net %s. An accountant clears them with an adjustment once they know what each was "+
			"(analytics.suspense).", group(n), amount)
	}
	return fmt.Sprintf("%s postings of %s entries, net %s. An accountant clears them with an adjustment once "+
		"they know what each was (analytics.suspense).", group(n), kind, amount)
}

// money renders an amount in its currency's unit with thousands separators: 12,728,741 IRT (tomans, whole),
// 7,571.40 EUR (cents).
func money(d decimal.Decimal, currency string) string {
	places := int32(2)
	if currency == "IRT" {
		places = 0
	}
	s := d.StringFixed(places)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return group(n) + " " + many
}

// group renders a count with thousands separators.
func group(n int64) string { return money(decimal.NewFromInt(n), "IRT") }

func section(w io.Writer, title string) { fmt.Fprintf(w, "\n  %s\n", title) }

// printTable prints rows in columns two spaces apart, right-aligning the columns right says.
func printTable(w io.Writer, header []string, right []bool, rows [][]string) {
	all := rows
	if header != nil {
		all = append([][]string{header}, rows...)
	}
	width := make([]int, len(right))
	for _, r := range all {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range all {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if right[i] {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// wrap prints text indented and wrapped at about 110 columns.
func wrap(w io.Writer, text string) {
	line := " "
	for _, word := range strings.Fields(text) {
		if utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > 110 {
			fmt.Fprintln(w, line)
			line = "   "
		}
		line += " " + word
	}
	fmt.Fprintln(w, line)
}
