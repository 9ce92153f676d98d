package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
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
`, b.src.APIURL, b.src.APIURL)), 0o600)
	if err != nil {
		b.t.Fatal(err)
	}
	return append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"KAFKA_BROKERS="+strings.Join(b.kafka.Brokers, ","),
		"MIZAN_TOPIC_PREFIX="+b.kafka.TopicPrefix,
		"MIZAN_SOURCES="+sources,
		"MIZAN_SECRET_KEY="+secretKey,
		"ACME_ACCESS="+b.src.AccessToken.Reveal(),
		"ACME_REFRESH="+b.src.RefreshToken.Reveal(),
		"MIZAN_CONSUMER_GROUP="+group,
		"KAFKA_SESSION_TIMEOUT=6s",
		"KAFKA_MAX_BATCH=200",
		"MIZAN_HTTP_ADDR=off",
		"MIZAN_SETTLE_DELAY=0s",
		"MIZAN_LOG_LEVEL=warn",
	)
}

// TestSIGTERMAtRandomPointsLosesAndRepeatsNothing stops the real binaries with SIGTERM at random moments —
// the reconciler while it consumes, the poller mid-backfill — restarts them, and checks that the ledger ends
// exactly where the provider is: nothing lost, nothing counted twice.
func TestSIGTERMAtRandomPointsLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	b := setup(t, afterHistory, vandartest.Options{Businesses: []vandartest.BusinessOptions{{
		Slug: "acme", Seed: 33, Start: historyStart, Days: 30, PerDay: 120, OpeningWallet: 1_000_000,
	}}})
	env := b.processEnv(b.dbURL, "shutdown-test")
	rng := rand.New(rand.NewPCG(42, 7))
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		return cmd
	}
	stop := func(cmd *exec.Cmd, after time.Duration) error {
		time.Sleep(after)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return cmd.Wait()
	}
	final := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v %s", name, args, err, out)
		}
	}
	final("reconciler", "migrate")

	// The poller is stopped mid-backfill three times; each run resumes from the saved cursor.
	for i := range 3 {
		if err := stop(run("poller", "once"), time.Duration(20+rng.IntN(200))*time.Millisecond); err != nil {
			t.Logf("poller stopped by SIGTERM (run %d): %v", i, err)
		}
	}
	// The reconciler consumes while it is stopped and restarted at random points.
	terms := 0
	for range 5 {
		r := run("reconciler", "run")
		if err := stop(r, time.Duration(300+rng.IntN(1200))*time.Millisecond); err != nil {
			t.Fatalf("reconciler did not stop cleanly on SIGTERM: %v", err)
		}
		terms++
	}
	if n := b.count(context.Background(), `SELECT count(*) FROM recon.processed_events`); n == 0 {
		t.Fatal("the reconciler was never stopped while it had work: nothing was applied before the final run")
	}
	if n := b.count(context.Background(), `SELECT count(*) FROM poller.cursors WHERE feed = 'statement'`); n == 0 {
		t.Fatal("no poller run saved a cursor before it was stopped")
	}
	// Then everything runs to the end.
	final("poller", "once")
	final("reconciler", "run", "--until-idle")
	mustEqualWallet(t, b.walletBalance(context.Background()), b.sim.Wallet("acme"))
	items := b.sim.Items("acme")
	if got, want := b.count(context.Background(), `SELECT count(*) FROM ledger.entries`), movedItems(items)+1; got != want {
		t.Fatalf("%d entries after %d SIGTERMs, want %d", got, terms, want)
	}
}
