package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// One statement item nobody understands — a status code Vandar never documented — no longer halts the feed.
// The poller quarantines it (publishing the raw item, endpoint and reason) and moves on; the reconciler
// records it, raises an alert naming it, and — since the item moved the wallet — the running-balance check
// shows its money as a break. Every other item is in the ledger, and the statement's watermark moved.
func TestAnItemNobodyUnderstandsIsQuarantinedAndTheFeedMovesOn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := checksSetup(t)
	odd := pickItem(t, b, checksStart.AddDate(0, 0, 10), vandartest.KindIPG)
	id := strconv.FormatInt(odd.ID, 10)
	rw := func(r *http.Request, body []byte) []byte {
		if !strings.HasSuffix(r.URL.Path, "/transaction") {
			return body
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var top map[string]any
		if dec.Decode(&top) != nil {
			return body
		}
		items, _ := top["data"].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok && m["id"] == json.Number(id) {
				m["status"] = 77
			}
		}
		out, _ := json.Marshal(top)
		return out
	}
	b.rewrite.Store(&rw)
	b.run(ctx)

	var endpoint, reason string
	if err := b.pool.QueryRow(ctx, `SELECT endpoint, reason FROM recon.quarantined WHERE item_id = $1`, id).
		Scan(&endpoint, &reason); err != nil {
		t.Fatalf("item %s was not recorded as quarantined: %v", id, err)
	}
	if endpoint != "GET /v3/business/acme/transaction" || !strings.Contains(reason, "77") {
		t.Errorf("recorded endpoint %q reason %q", endpoint, reason)
	}
	kinds := map[string]int{}
	for _, a := range b.alerts(ctx) {
		kinds[a.Kind]++
		if a.Kind == "quarantined" && (!strings.Contains(a.Summary, id) || !strings.Contains(a.Summary, "77")) {
			t.Errorf("quarantine alert %q does not name the item and the reason", a.Summary)
		}
	}
	if kinds["quarantined"] != 1 || kinds["running_balance"] == 0 {
		t.Errorf("alerts by kind %v: want one quarantine and the running-balance break its money makes", kinds)
	}
	posted := b.count(ctx, `SELECT count(*) FROM ledger.entry_sources WHERE item_id IS NOT NULL`)
	if posted == 0 {
		t.Error("nothing posted: the feed halted")
	}
	if n := b.count(ctx, `SELECT count(*) FROM recon.watermarks WHERE feed = 'statement' AND through >= $1`,
		odd.CreatedAt); n != 1 {
		t.Error("the statement watermark did not pass the quarantined item: the feed halted")
	}
	// Polling again quarantines the same fact: still one alert.
	b.run(ctx)
	n := 0
	for _, a := range b.alerts(ctx) {
		if a.Kind == "quarantined" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d quarantine alerts after a second poll, want still 1", n)
	}
}
