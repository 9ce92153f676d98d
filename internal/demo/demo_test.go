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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/demo"
	"github.com/mizanhq/mizan/internal/devstack"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// make run, make run again, then make up stopped once it is ready: every start is clean and succeeds,
// with DATABASE_URL pointing at the tests' server (where the demo makes its own database). The second run
// is the one that failed before, on token pairs the first run's simulator had rotated.
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
	}

	// make up: ready when the reconciler it left running answers /readyz; then Ctrl-C.
	kafkaPort, httpPort := freePort(t), freePortPair(t)
	for httpPort == kafkaPort || httpPort+1 == kafkaPort {
		httpPort = freePortPair(t)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &syncBuffer{}
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
			t.Fatalf("make up ended before it was ready: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make up not ready:\n%s", out.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("make up, stopped: %v\n%s", err, out.String())
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

// syncBuffer is a bytes.Buffer the demo and its children's output goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ io.Writer = (*syncBuffer)(nil)
