package vandar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources/quarantine"
)

// Settlements are payouts from the wallet to an IBAN. Vandar reports them in two shapes, and the unit of a
// bare `amount` depends on which (providers/facts.md 2.6, 2.7):
//   - v2.1 (the list and show endpoints): `amount` is Toman (the documents: "مبلغ تسویه به تومان"),
//     `settlement_done_time_prediction` is Gregorian "2020-01-01 01:01:01";
//   - v3 (the store response, and the queue, whose payload no document shows): `amount` is ten times
//     `amount_toman` in every example — rials — while the store's own parameter table says `amount` is
//     tomans. So in v3 only `amount_toman` says what the settlement is worth; a bare `amount` without it is
//     quarantined, never divided by ten on a guess (docs/providers.md, "Settlement amounts");
//     `settlement_done_time_prediction` is Jalali "1400/08/08 16:00:00".
//
// Every date is Tehran wall-clock time (ReadTime). A fee is `wage_toman` (or, failing that, `wage`); none
// given is none charged. A figure the two spellings give twice (amount and amount_toman, transaction_id and
// gateway_transaction_id) must agree: a contradiction quarantines the settlement, never a guess.

// shape is which of Vandar's settlement payloads an item comes from.
type shape int

const (
	shapeV21 shape = iota // amount in Toman
	shapeV3               // amount in Rial beside amount_toman
)

// SettlementPage is one page of settlements.
type SettlementPage struct {
	Items []events.Settlement
	// Quarantined are the page's settlements that could not be understood, in page order: published instead
	// of them, so that the rest of the page flows (docs/providers.md).
	Quarantined []events.Quarantined
	// HasMore says another page follows: ask for the next page number.
	HasMore bool
	// Wallet is the wallet balance the list reports beside its settlements, in tomans; nil where the
	// endpoint gives none (the queue).
	Wallet *decimal.Decimal
}

// ErrNotFound marks a settlement, queued settlement or batch that Vandar does not know (HTTP 404, or a batch
// missing from the batch list).
var ErrNotFound = errors.New("not found")

// Settlements fetches one page of the business's settlements (GET /v2.1/business/:business/settlement), in
// the order Vandar lists them (undocumented; the simulator lists newest first). page counts from 1; perPage
// is at most MaxPerPage, 0 for Vandar's default. Settlements can move between pages as new ones arrive, so a
// poller reads from page 1 to the end and deduplicates by SettlementID; HasMore says whether a page follows.
func (c *Client) Settlements(ctx context.Context, page, perPage int) (SettlementPage, error) {
	return c.settlementPage(ctx, "v2.1", "/settlement", shapeV21, false, page, perPage)
}

// Settlement fetches one settlement by its id, the uuid Settlements reports as SettlementID
// (GET /v2.1/business/:business/settlement/:settlement_id).
func (c *Client) Settlement(ctx context.Context, id string) (events.Settlement, error) {
	return c.oneSettlement(ctx, "v2.1", "/settlement/", id, shapeV21, false)
}

// QueuedSettlements fetches one page of the settlements queued while the wallet was short
// (GET /v3/business/:business/settlement/queued). Each has Queued set; one still waiting is INIT with no
// TransactionID. Vandar documents no payload for the queue: the client reads the shape mizan's simulator
// serves (vandartest/queued.go), the v3 settlement's, with the queue under data.settlements.
func (c *Client) QueuedSettlements(ctx context.Context, page, perPage int) (SettlementPage, error) {
	return c.settlementPage(ctx, "v3", "/settlement/queued", shapeV3, true, page, perPage)
}

// QueuedSettlement fetches one queued settlement by its id (GET /v3/business/:business/settlement/queued/:id),
// still queued or not: once it has left the queue it reports the status and TransactionID of the settlement
// it became.
func (c *Client) QueuedSettlement(ctx context.Context, id string) (events.Settlement, error) {
	return c.oneSettlement(ctx, "v3", "/settlement/queued/", id, shapeV3, true)
}

func (c *Client) settlementPage(ctx context.Context, version, rest string, sh shape, queued bool, page,
	perPage int) (SettlementPage, error) {
	query, err := pageValues(page, perPage)
	if err != nil {
		return SettlementPage{}, fmt.Errorf("vandar settlements %s: %w", c.cfg.Business, err)
	}
	r := request{method: http.MethodGet, base: c.cfg.APIURL, path: c.businessPath(version, rest), query: query}
	body, err := c.send(ctx, r)
	if err != nil {
		return SettlementPage{}, err
	}
	observed := c.now().UTC()
	return decodeSettlementPage(r.endpoint(), c.cfg.Business, body, page, perPage, sh, queued, observed, c.redact)
}

func (c *Client) oneSettlement(ctx context.Context, version, rest, id string, sh shape, queued bool) (
	events.Settlement, error) {
	if strings.TrimSpace(id) == "" {
		return events.Settlement{}, fmt.Errorf("vandar settlement %s: an id is required", c.cfg.Business)
	}
	r := request{method: http.MethodGet, base: c.cfg.APIURL, path: c.businessPath(version, rest+url.PathEscape(id))}
	body, err := c.send(ctx, r)
	if err != nil {
		return events.Settlement{}, notFound(err)
	}
	observed := c.now().UTC()
	return decodeSettlementShow(r.endpoint(), c.cfg.Business, body, sh, queued, observed, c.redact)
}

// notFound marks a 404 with ErrNotFound, keeping the APIError.
func notFound(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// pageValues checks a page number and size and encodes them.
func pageValues(page, perPage int) (url.Values, error) {
	if page < 1 {
		return nil, fmt.Errorf("page %d: pages count from 1", page)
	}
	if perPage < 0 || perPage > MaxPerPage {
		return nil, fmt.Errorf("per_page %d: want 1 to %d, or 0 for Vandar's default", perPage, MaxPerPage)
	}
	v := url.Values{"page": {strconv.Itoa(page)}}
	if perPage > 0 {
		v.Set("per_page", strconv.Itoa(perPage))
	}
	return v, nil
}

// decodeSettlementPage reads a settlement list. The documented shape is {"status":1,"data":{"wallet":…,
// "currency":"Toman","settlements":{"data":[…],<Laravel's paging>}}}; the wallet figures are optional (the
// queue has none). Also read, because a PHP application answers so where the documents are silent: data as
// [] or {} (nothing queued), data as a plain list, data.settlements as a plain list, the paginator directly
// in data, and a Laravel resource {"data":[…],"links":{…},"meta":{…}} at either level (docs/providers.md).
// Settlements that cannot be understood are quarantined; so is every settlement of a list whose currency is
// not tomans.
func decodeSettlementPage(endpoint, business string, body []byte, page, perPage int, sh shape, queued bool,
	observed time.Time, redact func(string) string) (SettlementPage, error) {
	top, err := statusBody(endpoint, body, redact)
	if err != nil {
		return SettlementPage{}, err
	}
	fail := func(err error) (SettlementPage, error) {
		return SettlementPage{}, fmt.Errorf("vandar %s: %w: %w", endpoint, ErrMalformedResponse, err)
	}
	var out SettlementPage
	var raws []json.RawMessage
	pagers := []map[string]json.RawMessage{top} // where the paging may be, innermost last
	data := bytes.TrimSpace(top["data"])
	var wrongCurrency error
	switch {
	case len(data) == 0 || string(data) == "null" || phpEmpty(data) || data[0] == '[':
		if raws, err = rawList(data); err != nil {
			return fail(fmt.Errorf("field data: %w", err))
		}
	case data[0] != '{':
		return fail(errors.New("field data: neither an object nor a list"))
	default:
		if list, ok, err := indexedObject(data); err != nil || ok {
			if err != nil {
				return fail(fmt.Errorf("field data: %w", err))
			}
			raws = list
			break
		}
		d, err := members(data)
		if err != nil {
			return fail(fmt.Errorf("field data: %w", err))
		}
		var currency jsonText
		var wallet jsonNum
		if err := member(d, "currency", &currency); err != nil {
			return fail(err)
		}
		if currency.set && !isToman(currency.text) {
			wrongCurrency = fmt.Errorf("the list's currency is %s, not tomans", quote(currency.text))
		}
		if err := member(d, "wallet", &wallet); err != nil {
			return fail(err)
		}
		if wallet.set && wrongCurrency == nil {
			w, err := wallet.tomans()
			if err != nil {
				return fail(fmt.Errorf("field wallet: %w", err))
			}
			out.Wallet = &w
		}
		list, inner := d["settlements"]
		if !inner {
			list, inner = d["data"], d["data"] != nil
			if inner {
				pagers = append(pagers, d)
			}
		}
		if !inner {
			break // the wallet alone: nothing listed
		}
		list = bytes.TrimSpace(list)
		if len(list) > 0 && list[0] == '{' {
			if items, ok, err := indexedObject(list); err == nil && ok {
				raws = items
				break
			}
			lm, err := members(list)
			if err != nil {
				return fail(fmt.Errorf("field settlements: %w", err))
			}
			pagers = append(pagers, lm)
			list = lm["data"]
		}
		if raws, err = rawList(list); err != nil {
			return fail(fmt.Errorf("field settlements.data: %w", err))
		}
	}
	more, known, err := pagingOf(pagers, page)
	if err != nil {
		return fail(fmt.Errorf("field settlements: %w", err))
	}
	// Without any paging a full page may have a next one, a short page is the last.
	out.HasMore = more || !known && perPage > 0 && len(raws) >= perPage
	out.Items = make([]events.Settlement, 0, len(raws))
	for _, raw := range raws {
		s, err := decodeSettlement(business, raw, sh, queued, observed)
		if err == nil && wrongCurrency != nil {
			err = wrongCurrency
		}
		if err != nil {
			out.Quarantined = append(out.Quarantined, quarantined(endpoint, business, events.FeedSettlements, raw,
				observed, err, "id", "transaction_id", "gateway_transaction_id", "track_id"))
			continue
		}
		out.Items = append(out.Items, s)
	}
	return out, nil
}

// isToman says whether a currency field names the toman, however spelt.
func isToman(s string) bool {
	switch strings.ToLower(normalizePersian(s)) {
	case "toman", "tomans", "تومان", "irt":
		return true
	}
	return false
}

// decodeSettlementShow reads one settlement: {"status":1,"data":{"settlement":{…}}}, or the settlement as
// data itself, or data.settlement as a list of one (the store response's shape). A settlement it cannot
// understand is a *quarantine.Error carrying its quarantined fact.
func decodeSettlementShow(endpoint, business string, body []byte, sh shape, queued bool, observed time.Time,
	redact func(string) string) (events.Settlement, error) {
	top, err := statusBody(endpoint, body, redact)
	if err != nil {
		return events.Settlement{}, err
	}
	data, err := members(top["data"])
	if err != nil {
		return events.Settlement{}, malformed(endpoint, http.StatusOK, body, fmt.Errorf("data: %w", err), redact)
	}
	raw, ok := data["settlement"]
	if !ok && data["id"] != nil {
		raw, ok = top["data"], true
	}
	if !ok {
		return events.Settlement{}, fmt.Errorf("vandar %s: %w: field settlement: missing", endpoint, ErrMalformedResponse)
	}
	if list, err := rawList(raw); err == nil && len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '[' {
		if len(list) != 1 {
			return events.Settlement{}, fmt.Errorf("vandar %s: %w: field settlement: a list of %d, want one",
				endpoint, ErrMalformedResponse, len(list))
		}
		raw = list[0]
	}
	s, err := decodeSettlement(business, raw, sh, queued, observed)
	if err != nil {
		return events.Settlement{}, &quarantine.Error{Fact: quarantined(endpoint, business, events.FeedSettlements,
			raw, observed, err, "id", "transaction_id", "gateway_transaction_id", "track_id")}
	}
	return s, nil
}

// statusBody reads a body's members and its "status" wrapper: 1 is success, anything else a failure Vandar
// reports in the body. A body without status is accepted when it has data (a Laravel resource answers so).
func statusBody(endpoint string, body []byte, redact func(string) string) (map[string]json.RawMessage, error) {
	top, err := members(body)
	if err != nil {
		return nil, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	var status jsonNum
	if err := member(top, "status", &status); err != nil {
		return nil, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	if _, hasData := top["data"]; status.set || !hasData {
		if err := checkStatus(endpoint, status, body, redact); err != nil {
			return nil, err
		}
	}
	return top, nil
}

// pagingOf looks for Laravel's paging in each of containers (innermost last; each may carry it directly or
// in its meta and links) and says whether a page follows the one asked for. known is false when none of them
// reports any paging.
func pagingOf(containers []map[string]json.RawMessage, asked int) (more, known bool, err error) {
	for i := len(containers) - 1; i >= 0; i-- {
		c := containers[i]
		meta, err := optionalMembers(c["meta"])
		if err != nil {
			return false, false, fmt.Errorf("field meta: %w", err)
		}
		links, err := optionalMembers(c["links"])
		if err != nil {
			links = map[string]json.RawMessage{} // Laravel's paginator has links as a list of page buttons
		}
		for k, v := range c {
			if _, ok := meta[k]; !ok {
				meta[k] = v
			}
			if _, ok := links[k]; !ok {
				links[k] = v
			}
		}
		if more, known, err = pagingMore(meta, links, asked); err != nil || known {
			return more, known, err
		}
	}
	return false, false, nil
}

// pagingMore reads Laravel's paging — current_page and last_page (in meta), next (in links; next_page_url in
// some Laravel versions) — and says whether a page follows. known is false when there is neither. A page
// other than the one asked for is an error: paging on from it would read pages twice or never end.
func pagingMore(meta, links map[string]json.RawMessage, asked int) (more, known bool, err error) {
	var current, last jsonNum
	if err := member(meta, "current_page", &current); err != nil {
		return false, false, err
	}
	if err := member(meta, "last_page", &last); err != nil {
		return false, false, err
	}
	if current.set {
		c, err := current.int64()
		if err != nil {
			return false, false, fmt.Errorf("field current_page: %w", err)
		}
		if c != int64(asked) {
			return false, false, fmt.Errorf("asked for page %d, got page %d", asked, c)
		}
		if last.set {
			l, err := last.int64()
			if err != nil {
				return false, false, fmt.Errorf("field last_page: %w", err)
			}
			return c < l, true, nil
		}
	}
	for _, name := range []string{"next", "next_page_url"} {
		if _, ok := links[name]; ok {
			var next jsonText
			if err := member(links, name, &next); err != nil {
				return false, false, err
			}
			return next.set && strings.TrimSpace(next.text) != "", true, nil
		}
	}
	return false, false, nil
}

// settlementStatuses are the statuses Vandar documents for settlements (uppercase; facts.md 2.7), with
// SUBMITTED from vandarpy and the batch payloads.
var settlementStatuses = []string{events.SettlementInit, events.SettlementPending, events.SettlementSubmitted,
	events.SettlementDone, events.SettlementFailed, events.SettlementCanceled}

// SettlementStatus normalizes a settlement or batch item status to one of the events.Settlement* constants.
// Vandar writes them uppercase; other cases are accepted as the same word, and so is the British spelling
// CANCELLED. Any other word is an error naming it: a status mizan does not know may mean money it does not
// understand.
func SettlementStatus(s string) (string, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == "CANCELLED" {
		u = events.SettlementCanceled
	}
	for _, st := range settlementStatuses {
		if u == st {
			return st, nil
		}
	}
	return "", fmt.Errorf("status %s is not a settlement status Vandar documents (INIT, PENDING, SUBMITTED, "+
		"DONE, FAILED, CANCELED)", quote(s))
}

// decodeSettlement normalizes one settlement. Its errors name the settlement and the field.
func decodeSettlement(business string, raw json.RawMessage, sh shape, queued bool, observed time.Time) (
	events.Settlement, error) {
	m, err := members(raw)
	if err != nil {
		return events.Settlement{}, fmt.Errorf("settlement: %w", err)
	}
	var id jsonText
	if err := member(m, "id", &id); err != nil {
		return events.Settlement{}, fmt.Errorf("settlement: %w", err)
	}
	id.text = idText(id.text)
	if id.text == "" {
		return events.Settlement{}, errors.New("settlement: field id: missing")
	}
	s, err := normalizeSettlement(business, id.text, m, sh)
	if err != nil {
		return events.Settlement{}, fmt.Errorf("settlement %s: %w", quote(id.text), err)
	}
	s.Queued, s.ObservedAt = queued, observed
	if s.Raw, err = redactRaw(raw, m); err != nil {
		return events.Settlement{}, fmt.Errorf("settlement %s: %w", quote(id.text), err)
	}
	return s, nil
}

func normalizeSettlement(business, id string, m map[string]json.RawMessage, sh shape) (events.Settlement, error) {
	var (
		txID, gatewayTxID, amount, amountToman, wage, wageToman, wallet jsonNum
		status, trackID, iban, prediction, createdAt, date, clock       jsonText
	)
	for _, f := range []struct {
		name string
		v    json.Unmarshaler
	}{
		{"transaction_id", &txID}, {"gateway_transaction_id", &gatewayTxID}, {"amount", &amount},
		{"amount_toman", &amountToman}, {"wage", &wage}, {"wage_toman", &wageToman}, {"wallet", &wallet},
		{"status", &status}, {"track_id", &trackID}, {"iban", &iban},
		{"settlement_done_time_prediction", &prediction}, {"created_at", &createdAt},
		{"settlement_date", &date}, {"settlement_time", &clock},
	} {
		if err := member(m, f.name, f.v); err != nil {
			return events.Settlement{}, err
		}
	}
	s := events.Settlement{
		Provider:     events.ProviderVandar,
		Account:      business,
		SettlementID: id,
		TrackID:      trackID.text,
		IBAN:         idText(iban.text),
		Currency:     events.CurrencyToman,
	}
	var err error
	if s.Status, err = SettlementStatus(status.text); err != nil {
		return s, fmt.Errorf("field status: %w", err)
	}

	// The statement item that took the money: transaction_id (v3, the simulator's v2.1) or
	// gateway_transaction_id (the documents' v2.1). None while a settlement waits in the queue.
	for _, f := range []struct {
		name string
		n    jsonNum
	}{{"transaction_id", txID}, {"gateway_transaction_id", gatewayTxID}} {
		if !f.n.set {
			continue
		}
		tx, err := f.n.id()
		if err != nil {
			return s, fmt.Errorf("field %s: %w", f.name, err)
		}
		if s.TransactionID != "" && s.TransactionID != tx {
			return s, fmt.Errorf("field %s: %s, but transaction_id is %s", f.name, tx, s.TransactionID)
		}
		s.TransactionID = tx
	}

	if s.Amount, err = settlementAmount(amount, amountToman, sh); err != nil {
		return s, err
	}
	s.Fee = decimal.Zero
	for _, f := range []struct {
		name string
		n    jsonNum
	}{{"wage_toman", wageToman}, {"wage", wage}} {
		if f.n.set {
			if s.Fee, err = f.n.tomans(); err != nil {
				return s, fmt.Errorf("field %s: %w", f.name, err)
			}
			if s.Fee.IsNegative() {
				return s, fmt.Errorf("field %s: %s is negative", f.name, f.n.text)
			}
			break
		}
	}
	// wallet is the balance after this settlement; a number in v2.1, a string in v3.
	if wallet.set {
		w, err := wallet.tomans()
		if err != nil {
			return s, fmt.Errorf("field wallet: %w", err)
		}
		s.WalletAfter = &w
	}

	if prediction.set && strings.TrimSpace(prediction.text) != "" {
		if s.PredictedAt, err = parseSettlementTime(prediction.text); err != nil {
			return s, fmt.Errorf("field settlement_done_time_prediction: %w", err)
		}
	} else if s.PredictedAt, err = predictionBlock(m); err != nil {
		return s, err
	}
	// When it was requested: created_at where given (the queue), else settlement_date and settlement_time
	// (v3). The v2.1 list gives only the day, which is no instant: CreatedAt stays zero and Raw keeps the day.
	switch {
	case createdAt.set && strings.TrimSpace(createdAt.text) != "":
		if s.CreatedAt, err = readWhen(createdAt.text); err != nil {
			return s, fmt.Errorf("field created_at: %w", err)
		}
	case date.set && clock.set && date.text != "" && clock.text != "":
		if s.CreatedAt, err = parseSettlementTime(date.text + " " + clock.text); err != nil {
			return s, fmt.Errorf("fields settlement_date and settlement_time: %w", err)
		}
	}
	s.PredictedAt, s.CreatedAt = utcOrZero(s.PredictedAt), utcOrZero(s.CreatedAt)
	return s, nil
}

// settlementAmount is the settlement's amount in tomans: amount_toman where given, which `amount` must then
// agree with — the same tomans in v2.1; in v3, whose examples write rials there while its request table says
// tomans, either the same tomans or ten times as many rials. Without amount_toman, `amount` is tomans in v2.1
// (documented) and unknown in v3: refused, never divided by ten on a guess.
func settlementAmount(amount, amountToman jsonNum, sh shape) (decimal.Decimal, error) {
	if amountToman.set {
		t, err := amountToman.tomans()
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("field amount_toman: %w", err)
		}
		if !t.IsPositive() {
			return decimal.Decimal{}, fmt.Errorf("field amount_toman: %s is not positive", amountToman.text)
		}
		if amount.set {
			a, err := amount.tomans() // whole units either way: rials have no fraction either
			if err != nil {
				return decimal.Decimal{}, fmt.Errorf("field amount: %w", err)
			}
			switch {
			case a.Equal(t):
			case sh == shapeV3 && a.Equal(t.Mul(decimal.NewFromInt(10))):
			case sh == shapeV3:
				return decimal.Decimal{}, fmt.Errorf("field amount_toman: %s, but amount is %s: neither the same "+
					"tomans nor ten times as many rials", amountToman.text, amount.text)
			default:
				return decimal.Decimal{}, fmt.Errorf("field amount_toman: %s, but amount is %s tomans",
					amountToman.text, amount.text)
			}
		}
		return t, nil
	}
	if !amount.set {
		return decimal.Decimal{}, errors.New("field amount: missing (and no amount_toman)")
	}
	if sh == shapeV3 {
		return decimal.Decimal{}, fmt.Errorf("field amount: %s without amount_toman: this payload's examples "+
			"write amount in rials, its documents say tomans; its unit is unknown", amount.text)
	}
	a, err := amount.tomans()
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("field amount: %w", err)
	}
	if !a.IsPositive() {
		return decimal.Decimal{}, fmt.Errorf("field amount: %s is not positive", amount.text)
	}
	return a, nil
}

// predictionBlock reads the v3 store response's prediction {date: "1400/8/8", time: "16:00:00"}, where
// settlement_done_time_prediction is missing.
func predictionBlock(m map[string]json.RawMessage) (time.Time, error) {
	raw, ok := m["prediction"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return time.Time{}, nil
	}
	pm, err := members(raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("field prediction: %w", err)
	}
	var date, clock jsonText
	if err := member(pm, "date", &date); err != nil {
		return time.Time{}, fmt.Errorf("field prediction: %w", err)
	}
	if err := member(pm, "time", &clock); err != nil {
		return time.Time{}, fmt.Errorf("field prediction: %w", err)
	}
	if date.text == "" || clock.text == "" {
		return time.Time{}, nil
	}
	t, err := parseSettlementTime(date.text + " " + clock.text)
	if err != nil {
		return time.Time{}, fmt.Errorf("field prediction: %w", err)
	}
	return t, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// parseSettlementTime reads a settlement date and time (ReadTime): Jalali "1400/08/08 16:00:00" (v3),
// Gregorian "2020-01-01 01:01:01" (v2.1), the year telling the calendars apart, or any other form ReadTime
// knows.
func parseSettlementTime(s string) (time.Time, error) { return ReadTime(s) }
