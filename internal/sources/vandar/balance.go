package vandar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
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
	r := request{method: http.MethodGet, base: c.cfg.APIURL, path: c.businessPath("v2", "/balance")}
	body, err := c.send(ctx, r)
	if err != nil {
		return events.Balance{}, err
	}
	observed := c.now().UTC()
	b, err := decodeBalance(r.endpoint(), c.cfg.Business, body, c.redact)
	if err != nil {
		return events.Balance{}, err
	}
	b.ObservedAt = observed
	return b, nil
}

// decodeBalance reads a balance response; ObservedAt is left to the caller.
func decodeBalance(endpoint, business string, body []byte, redact func(string) string) (events.Balance, error) {
	var w wireBalance
	if err := json.Unmarshal(body, &w); err != nil {
		return events.Balance{}, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	if err := checkStatus(endpoint, w.Status, body, redact); err != nil {
		return events.Balance{}, err
	}
	m, err := members(w.Data)
	if err != nil {
		return events.Balance{}, malformed(endpoint, http.StatusOK, body, fmt.Errorf("data: %w", err), redact)
	}
	fail := func(err error) (events.Balance, error) {
		return events.Balance{}, fmt.Errorf("vandar %s: %w: %w", endpoint, ErrMalformedResponse, err)
	}

	var currency jsonText
	if err := member(m, "currency", &currency); err != nil {
		return fail(err)
	}
	if !strings.EqualFold(strings.TrimSpace(currency.text), "Toman") {
		return fail(fmt.Errorf("field currency: %s, want Toman", quote(currency.text)))
	}
	var wallet jsonNum
	if err := member(m, "wallet", &wallet); err != nil {
		return fail(err)
	}
	if !wallet.set {
		return fail(errors.New("field wallet: missing"))
	}
	amount, err := wallet.tomans()
	if err != nil {
		return fail(fmt.Errorf("field wallet: %w", err))
	}

	// Every other figure is kept as reported, with no meaning assumed: a number it cannot read as whole
	// tomans is refused rather than dropped, since the reconciler compares what it is given.
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
			return fail(fmt.Errorf("field %s: %w", name, err))
		}
		figures[name] = d
	}
	return events.Balance{
		Provider: events.ProviderVandar,
		Account:  business,
		Currency: events.CurrencyToman,
		Amount:   amount,
		Figures:  figures,
		Raw:      append(json.RawMessage(nil), w.Data...),
	}, nil
}

// numericText says whether a string spells a decimal number (digits, an optional sign and fraction).
func numericText(s string) bool {
	whole, frac, hasFrac := strings.Cut(s, ".")
	return integerText(whole) && (!hasFrac || integerText(frac) && frac[0] != '-')
}
