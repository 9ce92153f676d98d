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
	Items   []events.Batch // without their items (ItemsRead false)
	HasMore bool
}

// BatchItemPage is one page of a batch's items.
type BatchItemPage struct {
	Items []events.BatchItem
	// Raw holds each item as received, in Items' order: events.BatchItem has no room for it, and
	// BatchWithItems keeps it in the batch's Raw.
	Raw     []json.RawMessage
	HasMore bool
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
	observed := c.now().UTC()
	raws, more, _, err := decodeBatchHostPage(r.endpoint(), body, page, c.redact)
	if err != nil {
		return BatchPage{}, err
	}
	out := BatchPage{HasMore: more, Items: make([]events.Batch, 0, len(raws))}
	for i, raw := range raws {
		b, err := decodeBatch(c.cfg.Business, raw)
		if err != nil {
			return BatchPage{}, fmt.Errorf("vandar %s: batch %d of %d: %w", r.endpoint(), i+1, len(raws), err)
		}
		b.ObservedAt = observed
		out.Items = append(out.Items, b)
	}
	return out, nil
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
	out := BatchItemPage{ObservedAt: c.now().UTC()}
	var raws []json.RawMessage
	raws, out.HasMore, out.Total, err = decodeBatchHostPage(r.endpoint(), body, page, c.redact)
	if err != nil {
		return BatchItemPage{}, err
	}
	for i, raw := range raws {
		it, err := decodeBatchItem(raw)
		if err != nil {
			return BatchItemPage{}, fmt.Errorf("vandar %s: item %d of %d: %w", r.endpoint(), i+1, len(raws), err)
		}
		out.Items = append(out.Items, it)
		out.Raw = append(out.Raw, append(json.RawMessage(nil), raw...))
	}
	return out, nil
}

// Batch fetches one batch with all its items: it finds the batch in the batch list (Vandar has no endpoint
// for one batch's totals), then reads its items with BatchWithItems. A batch the list does not hold is
// ErrNotFound.
func (c *Client) Batch(ctx context.Context, batchID string) (events.Batch, error) {
	for page := 1; ; page++ {
		p, err := c.Batches(ctx, page)
		if err != nil {
			return events.Batch{}, err
		}
		for _, b := range p.Items {
			if b.BatchID == batchID {
				return c.BatchWithItems(ctx, b)
			}
		}
		if !p.HasMore || len(p.Items) == 0 {
			return events.Batch{}, fmt.Errorf("vandar batch %s of %s: %w in the batch list", quote(batchID),
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
func (c *Client) BatchWithItems(ctx context.Context, b events.Batch) (events.Batch, error) {
	seen := map[string]int{}
	var raws []json.RawMessage
	b.Items = nil
	for page := 1; ; page++ {
		p, err := c.BatchItems(ctx, b.BatchID, page, BatchItemsPerPage)
		if err != nil {
			return events.Batch{}, err
		}
		for i, it := range p.Items {
			if j, dup := seen[it.ID]; dup {
				if !batchItemsEqual(b.Items[j], it) {
					return events.Batch{}, fmt.Errorf("vandar batch %s of %s: item %s changed while its pages were "+
						"read", quote(b.BatchID), c.cfg.Business, quote(it.ID))
				}
				continue
			}
			seen[it.ID] = len(b.Items)
			b.Items = append(b.Items, it)
			raws = append(raws, p.Raw[i])
		}
		b.ObservedAt = p.ObservedAt
		if !p.HasMore || len(p.Items) == 0 {
			if p.Total >= 0 && p.Total != len(b.Items) {
				return events.Batch{}, fmt.Errorf("vandar batch %s of %s: read %d distinct items, its item list "+
					"says %d", quote(b.BatchID), c.cfg.Business, len(b.Items), p.Total)
			}
			break
		}
	}
	b.ItemsRead = true
	raw, err := json.Marshal(map[string]any{"batch": b.Raw, "items": raws})
	if err != nil {
		return events.Batch{}, fmt.Errorf("vandar batch %s: keep raw items: %w", quote(b.BatchID), err)
	}
	b.Raw = raw
	return b, nil
}

func batchItemsEqual(a, b events.BatchItem) bool {
	return a.ID == b.ID && a.TrackID == b.TrackID && a.TransactionID == b.TransactionID &&
		a.Amount.Equal(b.Amount) && a.IBAN == b.IBAN && a.Status == b.Status && a.Type == b.Type &&
		a.ErrorMessage == b.ErrorMessage
}

// decodeBatchHostPage reads the batch host's paging: {"data":[…],"links":{…,"next":…},"meta":{"current_page",
// "last_page","total",…}}. total is the meta's total, or -1. A 2xx whose body carries "status": 0 (the API
// host's error shape) is an APIError.
func decodeBatchHostPage(endpoint string, body []byte, page int, redact func(string) string) (
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
	meta, err := members(m["meta"])
	if err != nil {
		return fail(fmt.Errorf("field meta: %w", err))
	}
	links := map[string]json.RawMessage{}
	if raw, ok := m["links"]; ok {
		if links, err = members(raw); err != nil {
			return fail(fmt.Errorf("field links: %w", err))
		}
	}
	if more, err = pagingMore(meta, links, page); err != nil {
		return fail(err)
	}
	total = -1
	var t jsonNum
	if err := member(meta, "total", &t); err != nil {
		return fail(fmt.Errorf("field meta: %w", err))
	}
	if t.set {
		n, err := t.int64()
		if err != nil || n < 0 {
			return fail(fmt.Errorf("field meta.total: %s is not a count", quote(t.text)))
		}
		total = int(n)
	}
	if raws, err = rawList(m["data"]); err != nil {
		return fail(fmt.Errorf("field data: %w", err))
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
	if strings.TrimSpace(id.text) == "" {
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
		var n jsonNum
		if err := n.UnmarshalJSON(raw); err != nil {
			return b, fmt.Errorf("field status.%s: %w", name, err)
		}
		if !n.set {
			continue
		}
		key := strings.ToLower(name)
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
	var total, created jsonNum
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
		secs, err := created.int64()
		if err != nil || secs < 0 {
			return b, fmt.Errorf("field created_at: %s is not unix seconds", quote(created.text))
		}
		if secs > 0 {
			b.CreatedAt = time.Unix(secs, 0).UTC()
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
	if strings.TrimSpace(id.text) == "" {
		return events.BatchItem{}, errors.New("batch item: field id: missing")
	}
	it := events.BatchItem{ID: id.text, TrackID: trackID.text, IBAN: strings.TrimSpace(iban.text), Type: typ.text,
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
