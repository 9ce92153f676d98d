package yabandpaytest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"
)

// FaultKind is a way the API (or what stands in front of it) misbehaves.
type FaultKind int

// The faults a client must survive. They are the same as vandartest's, so that one conformance suite
// (internal/sources/sourcetest) drives both simulators.
const (
	// FaultStatus answers Fault.Status (500, 502 or 503; default 503) with YabandPay's failure envelope, or an
	// nginx-style HTML page if Fault.HTML is set.
	FaultStatus FaultKind = iota + 1
	// FaultTooManyRequests answers 429 with a Retry-After of Fault.RetryAfter (default 1 s).
	FaultTooManyRequests
	// FaultSlow waits Fault.Delay (or until the client gives up), then answers normally.
	FaultSlow
	// FaultTruncated answers 200 with the real JSON body cut in half, Content-Length matching the cut.
	FaultTruncated
	// FaultHTML200 answers 200 with an HTML error page, as a CDN or captive portal does.
	FaultHTML200
	// FaultReset closes the connection without answering (a TCP reset where the platform allows).
	FaultReset
)

// String names the kind, for test names and messages.
func (k FaultKind) String() string {
	switch k {
	case FaultStatus:
		return "status"
	case FaultTooManyRequests:
		return "too-many-requests"
	case FaultSlow:
		return "slow"
	case FaultTruncated:
		return "truncated"
	case FaultHTML200:
		return "html-200"
	case FaultReset:
		return "reset"
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one armed misbehaviour: see Server.Inject and Server.InjectRate. Faults stand for what is in front
// of YabandPay (proxies, CDN, the network), so they hit a request before it is read, whatever it asks.
type Fault struct {
	Kind       FaultKind
	Status     int           // FaultStatus
	HTML       bool          // FaultStatus: an HTML body instead of JSON
	RetryAfter time.Duration // FaultTooManyRequests, rounded up to whole seconds
	Delay      time.Duration // FaultSlow
}

// armed is a fault with what is left of it: a count of requests, or a rate.
type armed struct {
	f    Fault
	left int     // count-armed: requests still to hit
	rate float64 // rate-armed: the share of requests hit
}

// faults holds the armed faults; count-armed ones are used first, in the order armed.
type faults struct {
	armed []*armed
	rng   *rand.Rand
}

func (fs *faults) take() (Fault, bool) {
	for i, a := range fs.armed {
		if a.rate == 0 {
			f := a.f
			if a.left--; a.left <= 0 {
				fs.armed = append(fs.armed[:i], fs.armed[i+1:]...)
			}
			return f, true
		}
	}
	for _, a := range fs.armed {
		if a.rate > 0 && fs.rng.Float64() < a.rate {
			return a.f, true
		}
	}
	return Fault{}, false
}

// serveFault answers r with f; next is the normal answer, which a slow or truncated fault still gives.
func serveFault(w http.ResponseWriter, r *http.Request, f Fault, next http.HandlerFunc) {
	switch f.Kind {
	case FaultStatus:
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
		writeJSON(w, status, failure(strconv.Itoa(status), http.StatusText(status)))
	case FaultTooManyRequests:
		d := f.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		tooMany(w, d)
	case FaultSlow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			next(w, r)
		case <-r.Context().Done():
		}
	case FaultTruncated:
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
	case FaultHTML200:
		writeHTML(w, http.StatusOK, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"+
			"<title>Service unavailable</title></head><body><h1>We'll be back soon</h1>"+
			"<p>mapi.yabandpay.com is undergoing maintenance. Please try again in a few minutes.</p></body></html>\n")
	case FaultReset:
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

// tooMany answers 429 with Retry-After in whole seconds, rounded up. YabandPay documents no rate limit and no
// Retry-After; the simulator sends one, as the HTTP standard asks of a 429.
func tooMany(w http.ResponseWriter, d time.Duration) {
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	writeJSON(w, http.StatusTooManyRequests, failure("429", "Too Many Requests"))
}

// limiter is a sliding log per key: no window of the configured length ever holds more than the limit.
type limiter struct {
	hits  map[string][]time.Time
	swept time.Time
}

// allow records a request for key at now, or says how long until one would be allowed.
func (l *limiter) allow(key string, limit int, window time.Duration, now time.Time) (bool, time.Duration) {
	if l.hits == nil {
		l.hits = map[string][]time.Time{}
	}
	if now.Sub(l.swept) > time.Minute { // forget keys that have gone quiet
		for k, hs := range l.hits {
			if len(hs) == 0 || now.Sub(hs[len(hs)-1]) > window {
				delete(l.hits, k)
			}
		}
		l.swept = now
	}
	hs := l.hits[key]
	i := 0
	for i < len(hs) && now.Sub(hs[i]) >= window {
		i++
	}
	hs = hs[i:]
	if len(hs) >= limit {
		l.hits[key] = hs
		return false, hs[0].Add(window).Sub(now)
	}
	l.hits[key] = append(hs, now)
	return true, 0
}
