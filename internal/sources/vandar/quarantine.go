package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
)

// quarantineEvents wraps the facts of quarantined items as events, in order.
func quarantineEvents(qs []events.Quarantined) ([]events.Event, error) {
	out := make([]events.Event, 0, len(qs))
	for _, q := range qs {
		ev, err := q.Event()
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// outcome is how a feed treats a failed request to one of its endpoints.
type outcome int

const (
	// abort: the feed cannot go on at all (credentials refused, the poll cancelled).
	abort outcome = iota
	// skip: the endpoint refuses for good (a 4xx other than 401 and 429 — a 403 or 404 where the queue is
	// not enabled for the business), or answers what mizan cannot read. Asking again next poll will give
	// the same answer, so the endpoint is set aside with a quarantined fact (an alert names it once: the
	// same endpoint refused for the same reason is the same fact) and the rest of the feed goes on.
	skip
	// retryLater: a transient failure that outlasted the client's retries (5xx, 429, timeouts). What the
	// rest of the feed read is published, the poll reports the error, and the next poll asks again.
	retryLater
)

// classify says what a failed request means for its feed.
func classify(ctx context.Context, err error) outcome {
	var apiErr *APIError
	switch {
	case ctx.Err() != nil, errors.Is(err, context.Canceled), errors.Is(err, ErrRefresh):
		return abort
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
		return abort
	case httpclient.Retryable(err):
		return retryLater
	case errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500:
		return skip
	case errors.Is(err, ErrMalformedResponse), errors.As(err, &apiErr):
		// Valid JSON the decoder cannot read (or a body status Vandar sent on a 2xx): the same next time.
		return skip
	}
	return retryLater
}

// endpointSkipped is the quarantined fact for an endpoint set aside as a whole: no item, the refusal as the
// reason.
func endpointSkipped(business, feed, endpoint string, err error, at time.Time) (events.Event, error) {
	q := events.Quarantined{Provider: events.ProviderVandar, Account: business, Feed: feed, Endpoint: endpoint,
		Reason: "endpoint skipped: " + err.Error(), ObservedAt: at.UTC(), Raw: json.RawMessage("null")}
	return q.Event()
}

// errPaging marks an answer whose paging contradicts the cursor it was asked with: the feed stops there and
// claims no watermark, since what it would claim complete may not be.
var errPaging = errors.New("paging does not follow the cursor")

// pagingError names the endpoint and what went wrong.
func pagingError(endpoint, format string, args ...any) error {
	return fmt.Errorf("vandar %s: %w: %s", endpoint, errPaging, fmt.Sprintf(format, args...))
}
