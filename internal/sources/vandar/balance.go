package vandar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// wireBalance is the balance response: {"status":1,"data":{"wallet":100000,"currency":"Toman"}}.
type wireBalance struct {
	Status jsonNum         `json:"status"`
	Data   json.RawMessage `json:"data"`
}

// Balance fetches the business's wallet balance (GET /v2/business/:business/balance).
//
// Amount is `wallet`, in whole tomans (currency "Toman" becomes events.CurrencyToman; any other currency is an
// error, since Vandar documents only tomans). Figures holds every numeric member of data as reported —
// wallet, and payment_facilitator_wallet and the like where Vandar sends them. ObservedAt is the time the
// response arrived: the balance Vandar computed is no later than that, so once the statement watermark has
// passed ObservedAt every item the balance includes has been published.
func (c *Client) Balance(ctx context.Context) (events.Balance, error) {
	b, _, err := c.balance(ctx)
	return b, err
}

// balance is Balance that also returns the answer's body (nil if none came), for what the balance feed
// quarantines when the body cannot be read.
func (c *Client) balance(ctx context.Context) (events.Balance, []byte, error) {
	r := c.balanceRequest()
	body, err := c.send(ctx, r)
	if err != nil {
		return events.Balance{}, nil, err
	}
	observed := c.now().UTC()
	b, err := decodeBalance(r.endpoint(), c.cfg.Business, body, observed, c.redact)
	if err != nil {
		return events.Balance{}, body, err
	}
	b.ObservedAt = observed
	return b, body, nil
}

func (c *Client) balanceRequest() request {
	return request{method: http.MethodGet, base: c.cfg.APIURL, path: c.businessPath("v2", "/balance")}
}

// decodeBalance reads a balance response; ObservedAt is left to the caller. An answer that is a balance
// answer but whose figures say nothing mizan can trust — no wallet (PHP's "data": []), a fraction of a toman,
// a currency that is not tomans — is a *quarantine.Error carrying the quarantined fact: the balance feed
// reports it and goes on, an alert names it. Where the documents are silent it reads, too: no currency (Vandar
// says it uses only tomans), the currency in other spellings, data as a list of one object.
func decodeBalance(endpoint, business string, body []byte, observed time.Time, redact func(string) string) (
	events.Balance, error) {
	var w wireBalance
	if err := json.Unmarshal(body, &w); err != nil {
		return events.Balance{}, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	if err := checkStatus(endpoint, w.Status, body, redact); err != nil {
		return events.Balance{}, err
	}
	data := bytes.TrimSpace(w.Data)
	if len(data) > 0 && data[0] == '[' && !phpEmpty(data) {
		if list, err := rawList(data); err == nil && len(list) == 1 {
			data = bytes.TrimSpace(list[0])
		}
	}
	quarantine := func(why error) (events.Balance, error) {
		raw := data
		if len(raw) == 0 || !json.Valid(raw) {
			raw = json.RawMessage("null")
		}
		return events.Balance{}, &quarantine.Error{Fact: quarantined(endpoint, business, events.FeedBalance, raw,
			observed, why)}
	}
	if len(data) == 0 || string(data) == "null" {
		return quarantine(errors.New("data: missing: the answer holds no wallet figure"))
	}
	m, err := members(data)
	if err != nil {
		return events.Balance{}, malformed(endpoint, http.StatusOK, body, fmt.Errorf("data: %w", err), redact)
	}

	var currency jsonText
	if err := member(m, "currency", &currency); err != nil {
		return quarantine(err)
	}
	if currency.set && !isToman(currency.text) {
		return quarantine(fmt.Errorf("field currency: %s, want Toman", quote(currency.text)))
	}
	var wallet jsonNum
	if err := member(m, "wallet", &wallet); err != nil {
		return quarantine(err)
	}
	if !wallet.set {
		return quarantine(errors.New("field wallet: missing: the answer holds no wallet figure"))
	}
	amount, err := wallet.tomans()
	if err != nil {
		return quarantine(fmt.Errorf("field wallet: %w", err))
	}

	// Every other figure is kept as reported, with no meaning assumed: a number it cannot read as whole
	// tomans is not dropped but quarantines the answer, since the reconciler compares what it is given.
	figures := map[string]decimal.Decimal{}
	for name, raw := range m {
		var n jsonNum
		if name == "currency" || n.UnmarshalJSON(raw) != nil || !n.set {
			continue // objects, booleans, null: not a figure
		}
		if strings.HasPrefix(strings.TrimSpace(string(raw)), `"`) && !numericText(n.text) {
			continue // text: not a figure
		}
		d, err := n.tomans()
		if err != nil {
			return quarantine(fmt.Errorf("field %s: %w", name, err))
		}
		figures[name] = d
	}
	return events.Balance{
		Provider: events.ProviderVandar,
		Account:  business,
		Currency: events.CurrencyToman,
		Amount:   amount,
		Figures:  figures,
		Raw:      append(json.RawMessage(nil), data...),
	}, nil
}

// numericText says whether a string spells a decimal number (digits, an optional sign and fraction).
func numericText(s string) bool {
	whole, frac, hasFrac := strings.Cut(s, ".")
	return integerText(whole) && (!hasFrac || integerText(frac) && frac[0] != '-')
}
