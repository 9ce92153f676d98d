package yabandpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// The balance call (providers/facts.md 1.7). YabandPay's English parameter table names the method
// v3.CreatePayments, a copy-paste error: the example, the signed string and the Chinese page all say
// v3.MerchantBalance. Older crawls spell the command key `commond`; the current pages and the signed example
// say `command`, which is what the client sends.
const (
	MethodMerchantBalance = "v3.MerchantBalance"
	CommandGetBalance     = "getBalance"
)

// The figures of a YabandPay balance, as events.Balance.Figures names them: YabandPay's own field names.
const (
	FigureAvailable = "available" // 可用余额, available balance: the Balance's Amount
	FigureReserve   = "reserve"   // 储备金余额, reserve balance
	FigureUsable    = "usable"    // 可支配金额: documented as available − reserve, shown as available + reserve
	FigureDeposit   = "deposit"   // 冻结余额, frozen balance
)

// figureNames are the figures a balance answer must carry. All four are documented on every answer; one
// that is missing is an error rather than a gap, since the reconciler alerts on changes to reserve and
// deposit and a silently absent figure would read as no change.
var figureNames = []string{FigureAvailable, FigureReserve, FigureUsable, FigureDeposit}

// currencyCode is an ISO 4217 alphabetic code, the only kind YabandPay documents.
var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Balance asks YabandPay for the merchant's wallet balance in one currency (v3.MerchantBalance, command
// getBalance) and returns it as an events.Balance:
//   - Figures holds available, reserve, usable and deposit exactly as reported. usable is never derived:
//     the documents give two contradicting formulas for it, so only YabandPay's own figure is recorded.
//   - Amount is available, the wallet figure the ledger is compared with.
//   - Currency is the answer's, which must be the one asked for; Account is Config.User.
//   - ObservedAt is when the answer arrived: the balance YabandPay computed is no later than that.
//   - Raw is the answer's data object as received.
//
// An answer with "status": false is an *APIError carrying YabandPay's code and message.
func (c *Client) Balance(ctx context.Context, currency string) (events.Balance, error) {
	b, _, err := c.balance(ctx, currency)
	return b, err
}

// balance is Balance that also returns the answer's body, redacted of the secret key (nil if no answer came),
// for what the balance feed quarantines when the answer cannot be read.
func (c *Client) balance(ctx context.Context, currency string) (events.Balance, []byte, error) {
	r := balanceCall(currency)
	if !currencyCode.MatchString(currency) {
		return events.Balance{}, nil, fmt.Errorf("yabandpay %s: currency %s is not an ISO 4217 code", r.endpoint(),
			quote(currency))
	}
	body, err := c.send(ctx, r)
	if err != nil {
		return events.Balance{}, nil, err
	}
	observed := c.cfg.Now().UTC()
	b, err := decodeBalanceAt(r.endpoint(), c.cfg.User, currency, body, observed, c.redact)
	if err != nil {
		return events.Balance{}, redactRaw(body, c.redact), err
	}
	b.ObservedAt = observed
	return b, body, nil
}

// balanceCall is the getBalance request for one currency.
func balanceCall(currency string) call {
	return call{method: MethodMerchantBalance, command: CommandGetBalance, data: map[string]string{"currency": currency}}
}

// decodeEnvelope reads an answer's envelope and returns its data: the data of a success, or the *APIError of
// a refusal. status is documented as a JSON boolean; the PHP spellings "true"/"false" and 1/0 (as numbers or
// strings) say the same and are read as such (docs/providers.md).
func decodeEnvelope(endpoint string, body []byte, redact func(string) string) (json.RawMessage, error) {
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, malformed(endpoint, body, err, redact)
	}
	ok, known := envelopeStatus(w.Status)
	switch {
	case len(bytes.TrimSpace(w.Status)) == 0 || string(bytes.TrimSpace(w.Status)) == "null":
		return nil, malformed(endpoint, body, errors.New("no status field"), redact)
	case !known:
		return nil, malformed(endpoint, body, fmt.Errorf("status %s is not true or false", quote(redact(string(w.Status)))),
			redact)
	case !ok:
		e := &APIError{Endpoint: endpoint, Status: 200,
			Code:    httpclient.Cut(redact(httpclient.Sanitize(w.Code.text)), 64),
			Message: httpclient.Cut(redact(httpclient.Sanitize(w.Message.text)), maxMessage)}
		if e.Message == "" {
			e.Message = "no message; body: " + httpclient.Snippet(body, redact)
		}
		return nil, e
	}
	// A success says code 200 — as a string or a number, and some answers say "0", the other common way of
	// writing "no error". The SDK looks only at status, so an absent code is accepted; any other code
	// contradicts the status, and which of the two to believe is not ours to guess.
	if w.Code.set && !successCode(w.Code.text) {
		return nil, malformed(endpoint, body, fmt.Errorf("status true with code %s", quote(redact(w.Code.text))), redact)
	}
	return w.Data, nil
}

// envelopeStatus reads status: true/false, "true"/"false" (any case), 1/0 and "1"/"0". known is false for
// anything else.
func envelopeStatus(raw json.RawMessage) (ok, known bool) {
	s := strings.ToLower(strings.TrimSpace(strings.Trim(string(bytes.TrimSpace(raw)), `"`)))
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// successCode says whether a code is one a success may carry: 200 or 0, however written ("200", 200, "0",
// 0, 200.0).
func successCode(code string) bool {
	whole, frac, _ := strings.Cut(strings.TrimSpace(code), ".")
	return strings.Trim(frac, "0") == "" && (whole == "200" || whole == "0")
}

// decodeBalance reads a getBalance answer; ObservedAt is left to the caller.
func decodeBalance(endpoint, user, currency string, body []byte, redact func(string) string) (events.Balance, error) {
	return decodeBalanceAt(endpoint, user, currency, body, time.Time{}, redact)
}

// decodeBalanceAt reads a getBalance answer; observed is the time a quarantined answer is stamped with.
//
// Strict about what the figures mean, tolerant about how they are written (docs/providers.md):
//   - the answer must be for the currency asked (compared without case: "eur" is EUR) and, where it names
//     one, the user asked as — compared as the configured UID: a numeric 36870 answers for "036870", the
//     leading zero that JSON numbers cannot keep being no other user; Account stays the configured UID;
//   - available, the wallet figure, is required; a null or missing reserve or deposit is none held (0) —
//     YabandPay's PHP writes null for an empty balance, and a change to or from it is still a movement the
//     checks see; a null or missing usable is left out, never derived;
//   - a figure that is no exact decimal (an exponent, a thousands separator, an object) quarantines the
//     answer: a *quarantine.Error carrying the fact, wrapping ErrMalformedResponse.
func decodeBalanceAt(endpoint, user, currency string, body []byte, observed time.Time,
	redact func(string) string) (events.Balance, error) {
	data, err := decodeEnvelope(endpoint, body, redact)
	if err != nil {
		return events.Balance{}, err
	}
	m, err := members(data)
	if err != nil {
		return events.Balance{}, malformed(endpoint, body, err, redact)
	}
	fail := func(err error) (events.Balance, error) {
		return events.Balance{}, fmt.Errorf("yabandpay %s %s: %w: %w", endpoint, currency, ErrMalformedResponse, err)
	}
	quarantined := func(err error) (events.Balance, error) {
		err = fmt.Errorf("yabandpay %s %s: %w: %w", endpoint, currency, ErrMalformedResponse, err)
		return events.Balance{}, &quarantine.Error{Err: err, Fact: events.Quarantined{
			Provider: events.ProviderYabandPay, Account: user, Feed: events.FeedBalance, Endpoint: endpoint,
			ItemID: currency, Reason: err.Error(), ObservedAt: observed, Raw: redactRaw(data, redact)}}
	}
	var got looseText
	if err := json.Unmarshal(orNull(m["currency"]), &got); err != nil || !got.set {
		return fail(errors.New("field currency: missing"))
	}
	if !strings.EqualFold(strings.TrimSpace(got.text), currency) {
		return fail(fmt.Errorf("field currency: answered for %s, asked for %s", quote(redact(got.text)), currency))
	}
	// The answer echoes the super-admin's UID. One that names another account is not this merchant's balance.
	var who looseText
	if err := json.Unmarshal(orNull(m["user"]), &who); err == nil && who.set && !sameUser(who.text, user) {
		return fail(fmt.Errorf("field user: answered for %s, asked as %s", quote(redact(who.text)), quote(user)))
	}
	figures := make(map[string]decimal.Decimal, len(figureNames))
	for _, name := range figureNames {
		raw, ok := m[name]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			switch name {
			case FigureAvailable:
				return quarantined(fmt.Errorf("field %s: missing", name))
			case FigureReserve, FigureDeposit:
				figures[name] = decimal.Zero
			}
			continue
		}
		d, err := parseAmount(raw, redact)
		if err != nil {
			return quarantined(fmt.Errorf("field %s: %w", name, err))
		}
		figures[name] = d
	}
	return events.Balance{
		Provider: events.ProviderYabandPay,
		Account:  user,
		Currency: currency,
		Amount:   figures[FigureAvailable],
		Figures:  figures,
		Raw:      redactRaw(data, redact),
	}, nil
}

// sameUser compares the UID an answer names with the configured one: as text, or — where the answer wrote
// it as a JSON number, which drops leading zeros — as the same digits once the configured UID's leading zeros
// are set aside. Spaces around either are not part of a UID: trimming only the answer refused a configured
// UID with a space in front as soon as its own echo came back (FuzzSignInput, regression-blank-user).
func sameUser(answered, configured string) bool {
	answered, configured = strings.TrimSpace(answered), strings.TrimSpace(configured)
	if answered == configured {
		return true
	}
	digits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	return digits(answered) && digits(configured) &&
		strings.TrimLeft(answered, "0") == strings.TrimLeft(configured, "0") && strings.TrimLeft(configured, "0") != ""
}

// redactRaw is the answer's data as received — unless it echoes the secret key, which must not travel on in
// an event: then with every echo replaced. Should the replacement break the JSON (a key with quotes in it,
// matched across members), the data is withheld whole rather than passed on broken.
func redactRaw(data json.RawMessage, redact func(string) string) json.RawMessage {
	data = bytes.TrimSpace(data)
	clean := redact(string(data))
	switch {
	case clean == string(data):
		return append(json.RawMessage(nil), data...)
	case json.Valid([]byte(clean)):
		return json.RawMessage(clean)
	}
	return json.RawMessage(`{"withheld":"the answer echoed the secret key"}`)
}

// orNull stands in null for an absent member, so that it decodes as unset.
func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
