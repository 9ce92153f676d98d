package yabandpay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The balance feed, polled through the source interface as the poller polls it, passes the interface's part
// of the conformance suite: one currency's answer that cannot be read is quarantined, the others arrive.
func TestPollConformance(t *testing.T) {
	t.Parallel()
	sourcetest.RunPolls(t, pollHarness{})
}

type pollHarness struct{}

// spoiler stands in front of the simulator and spoils the answers for the currencies it has been given.
type spoiler struct {
	next http.Handler
	mu   sync.Mutex
	cur  map[string]bool
}

func (s *spoiler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(req))
	rec := httptest.NewRecorder()
	s.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	s.mu.Lock()
	for c := range s.cur {
		if bytes.Contains(req, []byte(`"`+c+`"`)) && rec.Code == http.StatusOK {
			var top map[string]any
			if json.Unmarshal(body, &top) == nil {
				if data, ok := top["data"].(map[string]any); ok {
					data["available"] = "not a number"
					body, _ = json.Marshal(top)
				}
			}
		}
	}
	s.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

type pollSource struct {
	sim        *yabandpaytest.Server
	spoiler    *spoiler
	url        string
	currencies []string
	mu         sync.Mutex
	src        sources.Source
}

func (pollHarness) StartPoll(t *testing.T, cfg sourcetest.Config) sourcetest.PollSource {
	currencies := isoCodes[:max(cfg.N, 1)]
	var opts []yabandpaytest.CurrencyOptions
	for _, c := range currencies {
		opts = append(opts, yabandpaytest.CurrencyOptions{Currency: c})
	}
	sim, err := yabandpaytest.New(yabandpaytest.Options{Now: func() time.Time { return testNow },
		Merchants: []yabandpaytest.MerchantOptions{{User: testUser, SecretKey: testSecret, Seed: int64(cfg.N),
			Start: testNow.Add(-30 * 24 * time.Hour), Currencies: opts}}})
	if err != nil {
		t.Fatal(err)
	}
	sp := &spoiler{next: sim, cur: map[string]bool{}}
	hs := httptest.NewServer(sp)
	t.Cleanup(hs.Close)
	ps := &pollSource{sim: sim, spoiler: sp, url: hs.URL, currencies: currencies}
	ps.src = ps.open(t, testSecret)
	return ps
}

func (s *pollSource) open(t *testing.T, secret string) sources.Source {
	settings := yabandpay.Settings{User: testUser, APIURL: s.url, SecretKey: sources.Secret(secret),
		Currencies: s.currencies, Tune: func(c *yabandpay.Config) {
			c.Limit = rate.Inf
			c.HTTPClient = &http.Client{Timeout: 2 * time.Second}
			c.RetryInitial, c.RetryMax = time.Millisecond, time.Millisecond
			c.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
		}}
	src, err := settings.Open(sources.Env{Name: "yabandpay-" + testUser, Credentials: sourcetest.NewCredentials(),
		Log: slog.New(slog.DiscardHandler), Now: s.sim.Now})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func (s *pollSource) Source() sources.Source {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src
}

func (s *pollSource) Feed() string   { return events.FeedBalance }
func (s *pollSource) Now() time.Time { return s.sim.Now() }

func (s *pollSource) Fact(ev events.Event) (sourcetest.Fact, bool) {
	if ev.Type != events.TypeBalance {
		return sourcetest.Fact{}, false
	}
	b, err := events.DecodeData[events.Balance](ev)
	if err != nil {
		return sourcetest.Fact{}, false
	}
	return sourcetest.Fact{Key: b.Currency, Value: fmt.Sprintf("available=%s reserve=%s usable=%s deposit=%s",
		b.Figures["available"], b.Figures["reserve"], b.Figures["usable"], b.Figures["deposit"])}, true
}

func (s *pollSource) Want() []sourcetest.Fact {
	s.spoiler.mu.Lock()
	defer s.spoiler.mu.Unlock()
	var want []sourcetest.Fact
	for _, cur := range s.currencies {
		if s.spoiler.cur[cur] {
			continue
		}
		f, err := s.sim.Balance(testUser, cur)
		if err != nil {
			panic(err)
		}
		want = append(want, sourcetest.Fact{Key: cur, Value: fmt.Sprintf("available=%s reserve=%s usable=%s deposit=%s",
			f.Available, f.Reserve, f.Usable, f.Deposit)})
	}
	return want
}

func (s *pollSource) Garble(key string) {
	s.spoiler.mu.Lock()
	defer s.spoiler.mu.Unlock()
	s.spoiler.cur[key] = true
}

func (s *pollSource) Inject(f sourcetest.Fault, n int) {
	if f != sourcetest.FaultServerError {
		panic("pollSource injects only server errors")
	}
	s.sim.Inject(yabandpaytest.Fault{Kind: yabandpaytest.FaultStatus, Status: http.StatusServiceUnavailable}, n)
}

// BreakCredentials opens the source again with a key that is not the merchant's.
func (s *pollSource) BreakCredentials() {
	src := s.open(nil, "sk-broken-2b7e1f0c9a3d")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src = src
}

// A probe asks for each currency once and understands the simulator's answers; one it cannot read is a
// problem, naming the currency's endpoint and the field.
func TestProbeUnderstandsTheSimulator(t *testing.T) {
	t.Parallel()
	ps := pollHarness{}.StartPoll(t, sourcetest.Config{N: 3}).(*pollSource)
	dir := t.TempDir()
	report, err := ps.Source().(sources.Prober).Probe(t.Context(), sources.DirRecorder(dir))
	if err != nil || !report.OK() || len(report.Endpoints) != 3 {
		t.Fatalf("report %+v, %v: want 3 endpoints understood", report, err)
	}
	for _, e := range report.Endpoints {
		if e.Status != http.StatusOK || e.Count != 1 || e.First == "" || e.Shape == "" {
			t.Errorf("%+v", e)
		}
	}
	ps.Garble("CHF")
	report, err = ps.Source().(sources.Prober).Probe(t.Context(), nil)
	if err != nil || report.OK() || len(report.Endpoints[1].Problems) != 1 ||
		!strings.Contains(report.Endpoints[1].Problems[0], "field available") {
		t.Fatalf("report %+v, %v: want CHF's answer flagged", report, err)
	}
}
