package yabandpaytest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

// FaultKind is a way the API (or what stands in front of it) misbehaves.
type FaultKind = simfault.Kind

// The faults a client must survive. They are the same as vandartest's (both are simfault's), so that one
// conformance suite (internal/sources/sourcetest) drives both simulators.
const (
	// FaultStatus answers Fault.Status (500, 502 or 503; default 503) with YabandPay's failure envelope, or an
	// nginx-style HTML page if Fault.HTML is set.
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

// Fault is one armed misbehaviour: see Server.Inject and Server.InjectRate. Faults stand for what is in front
// of YabandPay (proxies, CDN, the network), so they hit a request before it is read, whatever it asks.
type Fault = simfault.Fault

// voice is how YabandPay words a fault's answer: its failure envelope, and an English maintenance page.
var voice = simfault.Voice{
	Error: func(w http.ResponseWriter, status int) {
		writeJSON(w, status, failure(strconv.Itoa(status), http.StatusText(status)))
	},
	TooMany: tooMany,
	HTML200Page: "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
		"<title>Service unavailable</title></head><body><h1>We'll be back soon</h1>" +
		"<p>mapi.yabandpay.com is undergoing maintenance. Please try again in a few minutes.</p></body></html>\n",
}

// tooMany answers 429 with Retry-After in whole seconds, rounded up. YabandPay documents no rate limit and no
// Retry-After; the simulator sends one, as the HTTP standard asks of a 429.
func tooMany(w http.ResponseWriter, d time.Duration) {
	simfault.SetRetryAfter(w, d)
	writeJSON(w, http.StatusTooManyRequests, failure("429", "Too Many Requests"))
}
