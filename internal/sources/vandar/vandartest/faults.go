package vandartest

import (
	"net/http"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// FaultKind is a way the API (or what stands in front of it) misbehaves. The kinds are simfault's, shared
// with yabandpaytest.
type FaultKind = simfault.Kind

// The faults a client must survive.
const (
	// FaultStatus answers Fault.Status (500, 502 or 503; default 503) with a JSON body, or an nginx-style
	// HTML page if Fault.HTML is set.
	FaultStatus = simfault.Status
	// FaultTooManyRequests answers 429 with a Retry-After of Fault.RetryAfter (default 1 s).
	FaultTooManyRequests = simfault.TooManyRequests
	// FaultSlow waits Fault.Delay (or until the client gives up), then answers normally.
	FaultSlow = simfault.Slow
	// FaultTruncated answers 200 with the real JSON body cut in half, Content-Length matching the cut.
	FaultTruncated = simfault.Truncated
	// FaultHTML200 answers 200 with an HTML error page, as a CDN or captive portal does.
	FaultHTML200 = simfault.HTML200
	// FaultReset closes the connection without answering (a TCP reset where the platform allows).
	FaultReset = simfault.Reset
)

// Fault is one armed misbehaviour: see Server.Inject and Server.InjectRate. Unlike simfault.Fault it can aim
// at one endpoint.
type Fault struct {
	Kind       FaultKind
	Endpoint   Endpoint      // the endpoint it hits; "" means every endpoint
	Status     int           // FaultStatus
	HTML       bool          // FaultStatus: an HTML body instead of JSON
	RetryAfter time.Duration // FaultTooManyRequests, rounded up to whole seconds
	Delay      time.Duration // FaultSlow
}

// hits reports whether f aims at a request to ep.
func (f Fault) hits(ep Endpoint) bool { return f.Endpoint == "" || f.Endpoint == ep }

// serveFault answers r with f; next is the normal answer, which a slow or truncated fault still gives.
func serveFault(w http.ResponseWriter, r *http.Request, f Fault, next http.HandlerFunc) {
	sf := simfault.Fault{Kind: f.Kind, Status: f.Status, HTML: f.HTML, RetryAfter: f.RetryAfter, Delay: f.Delay}
	simfault.Serve(w, r, sf, next, voice)
}

// voice is how Vandar words a fault's answer: Laravel's {"error": …} body, and a Persian maintenance page.
var voice = simfault.Voice{
	Error: func(w http.ResponseWriter, status int) {
		writeJSON(w, status, errorBody{Error: http.StatusText(status)})
	},
	TooMany: tooMany,
	HTML200Page: "<!DOCTYPE html>\n<html lang=\"fa\" dir=\"rtl\"><head><meta charset=\"utf-8\">" +
		"<title>خطا</title></head><body><h1>سرویس در دسترس نیست</h1><p>لطفا دقایقی دیگر دوباره تلاش کنید.</p>" +
		"</body></html>\n",
}

// tooMany answers 429 with Retry-After in whole seconds, rounded up. Vandar's documents don't say whether it
// sends Retry-After; the simulator always does (facts.md §2.9: a public client honours it when present).
func tooMany(w http.ResponseWriter, d time.Duration) {
	simfault.SetRetryAfter(w, d)
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "Too Many Attempts."})
}

// rateWindow is the window of Vandar's documented limits: 30 POSTs and 100 other requests per 3 seconds, per
// token, enforced as a sliding log (simfault.Limiter) so that no 3-second window ever holds more.
const rateWindow = 3 * time.Second
