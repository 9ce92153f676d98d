package yabandpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/httpclient"
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
	r := call{method: MethodMerchantBalance, command: CommandGetBalance, data: map[string]string{"currency": currency}}
	if !currencyCode.MatchString(currency) {
		return events.Balance{}, fmt.Errorf("yabandpay %s: currency %s is not an ISO 4217 code", r.endpoint(),
			quote(currency))
	}
	body, err := c.send(ctx, r)
	if err != nil {
		return events.Balance{}, err
	}
	observed := c.cfg.Now().UTC()
	b, err := decodeBalance(r.endpoint(), c.cfg.User, currency, body, c.redact)
	if err != nil {
		return events.Balance{}, err
	}
	b.ObservedAt = observed
	return b, nil
}

// decodeEnvelope reads an answer's envelope and returns its data: the data of a success, or the *APIError of
// a refusal ("status": false).
func decodeEnvelope(endpoint string, body []byte, redact func(string) string) (json.RawMessage, error) {
	var w wireEnvelope
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, malformed(endpoint, body, err, redact)
	}
	switch string(bytes.TrimSpace(w.Status)) {
	case "true":
	case "false":
		e := &APIError{Endpoint: endpoint, Status: 200,
			Code:    httpclient.Cut(redact(httpclient.Sanitize(w.Code.text)), 64),
			Message: httpclient.Cut(redact(httpclient.Sanitize(w.Message.text)), maxMessage)}
		if e.Message == "" {
			e.Message = "no message; body: " + httpclient.Snippet(body, redact)
		}
		return nil, e
	case "":
		return nil, malformed(endpoint, body, errors.New("no status field"), redact)
	default:
		return nil, malformed(endpoint, body, fmt.Errorf("status %s is not true or false", quote(redact(string(w.Status)))),
			redact)
	}
	// A success says code 200, as a string or a number. The SDK looks only at status, so an absent code is
	// accepted; a different one contradicts the status, and which of the two to believe is not ours to guess.
	if w.Code.set && w.Code.text != "200" {
		return nil, malformed(endpoint, body, fmt.Errorf("status true with code %s", quote(redact(w.Code.text))), redact)
	}
	return w.Data, nil
}

// decodeBalance reads a getBalance answer; ObservedAt is left to the caller.
func decodeBalance(endpoint, user, currency string, body []byte, redact func(string) string) (events.Balance, error) {
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
	var got looseText
	if err := json.Unmarshal(orNull(m["currency"]), &got); err != nil || !got.set {
		return fail(errors.New("field currency: missing"))
	}
	if got.text != currency {
		return fail(fmt.Errorf("field currency: answered for %s, asked for %s", quote(redact(got.text)), currency))
	}
	// The answer echoes the super-admin's UID. One that names another account is not this merchant's balance.
	var who looseText
	if err := json.Unmarshal(orNull(m["user"]), &who); err == nil && who.set && who.text != user {
		return fail(fmt.Errorf("field user: answered for %s, asked as %s", quote(redact(who.text)), quote(user)))
	}
	figures := make(map[string]decimal.Decimal, len(figureNames))
	for _, name := range figureNames {
		raw, ok := m[name]
		if !ok || string(bytes.TrimSpace(raw)) == "null" {
			return fail(fmt.Errorf("field %s: missing", name))
		}
		d, err := parseAmount(raw, redact)
		if err != nil {
			return fail(fmt.Errorf("field %s: %w", name, err))
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
