package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// pushgateway is an httptest server that takes pushes as a Pushgateway does (PUT /metrics/job/…) and keeps
// the last one.
type pushgateway struct {
	*httptest.Server
	mu                 sync.Mutex
	method, path, auth string
	families           []string
	body               map[string]float64
}

func newPushgateway(t *testing.T, status int) *pushgateway {
	g := &pushgateway{body: map[string]float64{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.method, g.path = r.Method, r.URL.Path
		if u, p, ok := r.BasicAuth(); ok {
			g.auth = u + ":" + p
		}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if err != io.EOF {
					t.Errorf("decode push: %v", err)
				}
				break
			}
			g.families = append(g.families, mf.GetName())
			for _, m := range mf.GetMetric() {
				key := mf.GetName()
				for _, l := range m.GetLabel() {
					key += "," + l.GetName() + "=" + l.GetValue()
				}
				switch {
				case m.Gauge != nil:
					g.body[key] = m.GetGauge().GetValue()
				case m.Counter != nil:
					g.body[key] = m.GetCounter().GetValue()
				}
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(g.Close)
	return g
}

// A push sends the whole registry, as a PUT replacing the group job/instance, with basic auth taken out of
// the URL.
func TestPushSendsTheRegistryToAPushgateway(t *testing.T) {
	t.Parallel()
	g := newPushgateway(t, http.StatusOK)
	p := NewPoller(build)
	p.Feed("vandar-acme", "statement")
	p.LastSuccess.WithLabelValues("vandar-acme", "statement").Set(1.7e9)
	url := strings.Replace(g.URL, "http://", "http://ops:s3cret@", 1)
	if err := Push(context.Background(), url, "mizan-poller", "vandar-acme.statement", p.Registry); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.method != http.MethodPut || g.path != "/metrics/job/mizan-poller/instance/vandar-acme.statement" || g.auth != "ops:s3cret" {
		t.Errorf("pushed %s %s with auth %q", g.method, g.path, g.auth)
	}
	for key, want := range map[string]float64{
		"mizan_poller_last_success_timestamp_seconds,feed=statement,source=vandar-acme": 1.7e9,
		"mizan_poller_last_poll_failed,feed=statement,source=vandar-acme":               0,
		"mizan_build_info,commit=abc123,goversion=go1.26.8,version=v1.2.3":              1,
	} {
		if got, ok := g.body[key]; !ok || got != want {
			t.Errorf("pushed %s = %v (present %v), want %v", key, got, ok, want)
		}
	}
}

// A refused push is an error naming the status and the gateway — never its password.
func TestPushErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	g := newPushgateway(t, http.StatusBadRequest)
	url := strings.Replace(g.URL, "http://", "http://ops:s3cret@", 1)
	err := Push(context.Background(), url, "mizan-poller", "all", NewPoller(build).Registry)
	if err == nil || !strings.Contains(err.Error(), "400") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
	for _, bad := range []string{"ftp://ops:s3cret@host", "ops:s3cret@host:9091", "://x"} {
		err := Push(context.Background(), bad, "mizan-poller", "all", NewPoller(build).Registry)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Push(%q) = %v", bad, err)
		}
	}
}
