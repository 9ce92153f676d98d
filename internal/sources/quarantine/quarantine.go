// Package quarantine holds the error a source returns when the one thing an endpoint answered — a balance, a
// single settlement — is an item it cannot understand. Lists do not need it: their pages carry the items they
// could not read beside the ones they could (events.Quarantined), so one odd item never costs its page. A
// single-item answer has nothing beside it, so its quarantine travels as this error; the caller publishes the
// fact it carries instead of failing the feed.
package quarantine

import (
	"errors"
	"fmt"

	"github.com/mizanhq/mizan/internal/events"
)

// Error carries the quarantined fact of an item a source could not understand.
type Error struct {
	Fact events.Quarantined
	// Err, if set, is the source's own error for the item (e.g. one wrapping its ErrMalformedResponse), so
	// that errors.Is sees through the quarantine.
	Err error
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Error names the endpoint, the item (where it could be read) and why it was set aside.
func (e *Error) Error() string {
	item := e.Fact.ItemID
	if item == "" {
		item = "without an id"
	}
	return fmt.Sprintf("%s %s: item %s quarantined: %s", e.Fact.Provider, e.Fact.Endpoint, item, e.Fact.Reason)
}

// As returns the quarantined fact err carries, if it carries one.
func As(err error) (events.Quarantined, bool) {
	var q *Error
	if errors.As(err, &q) {
		return q.Fact, true
	}
	return events.Quarantined{}, false
}
