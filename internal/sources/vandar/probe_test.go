package vandar_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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
	if notes := strings.Join(report.Endpoints[1].Notes, "; "); !strings.Contains(notes, "the wage is on top of the amount") {
		t.Errorf("statement notes %q: want the fee convention the simulator's running balance shows", notes)
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

// A probe of an account whose statement differs from what the poller handles says so and is not OK: here
// the wallet moves by the amount alone (the wage inside it, not on top as mizan posts it), and an item
// carries a status no document lists. The answer is the simulator's, rewritten on its way to the probe.
func TestProbeReportsAWageInsideTheAmountAndAnUnknownStatus(t *testing.T) {
	t.Parallel()
	sim, _, _ := probedSim(t)
	target, err := url.Parse(sim.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if !strings.HasSuffix(r.Request.URL.Path, "/transaction") {
			return nil
		}
		var page map[string]any
		if err := json.NewDecoder(r.Body).Decode(&page); err != nil {
			return err
		}
		items := page["data"].([]any)
		moved := func(i int) float64 { // when an item moved the wallet; one that did not, last
			it := items[i].(map[string]any)
			at, ok := it["effective_time_stamp"].(float64)
			if info, known := vandar.LookupStatus(int(it["status"].(float64))); !ok || !known || !info.MovedWallet {
				return math.MaxFloat64
			}
			return at
		}
		sort.SliceStable(items, func(i, j int) bool { return moved(i) < moved(j) })
		wallet := 1_000_000_000.0
		for i, v := range items {
			it := v.(map[string]any)
			if moved(i) == math.MaxFloat64 {
				continue
			}
			move := it["amount"].(float64)
			if it["is_deposit"] != true {
				move = -move
			}
			wallet += move // the wage inside the amount: the wallet moves by the amount alone
			it["wallet"] = wallet
		}
		items[len(items)-1].(map[string]any)["status"] = 77
		b, err := json.Marshal(page)
		if err != nil {
			return err
		}
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	access, refresh, _ := sim.IssueTokens("acme")
	src, err := vandar.Settings{Business: "acme", APIURL: front.URL, BatchURL: front.URL,
		AccessToken: sources.Secret(access), RefreshToken: sources.Secret(refresh),
		Tune: func(c *vandar.Config) { c.GetLimit, c.PostLimit = rate.Inf, rate.Inf }}.
		Open(sources.Env{Name: "vandar-acme", Credentials: sourcetest.NewCredentials().SetClock(sim.Now),
			Log: slog.New(slog.DiscardHandler), Now: sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	report, err := src.(sources.Prober).Probe(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if report.OK() {
		t.Fatalf("the probe found nothing wrong with a wage inside the amount and status 77: %+v", report)
	}
	statement := report.Endpoints[1]
	problems := strings.Join(statement.Problems, "; ")
	for _, want := range []string{"the wage inside it", "77"} {
		if !strings.Contains(problems, want) {
			t.Errorf("statement problems %q: want one naming %q", problems, want)
		}
	}
	for _, e := range report.Endpoints[2:] {
		if len(e.Problems) > 0 {
			t.Errorf("%s: problems %q, but only the statement was rewritten", e.Endpoint, e.Problems)
		}
	}
}
