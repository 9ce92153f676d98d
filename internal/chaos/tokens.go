package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// Vandar's access tokens are expired at planned moments of the chaos (live.expiries), each while both pollers
// are running, so that both find the pair due at once: Vandar retires a refresh token when it answers, and
// one presented again revokes the pairs issued from it (RefreshReuses), so the credential lock must let one
// poller refresh and the other adopt the stored pair. The refresh after one expiry (Setting.RefreshFaults) is
// answered 503 before Vandar rotates: the poller whose refresh fails must not take the pair for lost, and a
// later refresh — the other poller's, waiting on the lock, or its own next poll's — must succeed. Expiries
// go on, one every raceRetry, until one has been raced by both pollers for one business and both have polled
// it since; the chaos does not end before that, nor before the faulted refresh has been followed by a good one.
//
// No poller is killed, and PostgreSQL is not stopped, while a refreshed pair is between Vandar's answer and
// its first use (refreshGate): a pair lost there is lost for good, by Vandar's design, not mizan's fault.

// raceRetry is how long after an expiry the pollers did not both find due another is made.
const raceRetry = 10 * time.Second

// refusedLine and polledLine are the poller's log messages the race is read from: a request refused with the
// pair's expired access token (either poller, whoever then refreshes or adopts), and a finished poll.
const (
	refusedLine = "vandar: access token refused; refreshing once"
	polledLine  = "poll complete"
)

// tokenWatch is what the suite saw of the pollers at the expiries.
type tokenWatch struct {
	mu        sync.Mutex
	expiredAt []time.Time
	faults    int    // refreshes armed to fail
	racedAt   int    // 1 + the index of the first expiry both pollers found due for one business; 0: none yet
	racedBiz  string // that business
	wentOn    bool   // both pollers completed a poll of it after that expiry
}

// expireTokens expires every access token at the planned moments, then again every raceRetry until the
// pollers have raced one expiry and gone on polling. It returns when that is done or ctx ends.
func (s *suite) expireTokens(ctx context.Context) {
	l := s.w.live
	for i, at := range l.expiries {
		sleep(ctx, time.Until(at))
		if ctx.Err() != nil {
			return
		}
		s.expire(ctx, l.faulted[i])
	}
	if s.o.Setting.Pollers < 2 || len(l.expiries) == 0 {
		return
	}
	for ctx.Err() == nil {
		sleep(ctx, 2*time.Second)
		s.watchRace()
		t := &s.tokens
		t.mu.Lock()
		raced, wentOn, last := t.racedAt > 0, t.wentOn, t.expiredAt[len(t.expiredAt)-1]
		t.mu.Unlock()
		if raced && wentOn {
			return
		}
		if !raced && time.Since(last) >= raceRetry {
			s.expire(ctx, false)
		}
	}
}

// expire expires every access token once both pollers are running (or after 15 s), arming a 503 for the
// refresh that follows if fault.
func (s *suite) expire(ctx context.Context, fault bool) {
	want := min(2, s.o.Setting.Pollers)
	for deadline := time.Now().Add(15 * time.Second); ctx.Err() == nil && time.Now().Before(deadline) && s.running("poller") < want; {
		sleep(ctx, 20*time.Millisecond)
	}
	running := s.running("poller")
	t := &s.tokens
	t.mu.Lock()
	if fault {
		// Counted: used before any fault armed by rate, and none is armed on the refresh endpoint.
		s.w.vsim.Inject(vandartest.Fault{Kind: vandartest.FaultStatus, Status: 503, Endpoint: vandartest.EndpointRefreshToken}, 1)
		t.faults++
	}
	s.w.vsim.ExpireAccessTokenNow()
	t.expiredAt = append(t.expiredAt, time.Now())
	n := len(t.expiredAt)
	t.mu.Unlock()
	what := "the pollers must refresh and rotate their pairs"
	if fault {
		what = "the refresh that follows is answered 503 before Vandar rotates the pair; a later one must succeed"
	}
	s.logf("world: every Vandar access token expired (%d, %d pollers running): %s", n, running, what)
}

// watchRace reads the pollers' logs for the first expiry both pollers found due for one business, and then
// for a completed poll of that business by each of them after it.
func (s *suite) watchRace() {
	t := &s.tokens
	t.mu.Lock()
	expired := append([]time.Time(nil), t.expiredAt...)
	racedAt, racedBiz := t.racedAt, t.racedBiz
	t.mu.Unlock()
	if len(expired) == 0 {
		return
	}
	type key struct {
		expiry int
		biz    string
	}
	refused := map[key]int{} // replicas (bits) refused after the expiry
	polled := 0              // replicas (bits) that completed a poll of racedBiz after the raced expiry
	paths, _ := filepath.Glob(filepath.Join(s.dir, "logs", "poller-*.log"))
	for _, path := range paths {
		r, ok := s.replicas.Load(strings.TrimSuffix(filepath.Base(path), ".log"))
		if !ok {
			continue // a final run's, not a loop's
		}
		bit := 1 << r.(int)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, refusedLine) && !strings.Contains(line, polledLine) {
				continue
			}
			var l struct {
				Time     time.Time `json:"time"`
				Msg      string    `json:"msg"`
				Business string    `json:"business"`
				Source   string    `json:"source"`
			}
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			switch {
			case l.Msg == refusedLine && racedAt == 0:
				k := -1
				for i, at := range expired {
					if !l.Time.Before(at) {
						k = i
					}
				}
				if k >= 0 {
					refused[key{k, l.Business}] |= bit
				}
			case l.Msg == polledLine && racedAt > 0 && l.Source == "vandar-"+racedBiz && l.Time.After(expired[racedAt-1]):
				polled |= bit
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if racedAt == 0 {
		for k, bits := range refused {
			if bits == 3 && (t.racedAt == 0 || k.expiry+1 < t.racedAt) {
				t.racedAt, t.racedBiz = k.expiry+1, k.biz
			}
		}
		if t.racedAt > 0 {
			s.logf("world: both pollers found %s's pair due at expiry %d", t.racedBiz, t.racedAt)
		}
		return
	}
	if polled == 3 && !t.wentOn {
		t.wentOn = true
		s.logf("world: both pollers have polled %s since the expiry they raced", racedBiz)
	}
}

// tokensDone reports whether the expiries are all made, a faulted refresh followed by a good one, and (with
// two pollers) an expiry raced and polled through.
func (s *suite) tokensDone() bool {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	_, failed, recovered := s.w.live.refresh.counts()
	return len(t.expiredAt) >= len(s.w.live.expiries) && failed >= t.faults && (t.faults == 0 || recovered > 0) &&
		(s.o.Setting.Pollers < 2 || len(s.w.live.expiries) == 0 || t.racedAt > 0 && t.wentOn)
}

// tokenCounts returns what the summary shows of the tokens.
func (s *suite) tokenCounts() (expiries int, raced bool, biz string, wentOn bool, faults int) {
	t := &s.tokens
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.expiredAt), t.racedAt > 0, t.racedBiz, t.wentOn, t.faults
}

func (t *tokenWatch) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("%d expiries, %d refresh faults armed, raced at expiry %d (%s), both polled since %v",
		len(t.expiredAt), t.faults, t.racedAt, t.racedBiz, t.wentOn)
}

// refreshGate knows when a poller is between Vandar rotating its token pair and storing the new one: from the
// refresh answer until a request carries the new access token (mizan stores the pair before it uses it). A
// kill in that window loses the pair for good — Vandar has retired the old refresh token — which is the
// provider's property, not a fault of mizan's: the suite's kills of pollers, and its PostgreSQL stops (the
// pair's store), wait for the window to close.
type refreshGate struct {
	mu      sync.Mutex
	pending map[string]bool // new access tokens not yet seen in use
	changed chan struct{}

	// Refresh answers: with a new pair, with a 5xx, and with a new pair after a 5xx.
	rotated, failed, recovered int
}

// counts returns the refresh answers: rotated (a new pair), failed (5xx), recovered (a new pair after a 5xx).
func (g *refreshGate) counts() (rotated, failed, recovered int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rotated, g.failed, g.recovered
}

func newRefreshGate() *refreshGate {
	return &refreshGate{pending: map[string]bool{}, changed: make(chan struct{})}
}

func (g *refreshGate) signal() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// wait returns once no refresh is pending, or after limit (a poller that died otherwise never uses its new
// token; the suite must not wait for it for ever).
func (g *refreshGate) wait(ctx context.Context, limit time.Duration) {
	deadline := time.After(limit)
	for {
		g.mu.Lock()
		n, ch := len(g.pending), g.changed
		g.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

// hook wraps the simulator: refresh answers open the window, a request with the new access token closes it.
// It counts the refresh answers too.
func (g *refreshGate) hook(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "refreshtoken") {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				g.mu.Lock()
				if g.pending[tok] {
					delete(g.pending, tok)
					g.signal()
				}
				g.mu.Unlock()
			}
			next.ServeHTTP(rw, r)
			return
		}
		rec := &recorder{ResponseWriter: rw}
		g.mu.Lock() // held while answering: a wait that starts meanwhile sees the new token pending
		defer g.mu.Unlock()
		next.ServeHTTP(rec, r)
		if rec.status >= 500 {
			g.failed++
			return
		}
		var answer struct {
			AccessToken string `json:"access_token"`
			Data        struct {
				AccessToken string `json:"access_token"`
			} `json:"data"`
		}
		if json.Unmarshal(rec.body, &answer) == nil {
			if tok := cmpOr(answer.AccessToken, answer.Data.AccessToken); tok != "" {
				g.pending[tok] = true
				g.rotated++
				if g.failed > 0 {
					g.recovered++
				}
			}
		}
	})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// recorder keeps a copy of what a handler writes, and its status.
type recorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body = append(r.body, b...)
	return r.ResponseWriter.Write(b)
}
