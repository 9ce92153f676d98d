package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/demo"
	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

// make run, make run again, then make up stopped once it is ready: every start is clean and succeeds,
// with DATABASE_URL pointing at the tests' server (where the demo makes its own database). The second run
// is the one that failed before, on token pairs the first run's simulator had rotated. The first run's
// summary is read as a finance person reads it (checkSummary).
func TestRunTwiceThenKeepRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline three times")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "github.com/mizanhq/mizan/cmd/poller", "github.com/mizanhq/mizan/cmd/reconciler")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	admin := pgtest.AdminURL()
	name := fmt.Sprintf("mizan_demo_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), admin)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	getenv := func(k string) string {
		return map[string]string{"DATABASE_URL": admin}[k]
	}
	dir := t.TempDir()
	args := []string{"--dir", dir, "--database", name, "--days", "5", "--per-day", "20", "--bin", bin}

	for i := 1; i <= 2; i++ {
		var out, errOut bytes.Buffer
		if err := demo.Run(t.Context(), args, getenv, &out, &errOut); err != nil {
			t.Fatalf("run %d: %v\nstdout:\n%s\nstderr:\n%s", i, err, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "AGREE") || strings.Contains(errOut.String(), "401") {
			t.Fatalf("run %d:\n%s\nstderr:\n%s", i, out.String(), errOut.String())
		}
		if i == 1 {
			checkSummary(t, out.String())
		}
	}

	// make up: ready when the reconciler it left running answers /readyz; then Ctrl-C. The ports are picked
	// free but can be taken by another process before make up binds them; make up then stops and says so, and
	// only that is tried again, with other ports.
	// First with the reconciler's port already taken: make up must stop and name it, not sit there half-running.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpPort := taken.Addr().(*net.TCPAddr).Port - 1
	err = demo.Run(t.Context(), append(args, "--keep-running", "--kafka-port", fmt.Sprint(freePort(t)),
		"--http-port", fmt.Sprint(httpPort)), getenv, io.Discard, io.Discard)
	taken.Close()
	// (The poller's port, one below, was not reserved: should another process hold it, the poller is named.)
	if err == nil || !strings.Contains(err.Error(), " run stopped by itself") {
		t.Fatalf("make up with the reconciler's port taken ended with %v, want the stopped command named", err)
	}

	var out *sourcetest.LogBuffer
	for attempt := 1; ; attempt++ {
		var err error
		out, err = makeUp(t, args, getenv)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(out.String(), "address already in use") {
			t.Fatalf("make up: %v\n%s", err, out.String())
		}
		t.Logf("make up, attempt %d: a port was taken meanwhile; again with others", attempt)
	}
	text := out.String()
	if !strings.Contains(text, "== Running (Ctrl-C stops)") || !strings.Contains(text, "AGREE") {
		t.Errorf("make up printed:\n%s", text)
	}
	// The psql line names the database and never a password (the tests' admin URL may carry one).
	if u, err := url.Parse(admin); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && strings.Contains(text, pw) {
			t.Error("make up printed the database password")
		}
	}
	if !strings.Contains(text, "psql '") || !strings.Contains(text, "/"+name+"'") {
		t.Errorf("make up printed no psql line for %s:\n%s", name, text)
	}
	// Its database carries the demo's mark.
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var comment string
	if err := conn.QueryRow(t.Context(), `SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1`,
		name).Scan(&comment); err != nil || comment != devstack.DemoMarker {
		t.Errorf("the demo's database comment %q, %v; want the demo's mark", comment, err)
	}
}

// checkSummary reads the summary as the finance person would: a row per wallet, currency and bank account
// with the provider's figure and the difference, in thousands-separated amounts; what the signs mean; what
// sits in suspense and why; and each planted discrepancy with its alert — the four matching ones among them.
func checkSummary(t *testing.T, out string) {
	t.Helper()
	_, result, ok := strings.Cut(out, "== Result")
	if !ok {
		t.Fatalf("no result:\n%s", out)
	}
	lines := strings.Split(result, "\n")
	block := func(heading string) []string { // the lines under a heading, to the next blank line
		i := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == heading })
		if i < 0 {
			t.Fatalf("no %q in the summary:\n%s", heading, result)
		}
		var b []string
		for _, l := range lines[i+1:] {
			if strings.TrimSpace(l) == "" {
				break
			}
			b = append(b, l)
		}
		return b
	}
	amount := regexp.MustCompile(`^-?\d{1,3}(,\d{3})*(\.\d\d)?$`)

	// Ledger against provider: the header names the difference, and every wallet and currency has a row
	// whose last four columns are ledger, provider, difference and verdict.
	table := block(demo.HeadingBalances)
	if len(table) < 2 || !strings.Contains(table[0], "difference") {
		t.Fatalf("the balances table has no difference column:\n%s", strings.Join(table, "\n"))
	}
	rows := map[string][]string{}
	for _, l := range table[1:] {
		f := strings.Fields(l)
		if len(f) < 7 || !strings.HasPrefix(f[0], "assets:") || strings.HasSuffix(f[0], ":") {
			continue // the legend, or a line explaining a row
		}
		rows[f[0]] = f
		for _, a := range f[len(f)-4 : len(f)-1] {
			if !amount.MatchString(a) {
				t.Errorf("row %s: %q is not an amount with thousands separators", f[0], a)
			}
		}
		if v := f[len(f)-1]; v != "AGREE" && v != "DISAGREE" {
			t.Errorf("row %s: verdict %q", f[0], v)
		}
	}
	for code, cur := range map[string]string{
		"assets:vandar:acme:wallet": "IRT", "assets:vandar:globex:wallet": "IRT",
		"assets:yabandpay:036870:wallet:eur": "EUR", "assets:yabandpay:036870:wallet:chf": "CHF",
	} {
		f, ok := rows[code]
		if !ok {
			t.Errorf("no row for %s in the balances table:\n%s", code, strings.Join(table, "\n"))
			continue
		}
		if f[1] != cur {
			t.Errorf("row %s: currency %q, want %s", code, f[1], cur)
		}
	}
	if f := rows["assets:vandar:acme:wallet"]; f != nil {
		if ledger, diff := f[len(f)-4], f[len(f)-2]; !strings.Contains(ledger, ",") || diff != "0" || f[len(f)-1] != "AGREE" {
			t.Errorf("the clean wallet's row: %v", f)
		}
	}
	if f := rows["assets:vandar:globex:wallet"]; f != nil && (f[len(f)-2] == "0" || f[len(f)-1] != "DISAGREE") {
		t.Errorf("the wallet with a drift planted: %v", f)
	}
	if !slices.Contains(table, "  "+demo.LegendDifference) {
		t.Error("no line says what the difference's sign means")
	}

	// Every ledger account, with the signs explained and each suspense balance explained.
	var suspense []string
	for _, l := range block(demo.HeadingLedger) {
		if f := strings.Fields(l); len(f) == 4 && strings.HasSuffix(f[0], ":suspense") && f[3] != "0" {
			if !amount.MatchString(f[3]) {
				t.Errorf("suspense balance %q has no thousands separators", f[3])
			}
			suspense = append(suspense, f[0]+" "+f[3]+" "+f[2]+": ")
		}
	}
	flat := strings.Join(strings.Fields(result), " ")
	if !strings.Contains(flat, strings.Join(strings.Fields(demo.LegendSigns), " ")) {
		t.Error("the summary does not say what the signs mean")
	}
	if len(suspense) == 0 {
		t.Error("no suspense balance in the ledger: the simulated month has corrections")
	}
	for _, s := range suspense {
		if i := strings.Index(flat, s); i < 0 || !strings.Contains(flat[i:min(len(flat), i+700)], "clears them with an adjustment") {
			t.Errorf("the suspense balance %q is not explained", s)
		}
	}

	// Each planted discrepancy with its alert: the four matching ones among them.
	planted := strings.Join(block(demo.HeadingPlanted), "\n")
	if strings.Contains(planted, "NO ALERT") {
		t.Errorf("a planted discrepancy raised no alert:\n%s", planted)
	}
	for _, want := range []string{"→ [warning] unpaid", "→ [critical] amount_mismatch", "→ [critical] paid_twice",
		"→ [warning] unexpected", "→ [critical] running_balance", "→ [critical] balance", "→ [critical] bank_credit_missing"} {
		if !strings.Contains(planted, want) {
			t.Errorf("no %q among the planted discrepancies' alerts:\n%s", want, planted)
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePortPair returns a port p such that p and p+1 were both free: the demo serves the poller on p and the
// reconciler on p+1, and a p+1 that another process holds would fail the run, not the test's assumption.
func freePortPair(t *testing.T) int {
	for range 100 {
		p := freePort(t)
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free ports on 127.0.0.1")
	return 0
}

// makeUp runs make up on free ports until its reconciler answers /readyz, then stops it as Ctrl-C would. An
// error is make up ending before it was ready, or failing to stop cleanly.
func makeUp(t *testing.T, args []string, getenv func(string) string) (*sourcetest.LogBuffer, error) {
	kafkaPort, httpPort := freePort(t), freePortPair(t)
	for httpPort == kafkaPort || httpPort+1 == kafkaPort {
		httpPort = freePortPair(t)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &sourcetest.LogBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, append(args, "--keep-running", "--kafka-port", fmt.Sprint(kafkaPort),
			"--http-port", fmt.Sprint(httpPort)), getenv, out, out)
	}()
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort+1)
	deadline := time.Now().Add(5 * time.Minute) // a safety net only: it is ready in seconds
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			return out, fmt.Errorf("make up ended before it was ready: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("make up not ready after 5 minutes")
		}
	}
	cancel()
	if err := <-done; err != nil {
		return out, fmt.Errorf("make up, stopped: %w", err)
	}
	return out, nil
}
