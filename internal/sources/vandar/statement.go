package vandar

import (
	"bytes"
	"cmp"
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
)

// MaxPerPage is the most items Vandar returns per statement page (its documented per_page limit), and the
// default.
const MaxPerPage = 100

// Sort orders of the statement.
const (
	SortAsc  = "ASC"
	SortDesc = "DESC"
)

// StatementQuery selects a statement page. Zero fields are not sent and Vandar's defaults apply.
type StatementQuery struct {
	// StartAfter returns the items after this item id: the paging cursor, the id of the last item seen.
	StartAfter string
	// FromDate and ToDate bound the items by their Tehran calendar day; zero is unbounded. They are sent as
	// Jalali yyyymmdd (see JalaliDate), so only the day counts, not the time.
	FromDate, ToDate time.Time
	// PerPage is the page size, at most MaxPerPage. Zero means MaxPerPage.
	PerPage int
	// Sort is SortAsc or SortDesc. Vandar's default is DESC; a poller pages ASC with StartAfter.
	Sort string
	// Status filters by Vandar's filter vocabulary: succeed, failed, pending or canceled.
	Status string
}

// StatementPage is one page of a statement.
type StatementPage struct {
	Items []events.StatementItem
	// Quarantined are the page's items that could not be understood (docs/providers.md, "What is
	// quarantined"), in page order: a caller publishes them instead of the items, so that the rest of the
	// page flows and an alert names each one. Their ids, where readable, count for Next.
	Quarantined []events.Quarantined
	// HasMore is Vandar's has_more, as reported: ask again with StartAfter = Next. A page with HasMore but
	// no items gives nothing to page on; callers stop there rather than ask for the same page again.
	HasMore bool
	// HasMoreReported says whether the answer said has_more at all. Without it HasMore is false, which then
	// means "unknown", not "the last page".
	HasMoreReported bool
	// Next is the cursor for the following page: the id of the page's last item, understood or quarantined,
	// or the query's StartAfter when no item of the page has a readable id (so that an empty poll keeps its
	// place).
	Next string
	// Endpoint names the request (method and path, never the query), for the errors a feed raises about
	// the page's paging.
	Endpoint string
	// quarantinedAt is each Quarantined item's position among the answer's items (from 0), so that a feed
	// meets understood and quarantined items in the order the answer held them (see entries).
	quarantinedAt []int
}

// Len is how many items the answer held, quarantined ones included.
func (p StatementPage) Len() int { return len(p.Items) + len(p.Quarantined) }

// Statement fetches one page of the business's statement (GET /v3/business/:business/transaction) and
// normalizes its items. An item that cannot be understood is returned in Quarantined, naming the item and
// the field; only an answer that is not a statement page at all is an error.
func (c *Client) Statement(ctx context.Context, q StatementQuery) (StatementPage, error) {
	query, err := q.values()
	if err != nil {
		return StatementPage{}, fmt.Errorf("vandar statement %s: %w", c.cfg.Business, err)
	}
	r := request{method: http.MethodGet, base: c.cfg.APIURL, path: c.businessPath("v3", "/transaction"),
		query: query}
	body, err := c.send(ctx, r)
	if err != nil {
		return StatementPage{}, err
	}
	page, err := decodePage(r.endpoint(), c.cfg.Business, body, c.now().UTC(), c.redact)
	if err != nil {
		return StatementPage{}, err
	}
	page.Next = cmp.Or(page.Next, q.StartAfter)
	return page, nil
}

// values checks the query and encodes it as Vandar's parameters.
func (q StatementQuery) values() (url.Values, error) {
	v := url.Values{}
	switch {
	case q.PerPage < 0 || q.PerPage > MaxPerPage:
		return nil, fmt.Errorf("per_page %d: want 1 to %d", q.PerPage, MaxPerPage)
	case q.PerPage == 0:
		v.Set("per_page", strconv.Itoa(MaxPerPage))
	default:
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	switch q.Sort {
	case "":
	case SortAsc, SortDesc:
		v.Set("sort", q.Sort)
	default:
		return nil, fmt.Errorf("sort %s: want ASC or DESC", quote(q.Sort))
	}
	switch q.Status {
	case "":
	case "succeed", "failed", "pending", "canceled":
		v.Set("status", q.Status)
	default:
		return nil, fmt.Errorf("status %s: want succeed, failed, pending or canceled", quote(q.Status))
	}
	if q.StartAfter != "" {
		id, err := jsonNum{text: q.StartAfter, set: true}.id()
		if err != nil {
			return nil, fmt.Errorf("start_after: %w", err)
		}
		v.Set("start_after", id)
	}
	if !q.FromDate.IsZero() {
		v.Set("fromDate", JalaliDate(q.FromDate))
	}
	if !q.ToDate.IsZero() {
		v.Set("toDate", JalaliDate(q.ToDate))
	}
	if !q.FromDate.IsZero() && !q.ToDate.IsZero() && v.Get("fromDate") > v.Get("toDate") {
		return nil, fmt.Errorf("fromDate %s is after toDate %s", v.Get("fromDate"), v.Get("toDate"))
	}
	return v, nil
}

// wirePage is the statement response: {"status":1,"has_more":true,"data":[...]}. data is documented as one
// object in Vandar's own example and as an array everywhere else; statementItems reads both and more.
type wirePage struct {
	Status  jsonNum         `json:"status"`
	HasMore json.RawMessage `json:"has_more"`
	Data    json.RawMessage `json:"data"`
}

// decodePage reads a statement page. Items it cannot understand are quarantined (observed is their
// ObservedAt); Next is set to the last readable item id, "" when there is none.
func decodePage(endpoint, business string, body []byte, observed time.Time, redact func(string) string) (
	StatementPage, error) {
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return StatementPage{}, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	if err := checkStatus(endpoint, w.Status, body, redact); err != nil {
		return StatementPage{}, err
	}
	raws, more, err := statementItems(w.Data, w.HasMore, 0)
	if err != nil {
		return StatementPage{}, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	page := StatementPage{Endpoint: endpoint}
	if len(bytes.TrimSpace(more)) > 0 {
		var hm jsonBool
		if err := hm.UnmarshalJSON(more); err != nil {
			return StatementPage{}, malformed(endpoint, http.StatusOK, body, fmt.Errorf("field has_more: %w", err), redact)
		}
		page.HasMore, page.HasMoreReported = hm.val, hm.set
	}
	page.Items = make([]events.StatementItem, 0, len(raws))
	for i, raw := range raws {
		item, err := decodeItem(business, raw)
		if err != nil {
			// The reason names no position: the same item re-read on another page is the same fact.
			q := quarantined(endpoint, business, events.FeedStatement, raw, observed, err, "id")
			page.Quarantined = append(page.Quarantined, q)
			page.quarantinedAt = append(page.quarantinedAt, i)
			// Only an id Vandar could page on moves the cursor: start_after takes an item id.
			if id, err := (jsonNum{text: q.ItemID, set: true}).id(); err == nil {
				page.Next = id
			}
			continue
		}
		page.Items = append(page.Items, item)
		page.Next = item.ItemID
	}
	return page, nil
}

// statementItems finds the items of a statement answer's data, and its has_more: a list of items (the
// public fixtures), one item object (the document's example), nothing (null, [] or {}: an empty page), an
// array PHP wrote as an object ({"0":…,"1":…}), or a Laravel resource {"data":[…],"meta":…} whose has_more,
// if any, may sit beside its data.
func statementItems(data, hasMore json.RawMessage, depth int) ([]json.RawMessage, json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null" || phpEmpty(data):
		return nil, hasMore, nil
	case data[0] == '[':
		list, err := rawList(data)
		return list, hasMore, err
	case data[0] != '{':
		return nil, nil, errors.New("data is neither an item nor a list of items")
	}
	if list, ok, err := indexedObject(data); err != nil || ok {
		return list, hasMore, err
	}
	m, err := members(data)
	if err != nil {
		return nil, nil, err
	}
	inner, resource := m["data"]
	if _, item := m["id"]; resource && !item && depth == 0 {
		if hm, ok := m["has_more"]; ok && len(bytes.TrimSpace(hasMore)) == 0 {
			hasMore = hm
		}
		return statementItems(inner, hasMore, depth+1)
	}
	return []json.RawMessage{data}, hasMore, nil
}

// quarantined builds the fact of an item that could not be understood: its id where one of idFields reads
// (see itemRef), the reason, and the item as received with any credential in it redacted.
func quarantined(endpoint, account, feed string, raw json.RawMessage, observed time.Time, why error,
	idFields ...string) events.Quarantined {
	q := events.Quarantined{Provider: events.ProviderVandar, Account: account, Feed: feed, Endpoint: endpoint,
		ItemID: itemRef(raw, idFields...), Reason: why.Error(), ObservedAt: observed,
		Raw: append(json.RawMessage(nil), raw...)}
	if m, err := members(raw); err == nil {
		if clean, err := redactRaw(raw, m); err == nil {
			q.Raw = clean
		}
	}
	if !json.Valid(q.Raw) {
		b, _ := json.Marshal(string(q.Raw)) // kept as text: an event must be JSON
		q.Raw = b
	}
	return q
}

// checkStatus reads the body's "status" wrapper: 1 is success; anything else, on a 2xx, is a failure Vandar
// reports in the body (its message, if any, is in the same body).
func checkStatus(endpoint string, status jsonNum, body []byte, redact func(string) string) error {
	if !status.set {
		return malformed(endpoint, http.StatusOK, body, errors.New("no status field"), redact)
	}
	if n, err := status.int64(); err != nil || n != 1 {
		e := apiErrorFrom(endpoint, http.StatusOK, body, redact)
		e.Message = strings.TrimSuffix("body status "+quote(status.text)+": "+e.Message, ": ")
		return e
	}
	return nil
}

// decodeItem normalizes one statement item. Its errors name the item's id (when there is one) and the field.
func decodeItem(business string, raw json.RawMessage) (events.StatementItem, error) {
	m, err := members(raw)
	if err != nil {
		return events.StatementItem{}, fmt.Errorf("statement item: %w", err)
	}
	var idNum jsonNum
	if err := member(m, "id", &idNum); err != nil {
		return events.StatementItem{}, fmt.Errorf("statement item: %w", err)
	}
	if !idNum.set {
		return events.StatementItem{}, errors.New("statement item: field id: missing")
	}
	id, err := idNum.id()
	if err != nil {
		return events.StatementItem{}, fmt.Errorf("statement item: field id: %w", err)
	}
	item, err := normalizeItem(business, id, m)
	if err != nil {
		return events.StatementItem{}, fmt.Errorf("statement item %s: %w", id, err)
	}
	item.Raw, err = redactRaw(raw, m)
	if err != nil {
		return events.StatementItem{}, fmt.Errorf("statement item %s: %w", id, err)
	}
	return item, nil
}

// secretFields are item fields that carry credentials: `api_token` is the business's payment-gateway key.
// They are replaced before the raw item travels on, because events are read by every consumer of the topic
// and kept in the ledger's metadata.
var secretFields = []string{"api_token"}

// redactRaw returns the raw item as received, or, when it carries a credential, re-encoded with the
// credential replaced (the keys then come out sorted; every value is kept byte for byte).
func redactRaw(raw json.RawMessage, m map[string]json.RawMessage) (json.RawMessage, error) {
	dirty := false
	for _, f := range secretFields {
		if v, ok := m[f]; ok && string(v) != "null" && string(v) != `""` {
			m[f] = json.RawMessage(`"[redacted]"`)
			dirty = true
		}
	}
	if !dirty {
		return append(json.RawMessage(nil), raw...), nil
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("re-encode raw item: %w", err)
	}
	return out, nil
}

// normalizeItem turns an item's members into the normalized fact. See StatementItem for what each field
// means; the decisions specific to Vandar are commented where they are made, and listed in docs/providers.md.
func normalizeItem(business, id string, m map[string]json.RawMessage) (events.StatementItem, error) {
	var (
		status, amount, wage, wallet, effective, revised jsonNum
		isDeposit, verified                              jsonBool
		channel, createdAt, updatedAt                    jsonText
		trackID, descr                                   looseText
	)
	for _, f := range []struct {
		name string
		v    json.Unmarshaler
	}{
		{"status", &status}, {"amount", &amount}, {"wage", &wage}, {"wallet", &wallet},
		{"effective_time_stamp", &effective}, {"revised_transaction_id", &revised}, {"is_deposit", &isDeposit},
		{"verified", &verified}, {"channel", &channel}, {"created_at", &createdAt}, {"updated_at", &updatedAt},
		{"track_id", &trackID}, {"description", &descr},
	} {
		if err := member(m, f.name, f.v); err != nil {
			return events.StatementItem{}, err
		}
	}

	item := events.StatementItem{
		Provider:    events.ProviderVandar,
		Account:     business,
		ItemID:      id,
		Currency:    events.CurrencyToman,
		TrackID:     trackID.text,
		Description: descr.text,
	}

	// What the status code means for the wallet: one table, status.go.
	if !status.set {
		return item, errors.New("field status: missing")
	}
	code, err := status.int64()
	if err != nil {
		return item, fmt.Errorf("field status: %w", err)
	}
	info, ok := LookupStatus(int(code))
	if !ok {
		return item, fmt.Errorf("field status: %d is not a code Vandar documents (1, -1, 2, -2, 3, -3, 4, -4, 5, "+
			"-5, 6, -6, 9): the status table needs a decision for it", code)
	}
	item.StatusCode = info.Code
	item.State = info.State
	item.MovedWallet = info.MovedWallet
	item.Channel = NormalizeChannel(channel.text)
	item.Kind = kindFor(info, item.Channel)

	// A gateway payment is the business's only once the business has verified it (Vandar's two-step
	// gateway: an unverified payment is given back to the payer). One reported successful but with verified
	// explicitly 0 is not revenue yet: it is read as pending — not in the wallet, no running balance — and
	// posts when Vandar reports it verified. Should Vandar's wallet have counted it all the same, the next
	// item's running balance says so.
	if info.Code == 1 && verified.set && !verified.val && (item.Channel == ChannelIPG || item.Channel == ChannelForm) {
		item.State, item.MovedWallet = events.StatePending, false
	}

	// Direction is is_deposit's: Vandar's own statement of which way the money went. The table's direction
	// is a cross-check, and a contradiction is an error rather than a guess either way — one of the two is
	// wrong, and posting either could count money the wrong way.
	switch {
	case isDeposit.set:
		item.Direction = events.DirectionOut
		if isDeposit.val {
			item.Direction = events.DirectionIn
		}
		if info.Direction != "" && info.Direction != item.Direction {
			return item, fmt.Errorf("field is_deposit: %t contradicts status %d (%s), which moves money %s",
				isDeposit.val, info.Code, info.Name, info.Direction)
		}
	case info.Direction != "":
		// Public fixtures omit is_deposit; the code alone then decides, where it can.
		item.Direction = info.Direction
	default:
		return item, fmt.Errorf("field is_deposit: missing, and status %d (%s) does not say which way the "+
			"money went", info.Code, info.Name)
	}

	if !amount.set {
		return item, errors.New("field amount: missing")
	}
	if item.Amount, err = amount.tomans(); err != nil {
		return item, fmt.Errorf("field amount: %w", err)
	}
	// Amounts are magnitudes; the direction says which way. Should Vandar sign an outgoing amount, the minus
	// repeats what the direction says and is dropped — and the fee then carries the same sign convention. A
	// minus on money coming in contradicts the direction: which of the two is wrong is not for mizan to guess.
	signed := item.Amount.IsNegative()
	if signed {
		if item.Direction != events.DirectionOut {
			return item, fmt.Errorf("field amount: %s is negative, but the money went %s", amount.text, item.Direction)
		}
		item.Amount = item.Amount.Neg()
	}
	// A missing or null wage is no fee: Vandar documents wage on every item, and a wrong zero shows up as a
	// running-balance break.
	item.Fee = decimal.Zero
	if wage.set {
		if item.Fee, err = wage.tomans(); err != nil {
			return item, fmt.Errorf("field wage: %w", err)
		}
		switch {
		case item.Fee.IsNegative() && signed:
			item.Fee = item.Fee.Neg()
		case item.Fee.IsNegative():
			// With an unsigned amount a negative fee is no sign convention: it could be a fee refunded or a
			// fee charged, and the two move the wallet in opposite directions.
			return item, fmt.Errorf("field wage: %s is negative beside an unsigned amount: a fee charged or "+
				"refunded?", wage.text)
		}
	}
	// wallet is a running balance only for items that moved it (it is 0 on failed and pending ones). It may
	// legitimately be negative, so no sign check.
	if item.MovedWallet && wallet.set {
		w, err := wallet.tomans()
		if err != nil {
			return item, fmt.Errorf("field wallet: %w", err)
		}
		item.WalletAfter = &w
	}

	if !createdAt.set || strings.TrimSpace(createdAt.text) == "" {
		return item, errors.New("field created_at: missing: the item cannot be placed in time")
	}
	if item.CreatedAt, err = ReadTime(createdAt.text); err != nil {
		return item, fmt.Errorf("field created_at: %w", err)
	}
	var updated time.Time
	if updatedAt.set && strings.TrimSpace(updatedAt.text) != "" {
		if updated, err = ReadTime(updatedAt.text); err != nil {
			return item, fmt.Errorf("field updated_at: %w", err)
		}
	}
	// When the item moved (or would move) the wallet: Vandar's effective_time_stamp when it gives one (Unix
	// seconds — or milliseconds, told by magnitude — free of the Tehran DST ambiguity); else, for a
	// settlement, when it was requested, because a settlement leaves the wallet then and the running balance
	// follows request order, however much later it was done; else, for another item that moved the wallet,
	// when it last changed (a payment pending for ten minutes moved the wallet when it succeeded); else when
	// it was created.
	if effective.set {
		if item.EffectiveAt, err = effective.epoch(); err != nil {
			return item, fmt.Errorf("field effective_time_stamp: %w", err)
		}
	}
	switch {
	case !item.EffectiveAt.IsZero():
	case info.Kind == events.KindSettlement:
		item.EffectiveAt = item.CreatedAt.UTC()
	case info.MovedWallet && !updated.IsZero():
		item.EffectiveAt = updated.UTC()
	default:
		item.EffectiveAt = item.CreatedAt.UTC()
	}
	item.CreatedAt = item.CreatedAt.UTC()

	// A return names the item whose money it brings back: revised_transaction_id, or the refund block's
	// source_transaction.
	if info.Code == -6 {
		if revised.set {
			if item.ReturnsItemID, err = revised.id(); err != nil {
				return item, fmt.Errorf("field revised_transaction_id: %w", err)
			}
		} else if src, err := refundSource(m); err != nil {
			return item, err
		} else {
			item.ReturnsItemID = src
		}
	}
	return item, nil
}

// refundSource reads refund.source_transaction, if the item has a refund block.
func refundSource(m map[string]json.RawMessage) (string, error) {
	rm, err := optionalMembers(m["refund"])
	if err != nil {
		return "", fmt.Errorf("field refund: %w", err)
	}
	var src jsonNum
	if err := member(rm, "source_transaction", &src); err != nil {
		return "", fmt.Errorf("field refund: %w", err)
	}
	if !src.set {
		return "", nil
	}
	id, err := src.id()
	if err != nil {
		return "", fmt.Errorf("field refund.source_transaction: %w", err)
	}
	return id, nil
}
