package simfault

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Kind is a way the API (or what stands in front of it) misbehaves.
type Kind int

// The faults a client must survive.
const (
	// Status answers Fault.Status (500, 502 or 503; default 503) with the provider's JSON error body (see
	// Voice.Error), or an nginx-style HTML page if Fault.HTML is set.
	Status Kind = iota + 1
	// TooManyRequests answers 429 with a Retry-After of Fault.RetryAfter (default 1 s).
	TooManyRequests
	// Slow waits Fault.Delay (or until the client gives up), then answers normally.
	Slow
	// Truncated answers 200 with the real JSON body cut in half, Content-Length matching the cut.
	Truncated
	// HTML200 answers 200 with an HTML error page (Voice.HTML200Page), as a CDN or captive portal does.
	HTML200
	// Reset closes the connection without answering (a TCP reset where the platform allows).
	Reset
)

// String names the kind, for test names and messages.
func (k Kind) String() string {
	switch k {
	case Status:
		return "status"
	case TooManyRequests:
		return "too-many-requests"
	case Slow:
		return "slow"
	case Truncated:
		return "truncated"
	case HTML200:
		return "html-200"
	case Reset:
		return "reset"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one misbehaviour, with what its Kind needs to know.
type Fault struct {
	Kind       Kind
	Status     int           // Status
	HTML       bool          // Status: an HTML body instead of JSON
	RetryAfter time.Duration // TooManyRequests, rounded up to whole seconds
	Delay      time.Duration // Slow
}

// Set holds armed faults of type F (Fault, or a simulator's own that aims at some requests only). A fault
// armed by count is used before any armed by rate, in the order armed. It is safe for concurrent use.
type Set[F any] struct {
	mu    sync.Mutex
	armed []*armed[F]
	rng   *rand.Rand
}

// armed is a fault with what is left of it: a count of requests, or a rate.
type armed[F any] struct {
	f    F
	left int     // count-armed: requests still to hit
	rate float64 // rate-armed: the share of matching requests hit
}

// NewSet returns an empty Set whose rate-armed faults draw the requests they hit from rng.
func NewSet[F any](rng *rand.Rand) *Set[F] { return &Set[F]{rng: rng} }

// Inject arms f for the next n requests it matches. n <= 0 arms nothing.
func (s *Set[F]) Inject(f F, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = append(s.armed, &armed[F]{f: f, left: n})
}

// InjectRate arms f for a share of the requests it matches (0 < rate <= 1; more is 1), until Clear.
// rate <= 0 arms nothing.
func (s *Set[F]) InjectRate(f F, rate float64) {
	if rate <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = append(s.armed, &armed[F]{f: f, rate: min(rate, 1)})
}

// Clear disarms every fault.
func (s *Set[F]) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = nil
}

// Take returns the fault that hits a request, if any: the first count-armed fault that matches it (one of its
// requests used up), else the first rate-armed one that matches and whose draw hits. match says whether an
// armed fault aims at this request; nil matches every fault.
func (s *Set[F]) Take(match func(F) bool) (F, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range s.armed {
		if a.rate == 0 && (match == nil || match(a.f)) {
			f := a.f
			if a.left--; a.left <= 0 {
				s.armed = append(s.armed[:i], s.armed[i+1:]...)
			}
			return f, true
		}
	}
	for _, a := range s.armed {
		if a.rate > 0 && (match == nil || match(a.f)) && s.rng.Float64() < a.rate {
			return a.f, true
		}
	}
	var none F
	return none, false
}

// Voice is how a simulated provider words the answers whose body is its own.
type Voice struct {
	// Error writes the provider's JSON error body with an error status: a Status fault without HTML.
	Error func(w http.ResponseWriter, status int)
	// TooMany answers 429 with a Retry-After of d (see SetRetryAfter): a TooManyRequests fault, and the
	// simulator's own rate limit.
	TooMany func(w http.ResponseWriter, d time.Duration)
	// HTML200Page is the page an HTML200 fault answers with: what a CDN or a maintenance page in front of the
	// provider would say.
	HTML200Page string
}

// Serve answers r with f, in v's words; next is the normal answer, which a slow or truncated fault still
// gives. A Fault of no known Kind is answered normally.
func Serve(w http.ResponseWriter, r *http.Request, f Fault, next http.HandlerFunc, v Voice) {
	switch f.Kind {
	case Status:
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		if f.HTML {
			writeHTML(w, status, fmt.Sprintf("<html>\r\n<head><title>%[1]d %[2]s</title></head>\r\n<body>\r\n"+
				"<center><h1>%[1]d %[2]s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
				status, http.StatusText(status)))
			return
		}
		v.Error(w, status)
	case TooManyRequests:
		d := f.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		v.TooMany(w, d)
	case Slow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			next(w, r)
		case <-r.Context().Done():
		}
	case Truncated:
		rec := httptest.NewRecorder()
		next(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		cut := body[:len(body)/2]
		w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(cut)
	case HTML200:
		writeHTML(w, http.StatusOK, v.HTML200Page)
	case Reset:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler) // the server drops the connection without answering
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN: a reset, not a polite hang-up
		}
		_ = conn.Close()
	default:
		next(w, r)
	}
}

func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(page))
}

// SetRetryAfter sets the Retry-After header to d in whole seconds, rounded up, and at least 1.
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
}
