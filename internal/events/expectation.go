package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/mizanhq/mizan/schemas"
)

// The business's side: what it expects the providers to do. Expectations are published by the business's own
// systems (or imported from CSV), never by the poller, and move no money: the reconciler matches them with the
// providers' statement lines (internal/matching, docs/matching.md).
const (
	// TopicExpected carries expectations, keyed Key(provider, account) like every fact about that account.
	TopicExpected = "mizan.expected.v1"
	// TypeExpected is an expectation's CloudEvents type, named as the contract with the business's systems
	// says (it is theirs, not one of the io.mizan.* types mizan's own pollers write).
	TypeExpected = "mizan.expected.v1"
)

// Expectation kinds.
const (
	ExpectPayment = "payment" // money in from a customer, by factor number
	ExpectPayout  = "payout"  // a settlement to a bank account, by track id or payment number
	ExpectRefund  = "refund"  // money back to a customer, by the refunded payment's reference
)

// Expectation statuses.
const (
	ExpectationOpen      = "open"
	ExpectationCancelled = "cancelled"
)

// Expectation is one thing a business expects to happen at a provider: an order to be paid, a payout or a
// refund to be made, by a deadline. The same ExpectationID again (for the same provider and account) replaces
// it: an update, or a cancellation. Its JSON form is validated against schemas/expected.v1.json whenever it is
// decoded: an expectation that fails the schema is a message fault, never a guess.
type Expectation struct {
	ExpectationID string          `json:"expectation_id"`
	Kind          string          `json:"kind"` // ExpectPayment, ExpectPayout or ExpectRefund
	Provider      string          `json:"provider"`
	Account       string          `json:"account"`
	Reference     Reference       `json:"reference"`
	Amount        decimal.Decimal `json:"amount"` // for a payment, what the customer pays (gross)
	Currency      string          `json:"currency"`
	ExpectedBy    time.Time       `json:"expected_by"`
	Status        string          `json:"status"` // ExpectationOpen or ExpectationCancelled
}

// Reference is what a provider's line carries that an expectation is matched by. Which fields a kind needs is
// the schema's to say: a payment its factor number; a payout its track id and/or payment number; a refund the
// refunded payment's factor number and/or the provider's id of that payment.
type Reference struct {
	FactorNumber  string `json:"factor_number,omitempty"`
	TrackID       string `json:"track_id,omitempty"`
	PaymentNumber string `json:"payment_number,omitempty"`
	PaymentItemID string `json:"payment_item_id,omitempty"`
}

// Event wraps the expectation, stated at `at` (the CloudEvents time: when the business said it). The id covers
// everything the expectation says, so an update or a cancellation is a new event while the same statement
// published twice is one.
func (x Expectation) Event(at time.Time) (Event, error) {
	id := NewID(x.Provider, x.Account, "expected", x.ExpectationID, x.Kind, x.Reference.FactorNumber,
		x.Reference.TrackID, x.Reference.PaymentNumber, x.Reference.PaymentItemID, x.Amount.String(), x.Currency,
		x.ExpectedBy.UTC().Format(time.RFC3339Nano), x.Status)
	if err := ValidateExpectation(x); err != nil {
		return Event{}, err
	}
	return newEvent(TypeExpected, "/"+x.Provider+"/"+x.Account+"/expected", x.ExpectationID,
		Key(x.Provider, x.Account), id, at, x)
}

// ErrSchema marks data that fails its JSON Schema. It wraps ErrMalformed: never retryable.
var ErrSchema = fmt.Errorf("%w: fails its schema", ErrMalformed)

// UnmarshalJSON validates b against schemas/expected.v1.json, then reads it. Decoding is the one way an
// expectation enters mizan (Kafka and CSV alike), so nothing that fails the schema gets further.
func (x *Expectation) UnmarshalJSON(b []byte) error {
	if err := validateExpected(b); err != nil {
		return err
	}
	type plain Expectation // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%w: expectation: %v", ErrMalformed, err)
	}
	if !p.Amount.IsPositive() {
		return fmt.Errorf("%w: expectation %s: amount %s is not positive", ErrSchema, p.ExpectationID, p.Amount)
	}
	*x = Expectation(p)
	return nil
}

// ValidateExpectation checks x against the schema, as a producer's JSON of it would be checked.
func ValidateExpectation(x Expectation) error {
	type plain Expectation
	b, err := json.Marshal(plain(x))
	if err != nil {
		return fmt.Errorf("%w: expectation %s: %v", ErrMalformed, x.ExpectationID, err)
	}
	return validateExpected(b)
}

// expectedSchema is the compiled schema: compiled once, on first use, from the embedded file.
var expectedSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemas.ExpectedV1))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // expected_by must be a real RFC 3339 date-time, not just a string
	const url = "expected.v1.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
})

func validateExpected(b []byte) error {
	sch, err := expectedSchema()
	if err != nil {
		return fmt.Errorf("compile schemas/expected.v1.json: %w", err) // a build fault, caught by the tests
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: expectation is not JSON: %v", ErrMalformed, err)
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w (schemas/expected.v1.json): %s", ErrSchema, flatten(ve))
		}
		return fmt.Errorf("%w (schemas/expected.v1.json): %v", ErrSchema, err)
	}
	return nil
}

// flatten renders a validation error on one line: each failing place and why, for a dead letter's reason.
func flatten(ve *jsonschema.ValidationError) string {
	var parts []string
	p := message.NewPrinter(language.English)
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			at := "/" + strings.Join(e.InstanceLocation, "/")
			parts = append(parts, fmt.Sprintf("at %s: %s", at, e.ErrorKind.LocalizedString(p)))
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(parts, "; ")
}
