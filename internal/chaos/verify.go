package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/testpoint"
)

// Summary is what a run did and found.
type Summary struct {
	Broker                                                         string
	Reconcilers, Pollers                                           int // at once
	PointKills                                                     string
	MaxMembers, Rebalances, PartitionMoves                         int
	LongestRebalance                                               time.Duration // the group not Stable, at most
	JoinFailures                                                   int           // "Failed to join group" lines in the reconcilers' logs
	LockSkips                                                      int           // polls skipped because another poller held the lock
	LockedPolls                                                    int           // finished polls whose lock periods were compared
	MaxPoison                                                      int           // bytes
	ReconcilerKills, PollerKills, BrokerRestarts, PostgresRestarts int
	ReconcilerStarts, ReconcilerExits, PollerRuns, PollerFailed    int
	FaultArms                                                      int
	Items                                                          int // simulated statement items
	Messages                                                       int // messages on the data topics, duplicates included
	Events                                                         int // distinct event ids on the data topics (poison excluded)
	Applied                                                        int // rows of recon.processed_events
	Entries                                                        int
	Lost, Duplicated                                               int
	DeadLetters, Poison                                            int
	Alerts, SlackMessages, SlackRedelivered                        int
	AlertsExpected, AlertsRaised, AlertsUnexpected                 int // the world's alerts, those raised exactly once, the others
	Accounts, AccountsEqual, EntriesEqual                          int // compared with the truth (truth.go)
	LiveItems, TokenExpiries                                       int
	Refreshes, RefreshesFaulted, RefreshesAfterFault               int  // Vandar's refresh answers: new pairs, 503s, new pairs after a 503
	RefreshReuses                                                  int  // refresh tokens presented again after they were exchanged
	RacedBy2                                                       bool // an expiry both pollers found due for one business, both polling it since
	Restated                                                       bool
	Violations                                                     []string
	Took, ChaosTook                                                time.Duration
}

// Line is the summary line.
func (m *Summary) Line(setting string, pass bool) string {
	verdict := "PASS"
	if !pass {
		verdict = fmt.Sprintf("FAIL (%d violations)", len(m.Violations))
	}
	return fmt.Sprintf("chaos %s on %s: %s — %d reconcilers in one group and %d pollers at once; survived %d reconciler kills, %d poller kills, "+
		"kills at test points %s, %d broker and %d PostgreSQL restarts, %d rebalances (%d partition moves between live members, "+
		"%d members at most, longest rebalance %s, %d failed joins logged), %d polls skipped on the lock (%d finished polls never overlapped), "+
		"%d fault kinds armed (%d poller runs failed, %d reconciler exits); a moving world of %d live items, %d token expiries "+
		"(%d refreshes, %d faulted and %d good after, raced by both pollers %v, refresh tokens reused %d), restated mid-chaos %v; "+
		"%d items, %d events (%d messages, %d redelivered), %d applied, %d entries (%d equal to the truth in postings and time); "+
		"accounts compared %d, equal %d; lost %d, duplicated %d; dead letters %d/%d (biggest poison %d bytes); "+
		"alerts expected %d, raised exactly once %d, unexpected %d (Slack %d, %d again after a send the outbox could not record); chaos %s, total %s",
		setting, m.Broker, verdict, m.Reconcilers, m.Pollers, m.ReconcilerKills, m.PollerKills, m.PointKills, m.BrokerRestarts,
		m.PostgresRestarts, m.Rebalances, m.PartitionMoves, m.MaxMembers, m.LongestRebalance.Round(time.Second), m.JoinFailures, m.LockSkips, m.LockedPolls, m.FaultArms, m.PollerFailed,
		m.ReconcilerExits, m.LiveItems, m.TokenExpiries,
		m.Refreshes, m.RefreshesFaulted, m.RefreshesAfterFault, m.RacedBy2, m.RefreshReuses, m.Restated, m.Items, m.Events, m.Messages, m.Messages-m.Events-m.Poison, m.Applied,
		m.Entries, m.EntriesEqual, m.Accounts, m.AccountsEqual, m.Lost, m.Duplicated,
		m.DeadLetters, m.Poison, m.MaxPoison, m.AlertsExpected, m.AlertsRaised, m.AlertsUnexpected, m.SlackMessages, m.SlackRedelivered,
		m.ChaosTook.Round(time.Second), m.Took.Round(time.Second))
}

// verify checks everything the pipeline must have done, and returns every violation in one error.
func (s *suite) verify(ctx context.Context) (*Summary, error) {
	m := &Summary{
		ReconcilerKills: int(s.reconcilerKills.Load()), PollerKills: int(s.pollerKills.Load()),
		BrokerRestarts: int(s.brokerRestarts.Load()), PostgresRestarts: int(s.pgRestarts.Load()),
		ReconcilerStarts: int(s.reconcilerStarts.Load()), ReconcilerExits: int(s.reconcilerExits.Load()),
		PollerRuns: int(s.pollerRuns.Load()), PollerFailed: int(s.pollerFailed.Load()), FaultArms: s.faultArms,
		Poison: len(s.poison), Broker: s.o.Broker, Reconcilers: max(1, s.o.Setting.Reconcilers), Pollers: max(1, s.o.Setting.Pollers),
		PointKills: s.pointCounts(), JoinFailures: s.logLines("reconciler-*.log", "Failed to join group"),
		LockSkips: s.logLines("poller-*.log", "poll skipped: another process is polling it"),
		LiveItems: len(s.w.live.items), RefreshReuses: s.w.vsim.RefreshReuses(),
		Restated: s.w.live.restate != nil && s.w.live.restate.done.Load(),
	}
	m.Refreshes, m.RefreshesFaulted, m.RefreshesAfterFault = s.w.live.refresh.counts()
	expiries, raced, racedBiz, wentOn, faults := s.tokenCounts()
	m.TokenExpiries, m.RacedBy2 = expiries, raced && wentOn
	m.MaxMembers, m.Rebalances, m.PartitionMoves, m.LongestRebalance = s.group.counts()
	for _, p := range s.poison {
		m.MaxPoison = max(m.MaxPoison, len(p))
	}
	bad := func(format string, args ...any) { m.Violations = append(m.Violations, fmt.Sprintf(format, args...)) }

	// The processes and kills the run was for happened: a kill at each test point, a group of several
	// members whose partitions moved between live ones, pollers that contended for the lock and never both
	// held it.
	for _, point := range allPoints {
		s.pointsMu.Lock()
		n := s.pointKills[point]
		s.pointsMu.Unlock()
		if n < s.o.Setting.PointKills {
			bad("%d kills at test point %s, want %d", n, point, s.o.Setting.PointKills)
		}
	}
	if s.o.Setting.Reconcilers > 1 && (m.MaxMembers < 2 || m.PartitionMoves == 0) {
		bad("the group never had several members whose partitions moved between live ones (%d members at most, %d moves)",
			m.MaxMembers, m.PartitionMoves)
	}
	overlaps, polls, err := s.pollOverlaps()
	if err != nil {
		return m, err
	}
	m.LockedPolls = polls
	if len(overlaps) > 0 {
		bad("two pollers polled one feed at once %d times (the advisory lock did not hold): %s", len(overlaps), sample(overlaps))
	}
	// The world's moves the run was for: the restatement mid-chaos, a faulted token refresh that a later one
	// made good, an expiry both pollers raced, and no refresh token ever presented twice.
	if s.w.live.restate != nil && !m.Restated {
		bad("the payment to restate was never restated (mizan never posted vandar/%s/%d during the chaos)", s.w.live.restate.biz, s.w.live.restate.id)
	}
	if m.RefreshesFaulted < faults || faults > 0 && m.RefreshesAfterFault == 0 {
		bad("%d token refreshes were faulted of %d armed, %d good ones after: the faulted refresh never happened or was never made good",
			m.RefreshesFaulted, faults, m.RefreshesAfterFault)
	}
	if s.o.Setting.Pollers > 1 && len(s.w.live.expiries) > 0 && !m.RacedBy2 {
		bad("no token expiry was raced by both pollers and polled through (raced %v, for %q; both polled since %v)", raced, racedBiz, wentOn)
	}
	if m.RefreshReuses > 0 {
		bad("Vandar saw %d refresh tokens presented again after they were exchanged: two refreshes of one pair", m.RefreshReuses)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	for _, check := range []func(context.Context, *Summary, func(string, ...any)) error{
		s.verifyLedger, s.verifyEvents, s.verifyInvariants, s.verifyAlerts,
	} {
		if err := check(ctx, m, bad); err != nil {
			return m, err
		}
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ledger.entries`).Scan(&m.Entries); err != nil {
		return m, err
	}
	if len(m.Violations) > 0 {
		return m, fmt.Errorf("%d violations:\n  - %s", len(m.Violations), strings.Join(m.Violations, "\n  - "))
	}
	return m, nil
}

// verifyLedger compares the whole ledger with the truth computed from the simulators' records (truth.go):
// every entry — present once, with exactly the postings the rules give and the provider's effective time —
// and every account mizan posted to, whose balance must be the truth's to the last unit; an account on one
// side only is a violation too.
func (s *suite) verifyLedger(ctx context.Context, m *Summary, bad func(string, ...any)) error {
	t := newTruth()
	for _, biz := range s.w.vsim.Businesses() {
		items := s.w.vsim.Items(biz)
		m.Items += len(items)
		posted := map[int64]int64{} // ids are unique within a business, not across them
		if r := s.w.live.restate; r != nil && r.done.Load() && r.biz == biz {
			posted[r.id] = r.from
		}
		if err := t.addVandar(biz, openings[biz], items, posted); err != nil {
			return err
		}
	}
	for _, cur := range s.w.ycurs {
		f, err := s.w.ysim.Balance(merchant, cur)
		if err != nil {
			return err
		}
		t.addYabandPay(merchant, cur, f)
	}
	ledger, err := s.loadLedger(ctx)
	if err != nil {
		return err
	}
	accounts, err := s.loadAccounts(ctx)
	if err != nil {
		return err
	}
	c := t.compare(ledger, accounts)
	m.Accounts, m.AccountsEqual, m.EntriesEqual = c.Accounts, c.AccountsEqual, c.EntriesEqual
	m.Lost += len(c.Missing)
	m.Duplicated += len(c.Extra)
	if all := slices.Concat(c.Missing, c.Extra, c.Wrong, c.Times, c.AccountDiffs); len(all) > 0 {
		// Every difference, not only the samples of the violations.
		path := filepath.Join(s.dir, "truth-differences.txt")
		if err := os.WriteFile(path, []byte(strings.Join(all, "\n")+"\n"), 0o644); err == nil {
			s.logf("every difference from the truth is in %s", path)
		}
	}
	if len(c.Missing) > 0 {
		bad("%d entries the simulators' records imply are not in the ledger (lost), e.g. %s", len(c.Missing), sample(c.Missing))
	}
	if len(c.Extra) > 0 {
		bad("%d entries the simulators' records do not imply (duplicated or invented), e.g. %s", len(c.Extra), sample(c.Extra))
	}
	if len(c.Wrong) > 0 {
		bad("%d entries whose postings differ from the rules', e.g. %s", len(c.Wrong), sample(c.Wrong))
	}
	if len(c.Times) > 0 {
		bad("%d entries at another time than the provider's, e.g. %s", len(c.Times), sample(c.Times))
	}
	if len(c.AccountDiffs) > 0 {
		bad("%d of %d accounts differ from the truth: %s", len(c.AccountDiffs), c.Accounts, sample(c.AccountDiffs))
	}
	return nil
}

func (s *suite) balance(ctx context.Context, code string) (decimal.Decimal, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT balance::text FROM ledger.balances WHERE account = $1), '0')`, code).Scan(&v)
	if err != nil {
		return decimal.Zero, err
	}
	return decimal.RequireFromString(v), nil
}

// verifyEvents reads every message of every topic and compares the distinct event ids with the ids the
// reconciler recorded: each published event applied exactly once (recon.processed_events has each id once by
// its key, so "more than once in effect" shows as an extra entry above, and here as an id nobody published),
// and each poison message exactly one dead letter carrying its original bytes.
func (s *suite) verifyEvents(ctx context.Context, m *Summary, bad func(string, ...any)) error {
	published := map[string]bool{}
	var malformed []position
	type dead struct {
		pos   position
		value []byte
	}
	var deadLetters []dead
	for _, topic := range events.AllTopics {
		msgs, err := kafka.ReadTopic(ctx, s.broker.addr(), topic)
		if err != nil {
			return fmt.Errorf("read %s: %w", topic, err)
		}
		for _, msg := range msgs {
			ev, err := events.Decode(msg.Value)
			if topic == events.TopicDLQ {
				if err != nil {
					bad("an undecodable message on the dead-letter topic at offset %d", msg.Offset)
					continue
				}
				dl, err := events.DecodeData[events.DeadLetter](ev)
				if err != nil {
					return err
				}
				deadLetters = append(deadLetters, dead{position{dl.Topic, dl.Partition, dl.Offset}, dl.Value})
				continue
			}
			m.Messages++
			pos := position{topic, msg.Partition, msg.Offset}
			if err != nil || slices.ContainsFunc(s.poison, func(p []byte) bool { return bytes.Equal(p, msg.Value) }) {
				malformed = append(malformed, pos)
				continue
			}
			published[ev.ID] = true
		}
	}
	m.Events = len(published)

	// Dead letters: one per poison message (by position: a replayed refusal is the same dead letter).
	refused := map[position][]byte{}
	for _, d := range deadLetters {
		refused[d.pos] = d.value
	}
	m.DeadLetters = len(refused)
	if len(malformed) != len(s.poison) {
		bad("%d messages on the data topics are not mizan events, %d poison messages were published", len(malformed), len(s.poison))
	}
	for _, pos := range malformed {
		if _, ok := refused[pos]; !ok {
			bad("poison message at %s has no dead letter", pos)
		}
	}
	for pos, value := range refused {
		if !slices.Contains(malformed, pos) {
			bad("a dead letter for %s, which is not a poison message", pos)
		} else if !slices.ContainsFunc(s.poison, func(p []byte) bool { return carries(p, value, s.maxMessage) }) {
			bad("the dead letter for %s does not carry the original bytes", pos)
		}
	}

	rows, err := s.pool.Query(ctx, `SELECT event_id FROM recon.processed_events`)
	if err != nil {
		return err
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	m.Applied = len(applied)
	seen := map[string]bool{}
	var phantom []string
	for _, id := range applied {
		seen[id] = true
		if !published[id] {
			phantom = append(phantom, id)
		}
	}
	var lost []string
	for id := range published {
		if !seen[id] {
			lost = append(lost, id)
		}
	}
	m.Lost += len(lost)
	m.Duplicated += len(phantom)
	if len(lost) > 0 {
		bad("%d published events were never applied, e.g. %s", len(lost), sample(lost))
	}
	if len(phantom) > 0 {
		bad("%d applied event ids are on no topic, e.g. %s", len(phantom), sample(phantom))
	}
	return nil
}

type position struct {
	topic     string
	partition int
	offset    int64
}

func (p position) String() string { return fmt.Sprintf("%s/%d@%d", p.topic, p.partition, p.offset) }

// verifyInvariants recomputes the ledger's invariants from its rows: every entry's postings sum to zero per
// currency (and there are at least two), every account's postings are numbered 1, 2, 3, … with balance_after
// the running sum and booked_at never decreasing, every balance row is the end of its chain, and no item
// has two entries.
func (s *suite) verifyInvariants(ctx context.Context, m *Summary, bad func(string, ...any)) error {
	checks := []struct{ what, sql string }{
		{"entries whose postings do not sum to zero", `
			SELECT count(*) FROM (SELECT entry_id FROM ledger.postings GROUP BY entry_id, currency HAVING sum(amount) <> 0) x`},
		{"entries with fewer than two postings", `
			SELECT count(*) FROM ledger.entries e WHERE (SELECT count(*) FROM ledger.postings p WHERE p.entry_id = e.id) < 2`},
		{"postings whose balance_after, account_seq or booked_at break their account's chain", `
			SELECT count(*) FROM (
				SELECT account_seq, balance_after, booked_at,
				       sum(amount) OVER w AS running, row_number() OVER w AS n, lag(booked_at) OVER w AS before
				FROM ledger.postings WINDOW w AS (PARTITION BY account_id ORDER BY account_seq)) x
			WHERE balance_after <> running OR account_seq <> n OR booked_at < before`},
		{"balance rows that are not the end of their account's chain", `
			SELECT count(*) FROM ledger.account_balances b
			LEFT JOIN LATERAL (SELECT account_seq, balance_after FROM ledger.postings p WHERE p.account_id = b.account_id
			                   ORDER BY account_seq DESC LIMIT 1) last ON true
			WHERE b.balance <> coalesce(last.balance_after, 0) OR b.last_seq <> coalesce(last.account_seq, 0)`},
		{"postings in another currency than their account's", `
			SELECT count(*) FROM ledger.postings p JOIN ledger.accounts a ON a.id = p.account_id WHERE p.currency <> a.currency`},
		{"provider items with more than one statement entry", `
			SELECT count(*) FROM (SELECT provider_account, item_id FROM ledger.entry_sources s
			                      JOIN ledger.entries e ON e.id = s.entry_id
			                      WHERE s.item_id IS NOT NULL AND e.idempotency_key LIKE '%:statement:%'
			                      GROUP BY 1, 2 HAVING count(*) > 1) x`},
	}
	for _, c := range checks {
		var n int
		if err := s.pool.QueryRow(ctx, c.sql).Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", c.what, err)
		}
		if n != 0 {
			bad("ledger invariant: %d %s", n, c.what)
			if strings.Contains(c.what, "more than one") {
				m.Duplicated += n
			}
		}
	}
	return nil
}

// verifyAlerts expects exactly the alerts the world's injected discrepancies and events call for, each raised
// once: the drifting balance of globex (open), the dead_letter alert of each poison fault, a payout_failed
// warning for each payout of the simulator that failed or was cancelled, and a changed_item alert for the
// restated payment. Nothing else may have been raised — every other check passed on every poll, whatever
// crashed and however the world moved — and each alert is delivered to Slack exactly once.
func (s *suite) verifyAlerts(ctx context.Context, m *Summary, bad func(string, ...any)) error {
	rows, err := s.pool.Query(ctx, `SELECT kind, subject, summary, resolved_at IS NOT NULL, open_sent_at IS NOT NULL,
		resolved_at IS NOT NULL AND resolved_sent_at IS NULL FROM recon.alerts ORDER BY id`)
	if err != nil {
		return err
	}
	type alert struct {
		kind, subject, summary         string
		resolved, sent, resolvedUnsent bool
	}
	var alerts []alert
	for rows.Next() {
		var a alert
		if err := rows.Scan(&a.kind, &a.subject, &a.summary, &a.resolved, &a.sent, &a.resolvedUnsent); err != nil {
			return err
		}
		alerts = append(alerts, a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	m.Alerts = len(alerts)

	// The alerts the world calls for: kind and subject ("" for any subject), and whether it must still be open.
	type expect struct {
		kind, subject string
		open          bool
	}
	var expected []expect
	for range s.poisonFaults {
		// One per source and reason code (the poison messages share a source; the big one's fault is the first's).
		expected = append(expected, expect{kind: "dead_letter"})
	}
	expected = append(expected, expect{"balance", "vandar/" + drifted + "/wallet/IRT", true})
	for _, biz := range s.w.vsim.Businesses() {
		for _, it := range s.w.vsim.Items(biz) {
			if it.Kind == vandartest.KindSettlement && (it.FinalStatus == vandartest.StatusSettlementFailed ||
				it.FinalStatus == vandartest.StatusSettlementCanceled) {
				// Sticky: a person resolves it.
				expected = append(expected, expect{"payout_failed", fmt.Sprintf("vandar/%s/payout/%d", biz, it.ID), true})
			}
		}
	}
	if r := s.w.live.restate; r != nil && r.done.Load() {
		// Sticky: the ledger keeps what was posted, so the balance never agrees again.
		expected = append(expected, expect{"changed_item", fmt.Sprintf("vandar/%s/item/%d", r.biz, r.id), true})
	}
	m.AlertsExpected = len(expected)
	matched := make([]bool, len(expected))
	var unexpected []string
	wanted := map[string]bool{}
	for _, a := range alerts {
		found := false
		for i, e := range expected {
			if !matched[i] && e.kind == a.kind && (e.subject == "" || e.subject == a.subject) {
				matched[i], found = true, true
				if e.open && a.resolved {
					bad("alert %s %s is resolved; it must stay open: %s", a.kind, a.subject, firstLine(a.summary))
				}
				break
			}
		}
		if !found {
			unexpected = append(unexpected, fmt.Sprintf("%s %s (resolved %v): %s", a.kind, a.subject, a.resolved, firstLine(a.summary)))
		}
		wanted[firstLine(a.summary)[:min(40, len(firstLine(a.summary)))]] = true
	}
	var missing []string
	for i, e := range expected {
		if matched[i] {
			m.AlertsRaised++
		} else {
			missing = append(missing, fmt.Sprintf("%s %s", e.kind, e.subject))
		}
	}
	m.AlertsUnexpected = len(unexpected)
	if len(unexpected) > 0 {
		bad("%d alerts nothing in the world calls for (or raised again): %s", len(unexpected), strings.Join(unexpected, "; "))
	}
	if len(missing) > 0 {
		bad("%d alerts the world calls for were never raised: %s", len(missing), sample(missing))
	}
	for _, a := range alerts {
		if a.kind == "balance" && a.subject == "vandar/"+drifted+"/wallet/IRT" && !strings.Contains(a.summary, strconv.Itoa(driftAmount)) {
			bad("the balance alert does not name the drift of %d: %s", driftAmount, a.summary)
		}
	}
	msgs := s.w.sink.Messages()
	m.SlackMessages = len(msgs)
	changes := 0
	for _, a := range alerts {
		changes++
		if a.resolved {
			changes++
		}
		if !a.sent || a.resolvedUnsent {
			bad("alert %s %s was not delivered to Slack", a.kind, a.subject)
		}
	}
	// Exactly once per state change — except where a reconciler logged that Slack took a message but
	// PostgreSQL could not be told (the outbox is at least once: that message goes again). Those are counted
	// and shown, not hidden.
	m.SlackRedelivered = s.logLines("reconciler-*.log", "could not record an alert as sent")
	// A kill at the slack-sent test point is exactly that window: Slack has the message, the outbox does not
	// know, the next dispatcher sends it again. Each such kill is one more message, not a maybe.
	s.pointsMu.Lock()
	resent := s.pointKills[testpoint.SlackSent]
	s.pointsMu.Unlock()
	changes += resent
	if len(msgs) < changes || len(msgs) > changes+m.SlackRedelivered {
		var texts []string
		for _, msg := range msgs {
			texts = append(texts, firstLine(msg.Text))
		}
		bad("Slack received %d messages for %d alert state changes and kills after Slack's acceptance (each must arrive exactly once; %d sends could not be marked): %s",
			len(msgs), changes, m.SlackRedelivered, strings.Join(texts, " | "))
	}
	for _, msg := range msgs {
		ok := strings.Contains(msg.Text, "dead_letter")
		for want := range wanted {
			ok = ok || strings.Contains(msg.Text, want)
		}
		if !ok {
			bad("a Slack message that is no alert's: %q", firstLine(msg.Text))
		}
	}
	return nil
}

// logLines counts the lines of the processes' logs (a glob such as "reconciler-*.log") that contain text.
func (s *suite) logLines(glob, text string) int {
	paths, _ := filepath.Glob(filepath.Join(s.dir, "logs", glob))
	n := 0
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			n += bytes.Count(b, []byte(text))
		}
	}
	return n
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func sample(xs []string) string {
	sort.Strings(xs)
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + ", …"
	}
	return strings.Join(xs, ", ")
}

// carries reports whether a dead letter's value is the poison message's: its bytes, or — for a message too
// big to fit in a dead letter beside the envelope, when the broker's limit is maxMessage — a prefix of them.
func carries(poison, value []byte, maxMessage int) bool {
	if bytes.Equal(poison, value) {
		return true
	}
	return len(poison) > maxMessage/2 && len(value) < len(poison) && bytes.HasPrefix(poison, value)
}

// pollOverlaps checks the advisory locks from the pollers' own logs: a poll logs "poll complete" (or "poll
// failed") with its duration while it still holds its feed's lock, so the span [time − duration, time] of each
// lies inside a lock period. Two such spans of one feed from two processes that overlap mean the lock did not
// hold. Polls of killed processes log nothing and are not compared: this can miss a violation, never invent one.
func (s *suite) pollOverlaps() (overlaps []string, polls int, err error) {
	type span struct {
		proc       string
		start, end time.Time
	}
	byFeed := map[string][]span{}
	paths, _ := filepath.Glob(filepath.Join(s.dir, "logs", "poller-*.log"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, 0, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue
			}
			var l struct {
				Time     time.Time `json:"time"`
				Msg      string    `json:"msg"`
				Source   string    `json:"source"`
				Feed     string    `json:"feed"`
				Duration int64     `json:"duration"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || (l.Msg != "poll complete" && l.Msg != "poll failed") {
				continue
			}
			// The duration is rounded to the millisecond: shrink the span by one so rounding cannot make an overlap.
			start := l.Time.Add(-time.Duration(l.Duration) + time.Millisecond)
			byFeed[l.Source+"/"+l.Feed] = append(byFeed[l.Source+"/"+l.Feed], span{filepath.Base(path), start, l.Time})
			polls++
		}
	}
	for feed, spans := range byFeed {
		sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
		for i := 1; i < len(spans); i++ {
			for j := i - 1; j >= 0; j-- {
				a, b := spans[j], spans[i]
				if a.proc != b.proc && b.start.Before(a.end) {
					overlaps = append(overlaps, fmt.Sprintf("%s by %s and %s at %s", feed, a.proc, b.proc, b.start.Format("15:04:05.000")))
				}
			}
		}
	}
	return overlaps, polls, nil
}
