package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/testpoint"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the real poller and reconciler once per test process.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "mizan-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+"/", "github.com/mizanhq/mizan/cmd/poller",
			"github.com/mizanhq/mizan/cmd/reconciler").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// processEnv is the environment the binaries run with against the bundle's database, broker and simulator.
func (b *bundle) processEnv(dbURL, group string) []string {
	b.t.Helper()
	sources := filepath.Join(b.t.TempDir(), "sources.yaml")
	err := os.WriteFile(sources, []byte(fmt.Sprintf(`sources:
  - name: vandar-acme
    provider: vandar
    business: acme
    api_url: %s
    batch_url: %s
    access_token_env: ACME_ACCESS
    refresh_token_env: ACME_REFRESH
    feeds: { statement: "@every 1m", balance: "@every 5m" }
`, b.vandarSettings().APIURL, b.vandarSettings().APIURL)), 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	return append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"KAFKA_BROKERS="+strings.Join(b.kafka.Brokers, ","),
		"MIZAN_TOPIC_PREFIX="+b.kafka.TopicPrefix,
		"MIZAN_SOURCES="+sources,
		"MIZAN_SECRET_KEY="+secretKey,
		"MIZAN_SIGNING_KEYS="+signingKeys,
		"ACME_ACCESS="+b.vandarSettings().AccessToken.Reveal(),
		"ACME_REFRESH="+b.vandarSettings().RefreshToken.Reveal(),
		"MIZAN_CONSUMER_GROUP="+group,
		"KAFKA_SESSION_TIMEOUT=6s",
		"KAFKA_MAX_BATCH=200",
		"MIZAN_HTTP_ADDR=off",
		"MIZAN_SETTLE_DELAY=0s",
		"MIZAN_LOG_LEVEL=warn",
	)
}

// TestSIGTERMMidPageAndMidBatchLosesAndRepeatsNothing stops the real binaries with SIGTERM in the middle of
// their work — the poller after it has published a page and before it has saved the cursor, the reconciler
// after a batch is in PostgreSQL and before its offsets are committed — restarts them, and checks that the
// ledger ends exactly where the provider is: nothing lost, nothing counted twice.
//
// Where each stop lands is not left to timing: the processes run with a test point armed (internal/testpoint),
// pause there, and are stopped while they wait; the test then lets them go on, and they must finish that page
// or batch and exit cleanly. A loaded machine only makes the test slower.
func TestSIGTERMMidPageAndMidBatchLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 33, Start: historyStart, Days: 30, PerDay: 120, OpeningWallet: 1_000_000,
	}}})
	// The commands connect as the runtime role; the migrations run as the owner.
	env := b.processEnv(b.appURL, "shutdown-test")
	ctx := context.Background()
	final := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = env
		if name == "reconciler" && args[0] == "migrate" {
			cmd.Env = b.processEnv(b.dbURL, "shutdown-test")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v %s", name, args, err, out)
		}
	}
	final("reconciler", "migrate")

	// The poller is stopped three times mid-backfill, each time between a page's publish and its cursor save;
	// it must save the cursor of the page it published before it exits, and the next run resumes from it.
	cursor := func() string {
		var c string
		err := b.pool.QueryRow(ctx, `SELECT coalesce((SELECT cursor::text FROM poller.cursors WHERE feed = 'statement'), '')`).Scan(&c)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range 3 {
		before := cursor()
		p := startPaused(t, bin, env, testpoint.PollerPublished, "poller", "once")
		p.sigterm(t)
		if err := p.wait(); err != nil {
			t.Logf("poller run %d stopped by SIGTERM: %v", i, err)
		}
		if after := cursor(); after == "" || after == before {
			t.Fatalf("poller run %d published a page and was stopped, but did not save the cursor past it (before %q, after %q)\n%s",
				i, before, after, p.out.String())
		}
	}
	// The reconciler is stopped five times with a batch in PostgreSQL whose offsets are not committed yet: it
	// must commit them and exit cleanly. Small batches, so that every run has work.
	//
	// The first run starts with nothing applied, so the batch it pauses on is new to the ledger: the stop lands
	// on real work. A later run may pause on a batch of duplicates only: the apply workers of the run before
	// it applied batches beyond the last one whose offsets it could commit, and those are read again — exactly
	// the replay the event ids make harmless, and a SIGTERM there must be as clean.
	renv := append(append([]string(nil), env...), "KAFKA_MAX_BATCH=20")
	for i := range 5 {
		before := b.count(ctx, `SELECT count(*) FROM recon.processed_events`)
		r := startPaused(t, bin, renv, testpoint.ReconcilerApplied, "reconciler", "run")
		if after := b.count(ctx, `SELECT count(*) FROM recon.processed_events`); i == 0 && after <= before {
			t.Fatalf("reconciler run %d paused after a batch's database commit, but nothing new was applied (%d before, %d after)",
				i, before, after)
		}
		r.sigterm(t)
		if err := r.wait(); err != nil {
			t.Fatalf("reconciler run %d did not stop cleanly on SIGTERM mid-batch: %v\n%s", i, err, r.out.String())
		}
	}
	if n := b.count(ctx, `SELECT count(*) FROM poller.cursors WHERE feed = 'statement'`); n == 0 {
		t.Fatal("no poller run saved a cursor before it was stopped")
	}
	// Then everything runs to the end.
	final("poller", "once")
	final("reconciler", "run", "--until-idle")
	mustEqualWallet(t, b.walletBalance(ctx), b.sim.Wallet("acme"))
	items := b.sim.Items("acme")
	if got, want := b.count(ctx, `SELECT count(*) FROM ledger.entries`), movedItems(items)+1; got != want {
		t.Fatalf("%d entries after 8 SIGTERMs, want %d", got, want)
	}
}

// pausedProc is a binary started with a test point armed.
type pausedProc struct {
	cmd   *exec.Cmd
	dir   string
	point string
	out   *sourcetest.LogBuffer
	done  chan struct{}
	err   error
}

// startPaused starts a binary with the test point armed and returns once the process waits at it. Waiting
// has a deadline only as a safety net: a process that exits, or never gets there, fails the test with its
// output.
func startPaused(t *testing.T, bin string, env []string, point, name string, args ...string) *pausedProc {
	t.Helper()
	dir := t.TempDir()
	p := &pausedProc{dir: dir, point: point, out: &sourcetest.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, name), args...)
	p.cmd.Env = append(append([]string(nil), env...), testpoint.EnvPauseAt+"="+point, testpoint.EnvPauseDir+"="+dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	deadline := time.After(3 * time.Minute)
	for !testpoint.Paused(dir, point) {
		select {
		case <-p.done:
			t.Fatalf("%s %v exited (%v) before it reached %s:\n%s", name, args, p.err, point, p.out.String())
		case <-deadline:
			t.Fatalf("%s %v did not reach %s within 3 minutes:\n%s", name, args, point, p.out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return p
}

// sigterm asks the paused process to stop, as Kubernetes does, then lets it go on from the point.
func (p *pausedProc) sigterm(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Resume only once the signal has surely been delivered and handled: the process's signal context is done
	// before it goes on, so the rest of the page or batch runs under shutdown. A SIGTERM is handled by the Go
	// runtime asynchronously; the process logs nothing for it, so the test gives the handler a moment to run.
	// That moment only decides whether the shutdown is seen before or after the resume — both must be clean.
	time.Sleep(20 * time.Millisecond)
	if err := testpoint.Resume(p.dir, p.point); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the process to exit (a safety-net deadline of 3 minutes) and returns its exit error.
func (p *pausedProc) wait() error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(3 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within 3 minutes of SIGTERM: %v", p.err)
	}
}
