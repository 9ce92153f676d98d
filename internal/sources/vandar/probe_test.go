package vandar_test

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// update rewrites testdata/probe from the simulator: go test ./internal/sources/vandar -run TestProbe -update.
var update = flag.Bool("update", false, "rewrite testdata/probe from a probe of the simulator")

// probeNow is when the probed simulator stands: a generated week with payouts, a batch and a queue.
var probeNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func probedSim(t *testing.T) (*vandartest.Server, sources.Source, *sourcetest.Credentials) {
	t.Helper()
	sim, err := vandartest.NewServer(vandartest.Options{Now: func() time.Time { return probeNow },
		Businesses: []vandartest.BusinessOptions{{Slug: "acme", Seed: 2, Start: probeNow.AddDate(0, 0, -7), Days: 6,
			PerDay: 5, Batches: 2, Queued: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	access, refresh, _ := sim.IssueTokens("acme")
	store := sourcetest.NewCredentials().SetClock(sim.Now)
	src, err := vandar.Settings{Business: "acme", APIURL: sim.URL, BatchURL: sim.URL,
		AccessToken: sources.Secret(access), RefreshToken: sources.Secret(refresh),
		Tune: func(c *vandar.Config) { c.GetLimit, c.PostLimit = rate.Inf, rate.Inf }}.
		Open(sources.Env{Name: "vandar-acme", Credentials: store, Log: slog.New(slog.DiscardHandler), Now: sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	return sim, src, store
}

// A probe of the simulator calls each endpoint once, understands every answer, refreshes the dashboard's
// pair and stores the rotated one as a poll would, and records the answers with no secret and no personal
// data left in them.
func TestProbeUnderstandsTheSimulatorAndRecordsItRedacted(t *testing.T) {
	t.Parallel()
	sim, src, store := probedSim(t)
	dir := t.TempDir()
	if *update {
		dir = filepath.Join("testdata", "probe")
	}
	report, err := src.(sources.Prober).Probe(t.Context(), sources.DirRecorder(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() {
		t.Errorf("the probe found problems with the simulator: %+v", report)
	}
	want := []string{"GET /v2/business/acme/balance", "GET /v3/business/acme/transaction",
		"GET /v2.1/business/acme/settlement", "GET /v3/business/acme/settlement/queued",
		"GET /api/v2/business/acme/batches", "GET /api/v2/business/acme/batch-settlements/"}
	if len(report.Endpoints) != len(want) {
		t.Fatalf("%d endpoints probed, want %d: %+v", len(report.Endpoints), len(want), report.Endpoints)
	}
	for i, e := range report.Endpoints {
		if !strings.HasPrefix(e.Endpoint, want[i]) || e.Status != 200 || e.Shape == "" {
			t.Errorf("endpoint %d: %+v, want %s answered", i, e, want[i])
		}
		if e.Count > 0 && e.First == "" {
			t.Errorf("%s: %d items but no first item shown", e.Endpoint, e.Count)
		}
	}
	if n := sim.Requests(vandartest.EndpointRefreshToken); n != 1 {
		t.Errorf("%d refreshes, want the seed's one", n)
	}
	if len(report.Notes) == 0 || !strings.Contains(report.Notes[0], "access token expires 2026-03-15") {
		t.Errorf("notes %q: want the stored pair's expiry", report.Notes)
	}

	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != len(want) {
		t.Fatalf("recorded %v (%v), want one file per endpoint", files, err)
	}
	iban := regexp.MustCompile(`IR[0-9]{24}`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range iban.FindAllString(string(b), -1) {
			if m != "IR000000000000000000000000" {
				t.Errorf("%s keeps an IBAN: %s", f, m)
			}
		}
		for _, secret := range store.Values() {
			if len(secret) > 8 && strings.Contains(string(b), secret) {
				t.Errorf("%s keeps a token", f)
			}
		}
		if strings.Contains(string(b), `"api_token": "`) && !strings.Contains(string(b), `"api_token": "[redacted]"`) {
			t.Errorf("%s keeps an api_token", f)
		}
	}
}
