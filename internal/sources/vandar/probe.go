package vandar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/checks"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
)

// Probe calls each endpoint the feeds read, once — the balance, the first statement page, the first page
// of the settlement list and of the queue, the first batch page and the first batch's items — with the
// source's credentials (refreshing and storing the rotated pair as a poll would), and reports what it
// understood through the same decoders the feeds use. A problem is anything the poller would not take in
// silently: a refusal, an answer it cannot read, an item it would quarantine. Fields the decoders do not read
// are noted, not problems: they are kept in each fact's raw item.
func (s *Source) Probe(ctx context.Context, rec sources.Recorder) (sources.Report, error) {
	p := &prober{c: s.client, business: s.business, rec: rec}
	p.balance(ctx)
	if p.authErr != nil {
		return p.report, p.authErr
	}
	p.statement(ctx)
	p.settlements(ctx, "settlements.json", "v2.1", "/settlement", shapeV21, false)
	p.settlements(ctx, "queued.json", "v3", "/settlement/queued", shapeV3, true)
	p.batches(ctx)
	p.tokenNotes(ctx)
	return p.report, p.authErr
}

type prober struct {
	c        *Client
	business string
	rec      sources.Recorder
	report   sources.Report
	authErr  error
}

// get sends one GET as the feeds would and starts its report; body is nil when no 2xx came.
func (p *prober) get(ctx context.Context, r request) (*sources.EndpointReport, []byte) {
	p.report.Endpoints = append(p.report.Endpoints, sources.EndpointReport{Endpoint: r.endpoint()})
	e := &p.report.Endpoints[len(p.report.Endpoints)-1]
	body, err := p.c.send(ctx, r)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			e.Status = apiErr.Status
		}
		if classify(ctx, err) == abort {
			p.authErr = err
		}
		e.Problems = append(e.Problems, p.what(err))
		return e, nil
	}
	e.Status = http.StatusOK
	e.Shape = sources.Shape(body)
	return e, body
}

// what says what the poller does with a failed request.
func (p *prober) what(err error) string {
	switch classify(context.Background(), err) {
	case skip:
		return "refused or unreadable, so the poller skips this endpoint and raises a quarantine alert: " + err.Error()
	case retryLater:
		return "failed for now (the poller retries on its next poll): " + err.Error()
	}
	return "the poller cannot go on: " + err.Error()
}

// record keeps the answer, redacted, as a fixture.
func (p *prober) record(e *sources.EndpointReport, name string, body []byte) {
	if p.rec == nil || body == nil {
		return
	}
	clean, err := sources.Redact(body, personalFields)
	if err == nil {
		err = p.rec.Record(name, clean)
	}
	if err != nil {
		e.Problems = append(e.Problems, "not recorded: "+err.Error())
	}
}

// quarantined reports the items the poller would publish as quarantined.
func (p *prober) quarantined(e *sources.EndpointReport, qs []events.Quarantined) {
	for _, q := range qs {
		e.Problems = append(e.Problems, fmt.Sprintf("item (id %q) would be quarantined: %s", q.ItemID, q.Reason))
	}
}

func (p *prober) balance(ctx context.Context) {
	r := p.c.balanceRequest()
	e, body := p.get(ctx, r)
	p.record(e, "balance.json", body)
	if body == nil {
		return
	}
	b, err := decodeBalance(r.endpoint(), p.business, body, p.c.now().UTC(), p.c.redact)
	if err != nil {
		e.Problems = append(e.Problems, "would be quarantined: "+err.Error())
		return
	}
	b.ObservedAt = p.c.now().UTC()
	e.Count = 1
	e.First = factJSON(b)
	p.unread(e, body, readFields["balance"], "data")
}

func (p *prober) statement(ctx context.Context) {
	q := StatementQuery{Sort: SortAsc, PerPage: MaxPerPage}
	values, _ := q.values()
	r := request{method: http.MethodGet, base: p.c.cfg.APIURL, path: p.c.businessPath("v3", "/transaction"), query: values}
	e, body := p.get(ctx, r)
	p.record(e, "statement.json", body)
	if body == nil {
		return
	}
	page, err := decodePage(r.endpoint(), p.business, body, p.c.now().UTC(), p.c.redact)
	if err != nil {
		e.Problems = append(e.Problems, "the poller cannot read this answer: "+err.Error())
		return
	}
	e.Count = page.Len()
	switch {
	case !page.HasMoreReported:
		e.Paging = "no has_more: the poller pages on until a page comes back empty"
		e.Notes = append(e.Notes, "has_more is missing")
	default:
		e.Paging = fmt.Sprintf("has_more=%t; paged ascending with start_after (per_page=%d)", page.HasMore, MaxPerPage)
	}
	codes := map[int]int{}
	for _, it := range page.Items {
		codes[it.StatusCode]++
	}
	if len(codes) > 0 {
		var parts []string
		for _, c := range slices.Sorted(mapKeys(codes)) {
			info, _ := LookupStatus(c)
			parts = append(parts, fmt.Sprintf("%d %s ×%d", c, info.Name, codes[c]))
		}
		e.Notes = append(e.Notes, "statuses: "+strings.Join(parts, ", "))
	}
	p.quarantined(e, page.Quarantined)
	feeConvention(e, page.Items)
	if len(page.Items) > 0 {
		e.First = factJSON(page.Items[0])
	}
	p.unread(e, body, readFields["statement"], "data", "[]")
}

// feeConvention says which fee convention the page's running balance shows. mizan posts a wage on top of the
// amount; an account whose wallet moves by the amount alone (the wage inside it) would break the running
// balance at every item with a wage, so that is a problem to settle before the account is polled.
func feeConvention(e *sources.EndpointReport, items []events.StatementItem) {
	moved := slices.Clone(items)
	slices.SortStableFunc(moved, func(a, b events.StatementItem) int { return a.EffectiveAt.Compare(b.EffectiveAt) })
	switch checks.FeeConvention(moved) {
	case checks.FeeOnTop:
		e.Notes = append(e.Notes, "fee convention: the wage is on top of the amount, as mizan posts it")
	case checks.FeeInside:
		e.Problems = append(e.Problems, "fee convention: the wallet moves by the amount alone, the wage inside it; "+
			"mizan posts the wage on top, so the running balance would break at every item with a wage")
	case checks.FeeNeither:
		e.Notes = append(e.Notes, "fee convention: undecided — this page's running balance fits neither convention "+
			"(an item is missing between two, or the page does not hold consecutive items)")
	default:
		e.Notes = append(e.Notes, "fee convention: undecided — no item on this page with a wage and a running balance")
	}
}

func (p *prober) settlements(ctx context.Context, name, version, rest string, sh shape, queued bool) {
	values, _ := pageValues(1, MaxPerPage)
	r := request{method: http.MethodGet, base: p.c.cfg.APIURL, path: p.c.businessPath(version, rest), query: values}
	e, body := p.get(ctx, r)
	p.record(e, name, body)
	if body == nil {
		return
	}
	page, err := decodeSettlementPage(r.endpoint(), p.business, body, 1, MaxPerPage, sh, queued, p.c.now().UTC(),
		p.c.redact)
	if err != nil {
		e.Problems = append(e.Problems, "the poller cannot read this answer: "+err.Error())
		return
	}
	e.Count = len(page.Items) + len(page.Quarantined)
	e.Paging = fmt.Sprintf("page 1, more=%t", page.HasMore)
	statuses := map[string]int{}
	for _, st := range page.Items {
		statuses[st.Status]++
	}
	if len(statuses) > 0 {
		var parts []string
		for _, st := range slices.Sorted(mapKeys(statuses)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", st, statuses[st]))
		}
		e.Notes = append(e.Notes, "statuses: "+strings.Join(parts, ", "))
	}
	p.quarantined(e, page.Quarantined)
	if len(page.Items) > 0 {
		e.First = factJSON(page.Items[0])
	}
	p.unread(e, body, readFields["settlement"], "data", "settlements", "data", "[]")
}

func (p *prober) batches(ctx context.Context) {
	r := request{method: http.MethodGet, base: p.c.cfg.BatchURL, path: p.c.businessPath("api/v2", "/batches"),
		query: url.Values{"page": {"1"}}}
	e, body := p.get(ctx, r)
	p.record(e, "batches.json", body)
	if body == nil {
		return
	}
	raws, more, total, err := decodeBatchHostPage(r.endpoint(), body, 1, batchListPerPage, p.c.redact)
	if err != nil {
		e.Problems = append(e.Problems, "the poller cannot read this answer: "+err.Error())
		return
	}
	e.Count = len(raws)
	e.Paging = fmt.Sprintf("page 1, more=%t, total=%d", more, total)
	var first *events.Batch
	for _, raw := range raws {
		b, err := decodeBatch(p.business, raw)
		if err != nil {
			p.quarantined(e, []events.Quarantined{quarantined(r.endpoint(), p.business, events.FeedBatches, raw,
				p.c.now().UTC(), err, "batch_id", "id")})
			continue
		}
		if first == nil {
			first = &b
			b.ObservedAt = p.c.now().UTC()
			e.First = factJSON(b)
		}
	}
	p.unread(e, body, readFields["batch"], "data", "[]")
	if first == nil {
		return
	}
	values, _ := pageValues(1, BatchItemsPerPage)
	r = request{method: http.MethodGet, base: p.c.cfg.BatchURL,
		path: p.c.businessPath("api/v2", "/batch-settlements/"+url.PathEscape(first.BatchID)), query: values}
	e, body = p.get(ctx, r)
	p.record(e, "batch_items.json", body)
	if body == nil {
		return
	}
	raws, more, total, err = decodeBatchHostPage(r.endpoint(), body, 1, BatchItemsPerPage, p.c.redact)
	if err != nil {
		e.Problems = append(e.Problems, "the poller cannot read this answer: "+err.Error())
		return
	}
	e.Count = len(raws)
	e.Paging = fmt.Sprintf("page 1, more=%t, total=%d", more, total)
	for _, raw := range raws {
		it, err := decodeBatchItem(raw)
		if err != nil {
			p.quarantined(e, []events.Quarantined{quarantined(r.endpoint(), p.business, events.FeedBatches, raw,
				p.c.now().UTC(), err, "id", "transaction_id", "track_id")})
			continue
		}
		if e.First == "" {
			e.First = factJSON(it)
		}
	}
	p.unread(e, body, readFields["batch_item"], "data", "[]")
}

// tokenNotes says when the stored pair expires.
func (p *prober) tokenNotes(ctx context.Context) {
	s, err := p.c.loadStored(ctx)
	if err != nil {
		p.report.Notes = append(p.report.Notes, "tokens: "+err.Error())
		return
	}
	at := func(t time.Time) string {
		if t.IsZero() {
			return "unknown"
		}
		return fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), t.Sub(p.c.now()).Round(time.Minute))
	}
	p.report.Notes = append(p.report.Notes, fmt.Sprintf("token pair stored: access token expires %s, refresh token %s",
		at(s.tokens.AccessExpiresAt), at(s.tokens.RefreshExpiresAt)))
}

// unread notes the members of the items at path (a "[]" step walks into a list) that no decoder reads.
func (p *prober) unread(e *sources.EndpointReport, body []byte, read []string, path ...string) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	items := []any{v}
	for _, step := range path {
		var next []any
		for _, it := range items {
			switch x := it.(type) {
			case map[string]any:
				if step != "[]" {
					next = append(next, x[step])
				}
			case []any:
				if step == "[]" {
					next = append(next, x...)
				}
			}
		}
		items = next
	}
	unknown := map[string]bool{}
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			for k := range m {
				if !slices.Contains(read, k) {
					unknown[k] = true
				}
			}
		}
	}
	if len(unknown) > 0 {
		e.Notes = append(e.Notes, "fields mizan does not read (kept in the raw item): "+
			strings.Join(slices.Sorted(mapKeys(unknown)), ", "))
	}
}

// factJSON renders a normalized fact for the report, without its raw item (which may hold personal data).
func factJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		delete(m, "raw")
		b, _ = json.Marshal(m)
	}
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return string(b)
	}
	return out.String()
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readFields are the members each decoder reads; anything else in an answer is noted by the probe.
var readFields = map[string][]string{
	"balance": {"wallet", "currency"},
	"statement": {"id", "status", "amount", "wage", "wallet", "is_deposit", "verified", "channel", "created_at", "updated_at",
		"effective_time_stamp", "track_id", "description", "revised_transaction_id", "refund", "api_token"},
	"settlement": {"id", "transaction_id", "gateway_transaction_id", "amount", "amount_toman", "wage", "wage_toman",
		"wallet", "status", "track_id", "iban", "settlement_done_time_prediction", "prediction", "created_at",
		"settlement_date", "settlement_time"},
	"batch":      {"batch_id", "status", "total_amount", "created_at"},
	"batch_item": {"id", "track_id", "iban", "status", "type", "error_message", "transaction_id", "amount"},
}

// personalFields are the members a recorded answer must not keep as they were: credentials, and what names
// or reaches a person (IBANs, card numbers, names, phone numbers, addresses, free text). Each is replaced by a
// value of the same kind, so the fixture still decodes.
var personalFields = map[string]string{
	"api_token": "[redacted]", "token": "[redacted]", "access_token": "[redacted]", "refresh_token": "[redacted]",
	"iban": "IR000000000000000000000000", "card_number": "000000******0000", "cid": "redacted",
	"mobile": "09000000000", "phone": "00000000000", "email": "redacted@example.com", "ip": "0.0.0.0",
	"name": "redacted", "first_name": "redacted", "last_name": "redacted", "legal_name": "redacted",
	"business_owner": "redacted", "national_code": "0000000000", "national_id": "0000000000",
	"address": "redacted", "avatar": "", "slug": "redacted", "description": "redacted", "error_message": "redacted",
	"callback_url": "https://example.com/callback", "receipt_url": "https://example.com/receipt",
	"bank_name": "redacted", "account_number": "0000000000",
}
