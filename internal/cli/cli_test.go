package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/metrics"
	"github.com/mizanhq/mizan/internal/pgtest"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// Serve listens before it returns: the health endpoint answers at once, with no wait for a goroutine to bind.
func TestServeAnswersAsSoonAsItReturns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop, err := Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": addr}), "", metrics.NewPoller(metrics.Build{}).Registry, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz right after Serve returned: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
}

// An address already taken is refused by Serve itself, naming the variable that chose it.
func TestServeRefusesATakenAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, err = Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": ln.Addr().String()}), "", metrics.NewPoller(metrics.Build{}).Registry, nil, log)
	if err == nil || !strings.Contains(err.Error(), "MIZAN_HTTP_ADDR "+ln.Addr().String()) {
		t.Fatalf("err = %v, want a refusal naming MIZAN_HTTP_ADDR and the address", err)
	}
}

// MIZAN_HTTP_ADDR=off turns the server off even where the command has a default address: nothing listens there.
func TestServeOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop, err := Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": "off"}), addr, metrics.NewPoller(metrics.Build{}).Registry, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Fatalf("something listens on the default address %s with MIZAN_HTTP_ADDR=off", addr)
	}
}

// The commands' sessions plan with random_page_cost 1.1, unless DATABASE_URL says otherwise.
func TestPoolPlansForCachedIndexesUnlessTheURLSaysOtherwise(t *testing.T) {
	url := pgtest.AdminURL()
	for _, tc := range []struct{ url, want string }{
		{url, "1.1"},
		{withParam(url, "random_page_cost=3"), "3"},
	} {
		pool, err := Pool(t.Context(), config.Env{DatabaseURL: tc.url})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = pool.QueryRow(t.Context(), "SHOW random_page_cost").Scan(&got)
		pool.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("random_page_cost = %s, want %s", got, tc.want)
		}
	}
}

func withParam(url, param string) string {
	if strings.Contains(url, "?") {
		return url + "&" + param
	}
	return url + "?" + param
}

// A DATABASE_URL that cannot be parsed is named, and its text (which may hold a password) is not repeated.
func TestPoolRefusesABadURLWithoutQuotingIt(t *testing.T) {
	_, err := Pool(t.Context(), config.Env{DatabaseURL: "postgres://u:s3cret@[::1"})
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v, want a refusal naming DATABASE_URL without the password", err)
	}
}

// The commands' logs give durations in seconds under a key saying so, never slog's integer nanoseconds.
func TestLoggerWritesDurationsInSeconds(t *testing.T) {
	var out strings.Builder
	log := Logger(&out, env(nil)).With("wait", 1500*time.Millisecond)
	log.Info("poll complete", "duration", 17174*time.Millisecond, slog.Group("retry", slog.Duration("after", 250*time.Millisecond)))
	var line map[string]any
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if line["duration_seconds"] != 17.174 || line["wait_seconds"] != 1.5 {
		t.Errorf("durations not in seconds: %s", out.String())
	}
	if g, _ := line["retry"].(map[string]any); g["after_seconds"] != 0.25 {
		t.Errorf("a grouped duration is not in seconds: %s", out.String())
	}
	if _, ok := line["duration"]; ok {
		t.Errorf("the nanoseconds are still there: %s", out.String())
	}
}
