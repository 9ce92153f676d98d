// Package sourcetest is the conformance suite every mizan source must pass, in the manner of river's
// riverdrivertest and watermill's tests.TestPubSub: a source's own test implements a small Harness over its
// client and its simulator, calls Run, and the suite drives them through what every provider integration must
// survive — paging to the end with every fact exactly once, credentials refused, each kind of transient fault,
// a body that stays malformed, a rate limit, a cancelled context — with the same expectations for every
// provider.
//
// The suite only reads: it never asserts on timing, and it checks errors by what they say (the endpoint, a
// snippet of a bad body) and by what they must never say (a credential).
package sourcetest

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// Harness is what a source's test implements to run the suite: a way to start a fresh simulator and a
// client for it. Start is called once per sub-test, possibly from parallel sub-tests at once.
type Harness interface {
	// Start starts a simulator holding cfg.N facts (statement items, balances, …) and a client configured to
	// read it, and registers their cleanup with t. The client must be configured for tests:
	//   - it pages with a small page size, so that N = 25 takes several requests;
	//   - its HTTP timeout is short (under a second), so that a FaultSlow request times out and is retried;
	//   - its waits between attempts are recorded (State.Waits) and, unless cfg.RateLimit is set, not slept,
	//     so that retries cost no time; with cfg.RateLimit they are slept for real, since the simulator's
	//     rate limit runs on the real clock;
	//   - with cfg.RateLimit, its own rate limiter has the source's production defaults, which that test
	//     checks against the simulator's limit; without, the harness may lift it, so that the suite runs fast.
	Start(t *testing.T, cfg Config) Source
}

// Config says what kind of simulator a sub-test wants.
type Config struct {
	// N is how many facts the simulator holds.
	N int
	// RateLimit turns on the simulator's rate limit (the provider's documented one, or the simulator's
	// choice where none is documented).
	RateLimit bool
}

// Source is one started simulator and the client reading it.
type Source interface {
	// Fetch reads everything the simulator holds, as a poll would: it pages to the end and returns every
	// fact it read, in the order read. It stops at the first error and returns it.
	Fetch(ctx context.Context) ([]Fact, error)
	// Inject makes the simulator answer the next n requests with the fault, whichever endpoint they ask.
	Inject(f Fault, n int)
	// BreakCredentials makes the client present credentials the provider refuses from now on (a wrong key,
	// a revoked token pair) — refused for good, not merely expired: no refresh can cure it.
	BreakCredentials()
	// State reports what the simulator holds and has seen so far.
	State() State
}

// State is a snapshot of a started Source.
type State struct {
	// Want is the truth: the facts the simulator holds now, as Fetch must return them (in any order).
	Want []Fact
	// Requests is how many HTTP requests the simulator has received, whatever it answered.
	Requests int
	// Throttled is how many 429s the simulator's rate limit has served (injected faults not included).
	Throttled int
	// Limit is how many requests the simulator's rate limit allows in one of its windows (0 if it has none).
	Limit int
	// Waits are the waits between attempts the client has asked for so far, in order.
	Waits []time.Duration
	// Endpoints are the names the client's errors use for the endpoints it calls, e.g.
	// "GET /v3/business/acme/transaction": an error must name at least one of them.
	Endpoints []string
	// Secrets are every credential the client has held, broken ones included: none may appear in an error.
	Secrets []string
}

// Fact is one thing a source read, reduced to what the suite compares: Key identifies it (an item id, a
// currency) and Value renders whatever about it must be right (amounts, state). Two facts with one Key in a
// Fetch are a duplicate.
type Fact struct {
	Key   string
	Value string
}

// Fault is a way the provider, or what stands in front of it, misbehaves for one request. A harness maps each
// to its simulator's own fault knob.
type Fault int

// The faults every source must survive.
const (
	// FaultServerError is an HTTP 503 with the provider's error body.
	FaultServerError Fault = iota + 1
	// FaultTooManyRequests is an HTTP 429 with Retry-After: 1 (one second).
	FaultTooManyRequests
	// FaultSlow is an answer slower than the client's HTTP timeout.
	FaultSlow
	// FaultTruncated is an HTTP 200 whose JSON body is cut short.
	FaultTruncated
	// FaultHTML is an HTTP 200 whose body is an HTML page (a proxy's, a CDN's, a captive portal's).
	FaultHTML
	// FaultReset is a connection closed without an answer.
	FaultReset
)

// Faults lists every Fault, in order.
func Faults() []Fault {
	return []Fault{FaultServerError, FaultTooManyRequests, FaultSlow, FaultTruncated, FaultHTML, FaultReset}
}

// String names the fault, for sub-test names.
func (f Fault) String() string {
	switch f {
	case FaultServerError:
		return "server error"
	case FaultTooManyRequests:
		return "429 with Retry-After"
	case FaultSlow:
		return "slow answer"
	case FaultTruncated:
		return "truncated JSON"
	case FaultHTML:
		return "HTML page"
	case FaultReset:
		return "connection reset"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}
