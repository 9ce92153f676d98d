package cli

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/metrics"
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
	stop, err := Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": addr}), "", metrics.New(), nil, log)
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
	_, err = Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": ln.Addr().String()}), "", metrics.New(), nil, log)
	if err == nil || !strings.Contains(err.Error(), "MIZAN_HTTP_ADDR "+ln.Addr().String()) {
		t.Fatalf("err = %v, want a refusal naming MIZAN_HTTP_ADDR and the address", err)
	}
}

// MIZAN_HTTP_ADDR=off turns the server off even where the command has a default address.
func TestServeOff(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	stop, err := Serve(t.Context(), env(map[string]string{"MIZAN_HTTP_ADDR": "off"}), "127.0.0.1:1", metrics.New(), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
}
