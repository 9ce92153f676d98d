package bankstatement_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/bankstatement"
	"github.com/mizanhq/mizan/internal/sources/bankstatement/banktest"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

const iban = "IR062960000000100324200001"

// now is the poller's clock in these tests: after every file is written.
var now = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

var registry = sources.Registry{bankstatement.Name: bankstatement.Provider{}}

// configure reads one bank-statement source from a sources file's block.
func configure(t *testing.T, fields string) (config.Source, error) {
	t.Helper()
	s, err := config.ParseSources([]byte("sources:\n  - name: bank-main\n    provider: bankstatement\n"+
		"    feeds: { statements: \"*/15 * * * *\" }\n"+fields), func(string) string { return "" }, registry)
	if err != nil {
		return config.Source{}, err
	}
	return s.Sources[0], nil
}

// csvFields is the sources-file block of banktest.Iranian exports.
const csvFields = `    csv:
      skip_rows: 1
      date: تاریخ
      debit: برداشت
      credit: واریز
      balance: مانده
      description: شرح
      reference: شماره پیگیری
      counterparty: نام واریز کننده
      currency: IRR
`

// bench is a directory a source reads.
type bench struct {
	t   *testing.T
	dir string
	src sources.Source
}

func setup(t *testing.T) *bench {
	t.Helper()
	dir := t.TempDir()
	cfg, err := configure(t, "    iban: "+iban+"\n    dir: "+dir+"\n"+csvFields)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cfg.Settings.Open(sources.Env{Name: "bank-main", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return &bench{t: t, dir: dir, src: src}
}

// drop writes a file as a sync would, finished before now.
func (b *bench) drop(name string, data []byte) {
	b.t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Chtimes(p, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bench) poll(cursor []byte, maxSteps int) sourcetest.PollResult {
	b.t.Helper()
	return sourcetest.Poll(context.Background(), b.src, sources.PollRequest{Feed: bankstatement.FeedStatements,
		Cursor: cursor, Start: now, Cutoff: now}, maxSteps)
}

func lines(t *testing.T, evs []events.Event) []events.BankLine {
	t.Helper()
	var out []events.BankLine
	for _, ev := range evs {
		if ev.Type == events.TypeBankLine {
			l, err := events.DecodeData[events.BankLine](ev)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, l)
		}
	}
	return out
}

func ids(evs []events.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// week is a generated week of the account: payouts paid each day, other lines, in rials.
func week(from time.Time, days int, seed uint64) banktest.Statement {
	var payouts []banktest.Payout
	for i := range days * 2 {
		payouts = append(payouts, banktest.Payout{TrackID: "trk-" + string(rune('a'+i%26)) + from.Format("0102"),
			Amount: int64(100_000 * (i + 1)), PaidAt: from.Add(time.Duration(i) * 12 * time.Hour).Add(9 * time.Hour)})
	}
	return banktest.Generate(banktest.Options{IBAN: iban, From: from, To: from.AddDate(0, 0, days-1), Opening: 50_000_000,
		Payouts: payouts, Seed: seed, BatchEvery: 3})
}

func TestSourcesFileFieldsAreCheckedByName(t *testing.T) {
	t.Parallel()
	for fields, want := range map[string]string{
		"    iban: IR06\n    dir: /x\n":                                                             "field iban",
		"    iban: " + iban + "\n":                                                                  "field dir",
		"    iban: " + iban + "\n    dir: /x\n    format: pdf\n":                                    "field format",
		"    iban: " + iban + "\n    dir: /x\n    format: csv\n":                                    "field csv",
		"    iban: " + iban + "\n    dir: /x\n    csv: { date: d }\n":                               "field csv.amount",
		"    iban: " + iban + "\n    dir: /x\n    csv: { date: d, amount: a, date_format: yyyy }\n": "field csv.date_format",
		"    iban: " + iban + "\n    dir: /x\n    csv: { dates: d }\n":                              "field csv.dates: unknown",
		"    iban: " + iban + "\n    dir: /x\n    time_zone: Mars/Olympus\n":                        "field time_zone",
		"    iban: " + iban + "\n    dir: /x\n    currency: toman\n":                                "field currency",
	} {
		if _, err := configure(t, fields); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %q", fields, err, want)
		}
	}
	src, err := configure(t, "    iban: ir06 2960 0000 0010 0324 2000 01\n    dir: /statements\n")
	if err != nil || src.Account() != iban {
		t.Fatalf("account %q, %v: the IBAN is the account, normalized", src.Account(), err)
	}
}

func TestEveryFileIsPublishedOnceInTheOrderOfItsDays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w1, w2 := week(time.Date(2026, 3, 1, 0, 0, 0, 0, banktest.Tehran()), 7, 1),
		week(time.Date(2026, 3, 8, 0, 0, 0, 0, banktest.Tehran()), 7, 2)
	w2.Opening = w1.Closing()
	b.drop("b-second-week.csv", banktest.CSV(w2, banktest.Iranian))
	b.drop("a-first-week.xml", banktest.CAMT053(w1))
	res := b.poll(nil, 0)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Steps != 2 || res.Watermark == nil || !res.Watermark.Through.Equal(now) {
		t.Fatalf("%d steps, watermark %+v: want one step a file and a watermark through the poll", res.Steps, res.Watermark)
	}
	ls := lines(t, res.Events)
	want := 0
	for _, st := range []banktest.Statement{w1, w2} {
		for _, l := range st.Lines {
			want += max(1, len(l.Batch))
		}
	}
	if len(ls) != want {
		t.Fatalf("%d lines published, the statements have %d", len(ls), want)
	}
	// The first week's first: its closing balance is checked before the second week's lines.
	if ls[0].File != "a-first-week.xml" || ls[len(ls)-1].File != "b-second-week.csv" {
		t.Errorf("order: %s first, %s last", ls[0].File, ls[len(ls)-1].File)
	}
	var balances []string
	for _, ev := range res.Events {
		if ev.Type == events.TypeBankBalance {
			bb, _ := events.DecodeData[events.BankBalance](ev)
			balances = append(balances, bb.Kind+" "+bb.Date+" "+bb.Amount.String())
		}
	}
	wantBal := []string{"opening 2026-03-01 5000000", "closing 2026-03-07 " + itoa(w1.Closing()/10),
		"opening 2026-03-08 " + itoa(w1.Closing()/10), "closing 2026-03-14 " + itoa(w2.Closing()/10)}
	if !slices.Equal(balances, wantBal) {
		t.Errorf("balances %v, want %v", balances, wantBal)
	}
	// Polled again, nothing is new.
	again := b.poll(res.Cursor, 0)
	if again.Err != nil || len(again.Events) != 0 || again.Watermark == nil {
		t.Errorf("a second poll published %d events (%v), watermark %v", len(again.Events), again.Err, again.Watermark)
	}
}

func TestAFileDroppedTwiceOrOverlappingAnotherStatesTheSameFacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := week(time.Date(2026, 3, 1, 0, 0, 0, 0, banktest.Tehran()), 7, 3)
	b.drop("monday.xml", banktest.CAMT053(w))
	first := b.poll(nil, 0)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	// The same file under another name: not read again.
	b.drop("monday-copy.xml", banktest.CAMT053(w))
	if res := b.poll(first.Cursor, 0); res.Err != nil || len(res.Events) != 0 {
		t.Errorf("a copy published %d events (%v)", len(res.Events), res.Err)
	}
	// Removed, then dropped again after the cursor forgot it: read again, as the same facts.
	for _, name := range []string{"monday.xml", "monday-copy.xml"} {
		if err := os.Remove(filepath.Join(b.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	gone := b.poll(first.Cursor, 0)
	b.drop("again.xml", banktest.CAMT053(w))
	res := b.poll(gone.Cursor, 0)
	if res.Err != nil || !slices.Equal(ids(res.Events), ids(first.Events)) {
		t.Errorf("dropped again: %d events, first time %d (%v)", len(res.Events), len(first.Events), res.Err)
	}
	// A later statement that overlaps this one (its last three days, and three more): the lines of the days
	// they share are the same facts.
	over := week(time.Date(2026, 3, 5, 0, 0, 0, 0, banktest.Tehran()), 6, 3)
	over.ID, over.Lines = "STMT-OVERLAP", nil
	for _, l := range w.Lines {
		if !l.Booking.Before(over.From) {
			over.Lines = append(over.Lines, l)
		}
	}
	b.drop("overlap.xml", banktest.CAMT053(over))
	overlap := b.poll(res.Cursor, 0)
	if overlap.Err != nil {
		t.Fatal(overlap.Err)
	}
	known := map[string]bool{}
	for _, l := range lines(t, first.Events) {
		if !l.BookedAt.Before(over.From) {
			known[l.LineID] = true
		}
	}
	got := lines(t, overlap.Events)
	if len(got) == 0 || len(got) != len(known) {
		t.Fatalf("the overlapping statement published %d lines, the days it shares have %d", len(got), len(known))
	}
	for _, l := range got {
		if !known[l.LineID] {
			t.Errorf("line %s (%s, %s) of the overlap is not a line of the first statement", l.LineID, l.BookingDate, l.Amount)
		}
	}
}

func TestAMalformedFileIsQuarantinedWholeAndTheFeedMovesOn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := week(time.Date(2026, 3, 1, 0, 0, 0, 0, banktest.Tehran()), 3, 4)
	bad := strings.Replace(string(banktest.CAMT053(good)), "<Amt Ccy=\"IRR\">", "<Amt Ccy=\"IRR\">x", 3)
	b.drop("good.xml", banktest.CAMT053(good))
	b.drop("bad.xml", []byte(bad))
	b.drop("notes.pdf", []byte("%PDF-1.4"))
	res := b.poll(nil, 0)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	qs := res.Quarantined()
	if len(qs) != 2 {
		t.Fatalf("quarantined %+v, want the bad XML and the PDF", qs)
	}
	for _, q := range qs {
		if q.Feed != bankstatement.FeedStatements || q.Account != iban || q.Endpoint != "file "+q.ItemID ||
			!strings.Contains(q.Reason, q.ItemID) || !strings.Contains(q.Reason, "nothing of the file is applied") {
			t.Errorf("quarantined %+v", q)
		}
	}
	balLine := strings.Count(bad[:strings.Index(bad, "<Bal>")], "\n") + 1
	if !strings.Contains(qs[0].Reason+qs[1].Reason, "bad.xml: line "+itoa(int64(balLine))+": balance OPBD: amount") {
		t.Errorf("the reasons do not name the bad file's line: %q, %q", qs[0].Reason, qs[1].Reason)
	}
	// Not one line of the bad file, every line of the good one.
	n := 0
	for _, l := range good.Lines {
		n += max(1, len(l.Batch))
	}
	if ls := lines(t, res.Events); len(ls) != n || slices.ContainsFunc(ls, func(l events.BankLine) bool { return l.File == "bad.xml" }) {
		t.Errorf("%d lines published, want the good file's %d", len(ls), n)
	}
	if res.Watermark == nil {
		t.Error("a refused file halted the feed: no watermark")
	}
	if again := b.poll(res.Cursor, 0); len(again.Events) != 0 {
		t.Errorf("the refused files were read again: %d events", len(again.Events))
	}
}

func TestAPollStoppedAfterAnyStepResumesAndLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 4 {
		w := week(time.Date(2026, 3, 1+7*i, 0, 0, 0, 0, banktest.Tehran()), 7, uint64(10+i))
		b.drop("week-"+itoa(int64(i))+".xml", banktest.CAMT053(w))
	}
	all := b.poll(nil, 0)
	if all.Err != nil || all.Steps != 4 {
		t.Fatalf("%d steps, %v", all.Steps, all.Err)
	}
	for stop := 1; stop < all.Steps; stop++ {
		part := b.poll(nil, stop)
		if part.Watermark != nil {
			t.Errorf("stopped after %d steps, a watermark was claimed", stop)
		}
		rest := b.poll(part.Cursor, 0)
		if got := append(ids(part.Events), ids(rest.Events)...); !slices.Equal(got, ids(all.Events)) {
			t.Errorf("stopped after %d steps: %d events in two polls, %d in one", stop, len(got), len(all.Events))
		}
	}
}

func TestAFileStillBeingWrittenWaitsForTheNextPoll(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := week(time.Date(2026, 3, 1, 0, 0, 0, 0, banktest.Tehran()), 2, 5)
	p := filepath.Join(b.dir, "late.xml")
	if err := os.WriteFile(p, banktest.CAMT053(w)[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, now.Add(time.Second), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	b.drop("copying.xml.part", []byte("<Doc"))
	res := b.poll(nil, 0)
	if res.Err != nil || len(res.Events) != 0 {
		t.Fatalf("a file written after the cutoff was read: %d events, %v", len(res.Events), res.Err)
	}
	b.drop("late.xml", banktest.CAMT053(w))
	if res := b.poll(res.Cursor, 0); len(lines(t, res.Events)) == 0 || len(res.Quarantined()) != 0 {
		t.Errorf("the finished file: %d events, %d quarantined", len(res.Events), len(res.Quarantined()))
	}
}

func TestAPollThatCannotReadTheDirectoryFailsWithoutAWatermark(t *testing.T) {
	t.Parallel()
	cfg, err := configure(t, "    iban: "+iban+"\n    dir: /nonexistent/statements\n")
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Settings.Open(sources.Env{Name: "bank-main", Now: func() time.Time { return now }})
	res := sourcetest.Poll(context.Background(), src, sources.PollRequest{Feed: bankstatement.FeedStatements, Start: now, Cutoff: now}, 0)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "/nonexistent/statements") || res.Watermark != nil {
		t.Errorf("err %v, watermark %v", res.Err, res.Watermark)
	}
	if res := sourcetest.Poll(context.Background(), src, sources.PollRequest{Feed: "balance"}, 0); !errors.Is(res.Err, sources.ErrUnknownFeed) {
		t.Errorf("an unknown feed: %v", res.Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := setup(t)
	b.drop("a.xml", banktest.CAMT053(week(time.Date(2026, 3, 1, 0, 0, 0, 0, banktest.Tehran()), 2, 6)))
	if res := sourcetest.Poll(ctx, b.src, sources.PollRequest{Feed: bankstatement.FeedStatements, Start: now, Cutoff: now}, 0); !errors.Is(res.Err, context.Canceled) || res.Watermark != nil {
		t.Errorf("a cancelled poll: %v, watermark %v", res.Err, res.Watermark)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
