package sourcetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Sizes the suite asks for: enough facts to span several pages, and a few for the tests that count requests.
const (
	manyFacts = 25
	fewFacts  = 3
)

// faultRepeats is how many requests in a row a transient fault hits: fewer than any source's retry budget,
// more than one, so that a retry that is itself faulted is retried again.
const faultRepeats = 2

// persistent is how many requests a persistent fault hits: more than any sensible retry budget.
const persistent = 1000

// maxErrorLen bounds an error's text: an error is a line in a log, not a copy of the body.
const maxErrorLen = 1000

// Run runs the conformance suite against h. Every sub-test starts its own simulator and runs in parallel
// with the others. Under -short the rate-limit test, which waits on the real clock, is skipped.
func Run(t *testing.T, h Harness) {
	t.Run("fetches every fact exactly once, paging to the end", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: manyFacts})
		got := fetch(t, t.Context(), src)
		st := src.State()
		if len(st.Want) != manyFacts {
			t.Fatalf("the harness started a simulator holding %d facts, want %d", len(st.Want), manyFacts)
		}
		sameFacts(t, got, st.Want)
		if st.Requests < 2 {
			t.Errorf("%d facts in %d request: the harness must page with a small page size", manyFacts, st.Requests)
		}
		// Reading is repeatable: a second poll of an unchanged source reads the same facts.
		sameFacts(t, fetch(t, t.Context(), src), src.State().Want)
	})

	t.Run("an empty source fetches nothing", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: 0})
		if got := fetch(t, t.Context(), src); len(got) != 0 {
			t.Errorf("fetched %d facts from an empty source: %v", len(got), got)
		}
	})

	t.Run("concurrent fetches each read everything", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: manyFacts})
		var wg sync.WaitGroup
		results := make([][]Fact, 3)
		errs := make([]error, len(results))
		for i := range results {
			wg.Go(func() { results[i], errs[i] = src.Fetch(t.Context()) })
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil {
				t.Fatalf("fetch %d: %v", i, errs[i])
			}
			sameFacts(t, results[i], src.State().Want)
		}
	})

	t.Run("refused credentials are a clear error and are not retried", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: fewFacts})
		src.BreakCredentials()
		before := src.State().Requests
		err := fetchErr(t, t.Context(), src)
		st := src.State()
		clearError(t, err, st)
		// One call, at most one credential refresh, one retry with it: a refusal is not transient.
		if n := st.Requests - before; n > 3 {
			t.Errorf("%d requests for refused credentials, want at most 3: a refusal must not be retried", n)
		}
	})

	for _, f := range Faults() {
		t.Run("recovers from "+f.String(), func(t *testing.T) {
			t.Parallel()
			src := h.Start(t, Config{N: fewFacts})
			fetch(t, t.Context(), src)
			clean := src.State().Requests // what one fetch takes when nothing goes wrong
			src.Inject(f, faultRepeats)
			got := fetch(t, t.Context(), src)
			st := src.State()
			sameFacts(t, got, st.Want)
			if n := st.Requests - clean; n < clean+faultRepeats {
				t.Errorf("%d requests with %d faults injected, want at least %d: was each faulted request retried?",
					n, faultRepeats, clean+faultRepeats)
			}
			if f == FaultTooManyRequests && !slices.ContainsFunc(st.Waits, func(d time.Duration) bool {
				return d >= time.Second
			}) {
				t.Errorf("waits %v after a 429 with Retry-After: 1, want one of at least 1s", st.Waits)
			}
		})
	}

	t.Run("a server error that persists is a clear error after a bounded number of retries", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: fewFacts})
		src.Inject(FaultServerError, persistent)
		err := fetchErr(t, t.Context(), src)
		st := src.State()
		clearError(t, err, st)
		if !strings.Contains(err.Error(), "503") {
			t.Errorf("error %q does not say HTTP 503", err)
		}
		if st.Requests >= persistent/2 {
			t.Errorf("%d requests: the retries never gave up", st.Requests)
		}
	})

	for _, f := range []Fault{FaultTruncated, FaultHTML} {
		t.Run("a body that stays "+f.String()+" is a clear error with a snippet", func(t *testing.T) {
			t.Parallel()
			src := h.Start(t, Config{N: fewFacts})
			src.Inject(f, persistent)
			err := fetchErr(t, t.Context(), src)
			st := src.State()
			clearError(t, err, st)
			want := "{"
			if f == FaultHTML {
				want = "html"
			}
			if !strings.Contains(strings.ToLower(err.Error()), want) {
				t.Errorf("error %q quotes no snippet of the body (want %q in it)", err, want)
			}
			if st.Requests >= persistent/2 {
				t.Errorf("%d requests: the retries never gave up", st.Requests)
			}
		})
	}

	t.Run("stays under the rate limit or honours Retry-After", func(t *testing.T) {
		t.Parallel()
		if testing.Short() {
			t.Skip("the simulator's rate limit runs on the real clock: this takes seconds")
		}
		src := h.Start(t, Config{N: fewFacts, RateLimit: true})
		limit := src.State().Limit
		if limit <= 0 {
			t.Fatalf("State.Limit = %d with the rate limit on: the harness must say what its simulator allows", limit)
		}
		// Ask for more than one window allows, as fast as the client will go.
		for i := 0; src.State().Requests <= limit+limit/10; i++ {
			if i > 10*limit {
				t.Fatalf("%d fetches and still only %d requests", i, src.State().Requests)
			}
			sameFacts(t, fetch(t, t.Context(), src), src.State().Want)
		}
		st := src.State()
		if st.Throttled > 0 && !slices.ContainsFunc(st.Waits, func(d time.Duration) bool { return d >= time.Second }) {
			t.Errorf("throttled %d times but waits were %v: Retry-After was not honoured", st.Throttled, st.Waits)
		}
		t.Logf("%d requests, %d throttled", st.Requests, st.Throttled)
	})

	t.Run("a cancelled context stops the fetch", func(t *testing.T) {
		t.Parallel()
		src := h.Start(t, Config{N: fewFacts})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := fetchErr(t, ctx, src)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// fetch runs Fetch, failing the test on an error or a panic.
func fetch(t *testing.T, ctx context.Context, src Source) []Fact {
	t.Helper()
	facts, err := safeFetch(ctx, src)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return facts
}

// fetchErr runs a Fetch that must fail, and returns its error.
func fetchErr(t *testing.T, ctx context.Context, src Source) error {
	t.Helper()
	facts, err := safeFetch(ctx, src)
	if err == nil {
		t.Fatalf("fetch succeeded with %d facts, want an error", len(facts))
	}
	return err
}

// safeFetch turns a panic into an error, so that a source that panics on a bad body fails its test with a
// message instead of taking the whole test binary down.
func safeFetch(ctx context.Context, src Source) (facts []Fact, err error) {
	defer func() {
		if r := recover(); r != nil {
			facts, err = nil, fmt.Errorf("Fetch panicked: %v", r)
		}
	}()
	return src.Fetch(ctx)
}

// reporter is the part of testing.TB the checks use, so that the checks themselves can be tested.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// sameFacts fails unless got holds each of want's facts exactly once, and nothing else.
func sameFacts(t reporter, got, want []Fact) {
	t.Helper()
	seen := map[string]int{}
	for _, f := range got {
		if seen[f.Key]++; seen[f.Key] == 2 {
			t.Errorf("fact %s fetched more than once", f.Key)
		}
	}
	if diff := gocmp.Diff(sorted(want), sorted(got), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("fetched facts differ from the simulator's (-want +got):\n%s", diff)
	}
}

func sorted(fs []Fact) []Fact {
	fs = slices.Clone(fs)
	slices.SortFunc(fs, func(a, b Fact) int { return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Value, b.Value)) })
	return fs
}

// clearError checks what every error of a source must be: one short line that names the endpoint and holds
// no credential.
func clearError(t reporter, err error, st State) {
	t.Helper()
	msg := err.Error()
	if !slices.ContainsFunc(st.Endpoints, func(e string) bool { return strings.Contains(msg, e) }) {
		t.Errorf("error %q names none of the endpoints %q", msg, st.Endpoints)
	}
	if len(msg) > maxErrorLen || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one short line (%d bytes): %q", len(msg), msg)
	}
	for _, s := range st.Secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error leaks a credential: %q", msg)
		}
	}
}
