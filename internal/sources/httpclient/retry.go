package httpclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Attempt makes one try of a request. It returns the body of a success, or an error; retryAfter is the
// server's Retry-After (≥ 0) when it sent one, else -1 (Send returns exactly that).
type Attempt func(ctx context.Context) (body []byte, retryAfter time.Duration, err error)

// Retrier repeats an Attempt until it succeeds, fails for good, or the retry budget is spent. The zero value
// is not useful: a client fills every field from its Config (with its documented defaults) for each request.
type Retrier struct {
	// Name starts the errors the loop itself makes (cancellation, an interrupted wait), e.g.
	// "vandar GET /v2/business/acme/balance". Errors from the Attempt are returned as they are.
	Name string
	// MaxRetries is how many times a retryable failure is tried again after the first attempt; 0: never.
	MaxRetries int
	// MaxElapsed bounds the time spent retrying, measured with Now: no wait starts that would end past it.
	MaxElapsed time.Duration
	// Initial and Max shape the exponential backoff between attempts: Initial first, doubling up to Max, each
	// wait jittered by ±50%. A Retry-After replaces the backoff's wait for that attempt.
	Initial time.Duration
	Max     time.Duration
	// Now is the clock of the MaxElapsed budget. Required.
	Now func() time.Time
	// Sleep waits between attempts and returns early with ctx's error. Required; Sleep is the usual one.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, if set, is told of each failure about to be retried (attempt counts from 1) and the wait before
	// the next try: the client logs it in its own words.
	OnRetry func(ctx context.Context, attempt int, wait time.Duration, err error)
}

// Do runs attempt until it succeeds or fails for good, and returns the body of the success. It gives up:
//   - when ctx is done (the error is Name and ctx's cause);
//   - on an error that is not Retryable (returned as it is);
//   - after MaxRetries retries, or when the next wait would end past MaxElapsed (the last error, wrapped, says
//     how many attempts were made).
func (r Retrier) Do(ctx context.Context, attempt Attempt) ([]byte, error) {
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     r.Initial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         r.Max,
	}
	bo.Reset()
	start := r.Now()
	for n := 1; ; n++ {
		body, retryAfter, err := attempt(ctx)
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", r.Name, context.Cause(ctx))
		}
		if !Retryable(err) {
			return nil, err
		}
		if n > r.MaxRetries {
			return nil, fmt.Errorf("giving up after %d attempts: %w", n, err)
		}
		wait := bo.NextBackOff()
		if retryAfter >= 0 {
			wait = retryAfter
		}
		if elapsed := r.Now().Sub(start); elapsed+wait > r.MaxElapsed {
			return nil, fmt.Errorf("giving up after %d attempts: waiting %s more would exceed %s: %w",
				n, wait, r.MaxElapsed, err)
		}
		if r.OnRetry != nil {
			r.OnRetry(ctx, n, wait, err)
		}
		if err := r.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: waiting to retry: %w", r.Name, err)
		}
	}
}

// Retryable is the retry loop's question, asked of any error: does it, or an error it wraps, say it is worth
// another attempt (interface{ Retryable() bool }, as pgconn's SafeToRetry)?
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// Transient marks err as worth another attempt: Retryable reports true for it, and errors.Is and errors.As
// still see err. A client uses it for a failure it knows to be passing and safe to repeat, such as a success
// whose body was cut short on a request that only reads.
func Transient(err error) error { return transientError{err} }

type transientError struct{ error }

func (e transientError) Unwrap() error { return e.error }
func (transientError) Retryable() bool { return true }

// Sleep waits d or until ctx is done, and then returns ctx's error. It is the usual Retrier.Sleep.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
