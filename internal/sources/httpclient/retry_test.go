package httpclient_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

// retryableErr is an error that says whether it is worth another attempt.
type retryableErr bool

func (e retryableErr) Error() string   { return "retryable " + strconv.FormatBool(bool(e)) }
func (e retryableErr) Retryable() bool { return bool(e) }

// answer is what one scripted attempt returns.
type answer struct {
	body       string
	retryAfter time.Duration
	err        error
}

// bundle is a Retrier on a fake clock that records its waits (advancing the clock by them) and a script of
// answers for its attempts.
type bundle struct {
	rt       httpclient.Retrier
	now      time.Time
	waits    []time.Duration
	retried  []int
	attempts int
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	b.rt = httpclient.Retrier{
		Name:       "acme GET /thing",
		MaxRetries: 4,
		MaxElapsed: time.Minute,
		Initial:    time.Second,
		Max:        8 * time.Second,
		Now:        func() time.Time { return b.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.waits = append(b.waits, d)
			b.now = b.now.Add(d)
			return ctx.Err()
		},
		OnRetry: func(_ context.Context, attempt int, _ time.Duration, _ error) {
			b.retried = append(b.retried, attempt)
		},
	}
	return b
}

// script returns an Attempt answering with as in turn, and the last one for ever after.
func (b *bundle) script(as ...answer) httpclient.Attempt {
	return func(context.Context) ([]byte, time.Duration, error) {
		a := as[min(b.attempts, len(as)-1)]
		b.attempts++
		if a.err != nil {
			return nil, a.retryAfter, a.err
		}
		return []byte(a.body), a.retryAfter, nil
	}
}

func TestRetrier(t *testing.T) {
	t.Parallel()
	transient := answer{retryAfter: -1, err: retryableErr(true)}
	ok := answer{body: "ok", retryAfter: -1}

	t.Run("a success on the first attempt is returned without a wait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body, err := b.rt.Do(t.Context(), b.script(ok))
		if err != nil || string(body) != "ok" || b.attempts != 1 || len(b.waits) != 0 {
			t.Fatalf("body %q err %v after %d attempts and waits %v", body, err, b.attempts, b.waits)
		}
	})

	t.Run("transient failures are retried with a jittered doubling backoff", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		body, err := b.rt.Do(t.Context(), b.script(transient, transient, transient, ok))
		if err != nil || string(body) != "ok" || b.attempts != 4 {
			t.Fatalf("body %q err %v after %d attempts", body, err, b.attempts)
		}
		for i, w := range b.waits {
			base := time.Second << i
			if w < base/2 || w > base*3/2 {
				t.Errorf("wait %d = %s, want %s ± 50%%", i+1, w, base)
			}
		}
		if got := b.retried; len(got) != 3 || got[0] != 1 || got[2] != 3 {
			t.Errorf("OnRetry told of attempts %v, want [1 2 3]", got)
		}
	})

	t.Run("a Retry-After replaces the backoff's wait", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.rt.Do(t.Context(), b.script(answer{retryAfter: 7 * time.Second, err: retryableErr(true)},
			answer{retryAfter: 0, err: retryableErr(true)}, ok))
		if err != nil || len(b.waits) != 2 || b.waits[0] != 7*time.Second || b.waits[1] != 0 {
			t.Fatalf("err %v, waits %v; want [7s 0s]", err, b.waits)
		}
	})

	t.Run("an error that is not retryable is returned at once, as it is", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		want := retryableErr(false)
		_, err := b.rt.Do(t.Context(), b.script(answer{retryAfter: -1, err: want}))
		if err != want || b.attempts != 1 {
			t.Fatalf("err %v after %d attempts, want %v after 1", err, b.attempts, want)
		}
	})

	t.Run("the loop gives up after MaxRetries retries", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.rt.Do(t.Context(), b.script(transient))
		if !errors.Is(err, retryableErr(true)) || err.Error() != "giving up after 5 attempts: retryable true" ||
			b.attempts != 5 {
			t.Fatalf("err %v after %d attempts", err, b.attempts)
		}
	})

	t.Run("no MaxRetries means a single attempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.rt.MaxRetries = 0
		_, err := b.rt.Do(t.Context(), b.script(transient))
		if err == nil || err.Error() != "giving up after 1 attempts: retryable true" || len(b.waits) != 0 {
			t.Fatalf("err %v, waits %v", err, b.waits)
		}
	})

	t.Run("no wait starts that would end past MaxElapsed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.rt.Do(t.Context(), b.script(answer{retryAfter: 50 * time.Second, err: retryableErr(true)},
			answer{retryAfter: 20 * time.Second, err: retryableErr(true)}))
		want := "giving up after 2 attempts: waiting 20s more would exceed 1m0s: retryable true"
		if err == nil || err.Error() != want || len(b.waits) != 1 {
			t.Fatalf("err %v, waits %v; want %q after one wait", err, b.waits, want)
		}
	})

	t.Run("a cancelled context ends the loop with its cause", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("shutting down")
		_, err := b.rt.Do(ctx, func(context.Context) ([]byte, time.Duration, error) {
			cancel(cause)
			return nil, -1, retryableErr(true)
		})
		if !errors.Is(err, cause) || err.Error() != "acme GET /thing: shutting down" {
			t.Fatalf("err %v, want the name and the cause", err)
		}
	})

	t.Run("a wait cut short by the context is an error naming the request", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.rt.Sleep = func(context.Context, time.Duration) error { return context.DeadlineExceeded }
		_, err := b.rt.Do(t.Context(), b.script(transient))
		if !errors.Is(err, context.DeadlineExceeded) ||
			!strings.HasPrefix(err.Error(), "acme GET /thing: waiting to retry: ") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestTransientMakesAnyErrorRetryable(t *testing.T) {
	t.Parallel()
	base := errors.New("body cut short")
	err := httpclient.Transient(base)
	if !httpclient.Retryable(err) || !errors.Is(err, base) || err.Error() != base.Error() {
		t.Fatalf("Transient(%v) = %v: retryable %t, is base %t", base, err, httpclient.Retryable(err),
			errors.Is(err, base))
	}
	if httpclient.Retryable(base) || httpclient.Retryable(nil) {
		t.Fatal("a plain error, or none, is retryable")
	}
	if httpclient.Retryable(retryableErr(false)) {
		t.Fatal("an error that says it is not retryable is")
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if err := httpclient.Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := httpclient.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context = %v", err)
	}
	if err := httpclient.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep(0) on a cancelled context = %v", err)
	}
}
