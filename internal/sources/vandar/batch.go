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

// Batch settlements live on their own host (Config.BatchURL, batch.vandar.io), with Laravel's resource paging
// ({"data":[…],"links":{…},"meta":{…}}) and no "status" wrapper (providers/facts.md 2.8). Their amounts —
// the totals, the per-status amounts and each item's amount, which is a string there — are read as tomans:
// Vandar says it uses only tomans, the batch examples' totals and items agree with each other, and none says
// rial. A batch's per-status figures are kept by their own names (init, pending, submitted, failed, canceled,
// and whatever else Vandar adds), as reported; whether they and the items add up to the totals is the batch
// check's question, not the decoder's.

// BatchItemsPerPage is the page size Batch and BatchWithItems read items with.
const BatchItemsPerPage = MaxPerPage

// BatchPage is one page of the batch list.
type BatchPage struct {
	Items []events.Batch // without their items (ItemsRead false)
	// Quarantined are the batches whose totals could not be understood, in page order (docs/providers.md).
	Quarantined []events.Quarantined
	HasMore     bool
}

// batchListPerPage is how many batches Vandar lists a page (its documents' meta: per_page 10); with no
// paging in an answer, a page this full may have a next one.
const batchListPerPage = 10

// BatchItemPage is one page of a batch's items.
type BatchItemPage struct {
	Items []events.BatchItem
	// Raw holds each item as received, in Items' order: events.BatchItem has no room for it, and
	// BatchWithItems keeps it in the batch's Raw.
	Raw []json.RawMessage
	// Quarantined are the items that could not be understood, in page order.
	Quarantined []events.Quarantined
	HasMore     bool
	// Total is how many items the batch's item list says it has, where it says (-1 otherwise).
	Total      int
	ObservedAt time.Time
}

// Batches fetches one page of the business's batch settlements, newest first, ten a page as Vandar pages
// them (GET {BatchURL}/api/v2/business/:business/batches?page=). page counts from 1.
func (c *Client) Batches(ctx context.Context, page int) (BatchPage, error) {
	if page < 1 {
		return BatchPage{}, fmt.Errorf("vandar batches %s: page %d: pages count from 1", c.cfg.Business, page)
	}
	r := request{method: http.MethodGet, base: c.cfg.BatchURL, path: c.businessPath("api/v2", "/batches"),
		query: url.Values{"page": {strconv.Itoa(page)}}}
	body, err := c.send(ctx, r)
	if err != nil {
		return BatchPage{}, err
	}
	return decodeBatchPage(r.endpoint(), c.cfg.Business, body, page, c.now().UTC(), c.redact)
}

// BatchItems fetches one page of a batch's settlements
// (GET {BatchURL}/api/v2/business/:business/batch-settlements/:batch_id?page&per_page). page counts from 1;
// perPage is at most MaxPerPage, 0 for Vandar's default.
func (c *Client) BatchItems(ctx context.Context, batchID string, page, perPage int) (BatchItemPage, error) {
	if strings.TrimSpace(batchID) == "" {
		return BatchItemPage{}, fmt.Errorf("vandar batch items %s: a batch id is required", c.cfg.Business)
	}
	query, err := pageValues(page, perPage)
	if err != nil {
		return BatchItemPage{}, fmt.Errorf("vandar batch %s items: %w", quote(batchID), err)
	}
	r := request{method: http.MethodGet, base: c.cfg.BatchURL,
		path: c.businessPath("api/v2", "/batch-settlements/"+url.PathEscape(batchID)), query: query}
	body, err := c.send(ctx, r)
	if err != nil {
		return BatchItemPage{}, notFound(err)
	}
	return decodeBatchItemPage(r.endpoint(), c.cfg.Business, body, page, perPage, c.now().UTC(), c.redact)
}

// Batch fetches one batch with all its items: it finds the batch in the batch list (Vandar has no endpoint
// for one batch's totals), then reads its items with BatchWithItems. A batch the list does not hold is
// ErrNotFound; one whose totals cannot be understood comes back as a *quarantine.Error.
func (c *Client) Batch(ctx context.Context, batchID string) (events.Batch, []events.Quarantined, error) {
	for page := 1; ; page++ {
		p, err := c.Batches(ctx, page)
		if err != nil {
			return events.Batch{}, nil, err
		}
		for _, b := range p.Items {
			if b.BatchID == batchID {
				return c.BatchWithItems(ctx, b)
			}
		}
		for _, q := range p.Quarantined {
			if q.ItemID == batchID {
				return events.Batch{}, nil, &quarantine.Error{Fact: q}
			}
		}
		if !p.HasMore || len(p.Items)+len(p.Quarantined) == 0 {
			return events.Batch{}, nil, fmt.Errorf("vandar batch %s of %s: %w in the batch list", quote(batchID),
				c.cfg.Business, ErrNotFound)
		}
	}
}

// BatchWithItems reads every item of a batch from the batch list, page by page, and returns the batch with
// Items complete and ItemsRead set. Each item is kept once by its id; an item that comes back changed on a
// later page, or a count that disagrees with the item list's own total, means the list moved under the read,
// which is an error (the next poll reads it again) rather than a half-read batch. Raw becomes
// {"batch": <the batch as listed>, "items": [<each item as received>]}, and ObservedAt the time the last page
// arrived.
//
// Items that cannot be understood are returned as quarantined facts beside the batch, which then holds the
// others with ItemsRead false: its item list is not complete, so the batch check compares only its totals.
func (c *Client) BatchWithItems(ctx context.Context, b events.Batch) (events.Batch, []events.Quarantined, error) {
	seen := map[string]int{}
	var raws []json.RawMessage
	var quarantined []events.Quarantined
	qseen := map[string]bool{}
	b.Items = nil
	for page := 1; ; page++ {
		p, err := c.BatchItems(ctx, b.BatchID, page, BatchItemsPerPage)
		if err != nil {
			return events.Batch{}, nil, err
		}
		for i, it := range p.Items {
			if j, dup := seen[it.ID]; dup {
				if !batchItemsEqual(b.Items[j], it) {
					return events.Batch{}, nil, fmt.Errorf("vandar batch %s of %s: item %s changed while its pages "+
						"were read", quote(b.BatchID), c.cfg.Business, quote(it.ID))
				}
				continue
			}
			seen[it.ID] = len(b.Items)
			b.Items = append(b.Items, it)
			raws = append(raws, p.Raw[i])
		}
		for _, q := range p.Quarantined {
			if key := q.ItemID + "\x1f" + string(q.Raw); !qseen[key] {
				qseen[key] = true
				quarantined = append(quarantined, q)
			}
		}
		b.ObservedAt = p.ObservedAt
		if !p.HasMore || len(p.Items)+len(p.Quarantined) == 0 {
			if n := len(b.Items) + len(quarantined); p.Total >= 0 && p.Total != n {
				return events.Batch{}, nil, fmt.Errorf("vandar batch %s of %s: read %d distinct items, its item "+
					"list says %d", quote(b.BatchID), c.cfg.Business, n, p.Total)
			}
			break
		}
	}
	b.ItemsRead = len(quarantined) == 0
	raw, err := json.Marshal(map[string]any{"batch": b.Raw, "items": raws})
	if err != nil {
		return events.Batch{}, nil, fmt.Errorf("vandar batch %s: keep raw items: %w", quote(b.BatchID), err)
	}
	b.Raw = raw
	return b, quarantined, nil
}

func batchItemsEqual(a, b events.BatchItem) bool {
	return a.ID == b.ID && a.TrackID == b.TrackID && a.TransactionID == b.TransactionID &&
		a.Amount.Equal(b.Amount) && a.IBAN == b.IBAN && a.Status == b.Status && a.Type == b.Type &&
		a.ErrorMessage == b.ErrorMessage
}

// decodeBatchPage reads one page of the batch list; batches whose totals it cannot understand are
// quarantined.
func decodeBatchPage(endpoint, business string, body []byte, page int, observed time.Time,
	redact func(string) string) (BatchPage, error) {
	raws, more, _, err := decodeBatchHostPage(endpoint, body, page, batchListPerPage, redact)
	if err != nil {
		return BatchPage{}, err
	}
	out := BatchPage{HasMore: more, Items: make([]events.Batch, 0, len(raws))}
	for _, raw := range raws {
		b, err := decodeBatch(business, raw)
		if err != nil {
			out.Quarantined = append(out.Quarantined, quarantined(endpoint, business, events.FeedBatches, raw,
				observed, err, "batch_id", "id"))
			continue
		}
		b.ObservedAt = observed
		out.Items = append(out.Items, b)
	}
	return out, nil
}

// decodeBatchItemPage reads one page of a batch's items; items it cannot understand are quarantined.
func decodeBatchItemPage(endpoint, business string, body []byte, page, perPage int, observed time.Time,
	redact func(string) string) (BatchItemPage, error) {
	out := BatchItemPage{ObservedAt: observed}
	raws, more, total, err := decodeBatchHostPage(endpoint, body, page, perPage, redact)
	if err != nil {
		return BatchItemPage{}, err
	}
	out.HasMore, out.Total = more, total
	for _, raw := range raws {
		it, err := decodeBatchItem(raw)
		if err != nil {
			out.Quarantined = append(out.Quarantined, quarantined(endpoint, business, events.FeedBatches, raw,
				observed, err, "id", "transaction_id", "track_id"))
			continue
		}
		out.Items = append(out.Items, it)
		out.Raw = append(out.Raw, append(json.RawMessage(nil), raw...))
	}
	return out, nil
}

// decodeBatchHostPage reads the batch host's paging: {"data":[…],"links":{…,"next":…},"meta":{"current_page",
// "last_page","total",…}}. total is the meta's total, or -1. A 2xx whose body carries "status": 0 (the API
// host's error shape) is an APIError. Where the documents are silent it reads, too: no meta (paging from
// links, or, with none at all, a page of perPage items may have a next one), the paginator's fields beside
// data instead of in meta, the API host's {"status":1,"data":…} wrapper, and data as [] or {}.
func decodeBatchHostPage(endpoint string, body []byte, page, perPage int, redact func(string) string) (
	raws []json.RawMessage, more bool, total int, err error) {
	m, err := members(body)
	if err != nil {
		return nil, false, 0, malformed(endpoint, http.StatusOK, body, err, redact)
	}
	if st, ok := m["status"]; ok && len(bytes.TrimSpace(st)) > 0 && bytes.TrimSpace(st)[0] != '{' {
		var n jsonNum
		if err := n.UnmarshalJSON(st); err != nil {
			return nil, false, 0, malformed(endpoint, http.StatusOK, body, fmt.Errorf("field status: %w", err), redact)
		}
		if err := checkStatus(endpoint, n, body, redact); err != nil {
			return nil, false, 0, err
		}
	}
	fail := func(err error) ([]json.RawMessage, bool, int, error) {
		return nil, false, 0, fmt.Errorf("vandar %s: %w: %w", endpoint, ErrMalformedResponse, err)
	}
	containers := []map[string]json.RawMessage{m}
	data := bytes.TrimSpace(m["data"])
	if len(data) > 0 && data[0] == '{' {
		// The API host's wrapper around a Laravel resource: {"status":1,"data":{"data":[…],"meta":…}}.
		if inner, err := members(data); err == nil {
			if d, ok := inner["data"]; ok {
				containers, data = append(containers, inner), bytes.TrimSpace(d)
			}
		}
	}
	known := false
	if more, known, err = pagingOf(containers, page); err != nil {
		return fail(err)
	}
	if raws, err = rawList(data); err != nil {
		return fail(fmt.Errorf("field data: %w", err))
	}
	if !known {
		more = perPage > 0 && len(raws) >= perPage
	}
	total = -1
	for _, c := range containers {
		meta, err := optionalMembers(c["meta"])
		if err != nil {
			return fail(fmt.Errorf("field meta: %w", err))
		}
		var t jsonNum
		if err := member(meta, "total", &t); err != nil {
			return fail(fmt.Errorf("field meta: %w", err))
		}
		if !t.set {
			continue
		}
		n, err := t.int64()
		if err != nil || n < 0 {
			return fail(fmt.Errorf("field meta.total: %s is not a count", quote(t.text)))
		}
		total = int(n)
	}
	return raws, more, total, nil
}

// decodeBatch normalizes one batch of the batch list (without its items).
func decodeBatch(business string, raw json.RawMessage) (events.Batch, error) {
	m, err := members(raw)
	if err != nil {
		return events.Batch{}, fmt.Errorf("batch: %w", err)
	}
	var id jsonText
	if err := member(m, "batch_id", &id); err != nil {
		return events.Batch{}, fmt.Errorf("batch: %w", err)
	}
	id.text = idText(id.text)
	if id.text == "" {
		return events.Batch{}, errors.New("batch: field batch_id: missing")
	}
	b, err := normalizeBatch(business, id.text, m)
	if err != nil {
		return events.Batch{}, fmt.Errorf("batch %s: %w", quote(id.text), err)
	}
	b.Raw = append(json.RawMessage(nil), raw...)
	return b, nil
}

func normalizeBatch(business, id string, m map[string]json.RawMessage) (events.Batch, error) {
	b := events.Batch{Provider: events.ProviderVandar, Account: business, BatchID: id,
		Currency: events.CurrencyToman, Counts: map[string]int{}, Amounts: map[string]decimal.Decimal{}}
	sm, err := members(m["status"])
	if err != nil {
		return b, fmt.Errorf("field status: %w", err)
	}
	var statusTotal *decimal.Decimal
	totalCount := false
	for name, raw := range sm {
		key := strings.ToLower(name)
		if !strings.HasSuffix(key, "_count") && !strings.HasSuffix(key, "_amount") {
			continue // not a figure: whatever else Vandar adds to the block says nothing of the money
		}
		var n jsonNum
		if err := n.UnmarshalJSON(raw); err != nil {
			return b, fmt.Errorf("field status.%s: %w", name, err)
		}
		if !n.set {
			continue
		}
		switch {
		case key == "total_count":
			c, err := n.int64()
			if err != nil || c < 0 {
				return b, fmt.Errorf("field status.%s: %s is not a count", name, quote(n.text))
			}
			b.TotalCount, totalCount = int(c), true
		case key == "total_amount":
			a, err := n.tomans()
			if err != nil {
				return b, fmt.Errorf("field status.%s: %w", name, err)
			}
			statusTotal = &a
		case strings.HasSuffix(key, "_count"):
			c, err := n.int64()
			if err != nil || c < 0 {
				return b, fmt.Errorf("field status.%s: %s is not a count", name, quote(n.text))
			}
			b.Counts[strings.TrimSuffix(key, "_count")] = int(c)
		case strings.HasSuffix(key, "_amount"):
			a, err := n.tomans()
			if err != nil {
				return b, fmt.Errorf("field status.%s: %w", name, err)
			}
			b.Amounts[strings.TrimSuffix(key, "_amount")] = a
		}
	}
	if !totalCount {
		return b, errors.New("field status.total_count: missing")
	}
	var total jsonNum
	var created jsonText
	if err := member(m, "total_amount", &total); err != nil {
		return b, err
	}
	switch {
	case total.set:
		if b.TotalAmount, err = total.tomans(); err != nil {
			return b, fmt.Errorf("field total_amount: %w", err)
		}
		// The batch's two totals are one figure written twice; if they differ, neither can be trusted.
		if statusTotal != nil && !statusTotal.Equal(b.TotalAmount) {
			return b, fmt.Errorf("field total_amount: %s, but status.total_amount is %s", b.TotalAmount, statusTotal)
		}
	case statusTotal != nil:
		b.TotalAmount = *statusTotal
	default:
		return b, errors.New("field total_amount: missing")
	}
	if err := member(m, "created_at", &created); err != nil {
		return b, err
	}
	if created.set {
		// Unix seconds in the documents; milliseconds by magnitude; an ISO or Vandar date string too.
		if b.CreatedAt, err = readWhen(created.text); err != nil {
			return b, fmt.Errorf("field created_at: %w", err)
		}
	}
	return b, nil
}

// decodeBatchItem normalizes one settlement of a batch.
func decodeBatchItem(raw json.RawMessage) (events.BatchItem, error) {
	m, err := members(raw)
	if err != nil {
		return events.BatchItem{}, fmt.Errorf("batch item: %w", err)
	}
	var (
		id, trackID, iban, status, typ, errMsg jsonText
		txID, amount                           jsonNum
	)
	for _, f := range []struct {
		name string
		v    json.Unmarshaler
	}{
		{"id", &id}, {"track_id", &trackID}, {"iban", &iban}, {"status", &status}, {"type", &typ},
		{"error_message", &errMsg}, {"transaction_id", &txID}, {"amount", &amount},
	} {
		if err := member(m, f.name, f.v); err != nil {
			return events.BatchItem{}, fmt.Errorf("batch item: %w", err)
		}
	}
	id.text = idText(id.text)
	if id.text == "" {
		return events.BatchItem{}, errors.New("batch item: field id: missing")
	}
	it := events.BatchItem{ID: id.text, TrackID: trackID.text, IBAN: idText(iban.text), Type: typ.text,
		ErrorMessage: errMsg.text}
	fail := func(err error) (events.BatchItem, error) {
		return events.BatchItem{}, fmt.Errorf("batch item %s: %w", quote(id.text), err)
	}
	if it.Status, err = SettlementStatus(status.text); err != nil {
		return fail(fmt.Errorf("field status: %w", err))
	}
	if txID.set {
		if it.TransactionID, err = txID.id(); err != nil {
			return fail(fmt.Errorf("field transaction_id: %w", err))
		}
	}
	if !amount.set {
		return fail(errors.New("field amount: missing"))
	}
	if it.Amount, err = amount.tomans(); err != nil {
		return fail(fmt.Errorf("field amount: %w", err))
	}
	if !it.Amount.IsPositive() {
		return fail(fmt.Errorf("field amount: %s is not positive", amount.text))
	}
	return it, nil
}
