package vandar

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The answers `poller probe --record` wrote from a probe of the simulator (testdata/probe; rewrite them with
// go test -run TestProbe -update) decode with the feeds' own decoders, every item understood. A set recorded
// from a real account goes beside them the same way: a fixture that stops decoding is a regression.
func TestRecordedProbeFixturesDecode(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", "probe", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	endpoint := "GET /recorded"
	if _, err := decodeBalance(endpoint, "acme", read("balance.json"), at, nil); err != nil {
		t.Errorf("balance.json: %v", err)
	}
	page, err := decodePage(endpoint, "acme", read("statement.json"), at, nil)
	if err != nil || len(page.Quarantined) > 0 || len(page.Items) == 0 {
		t.Errorf("statement.json: %d items, quarantined %+v, %v", len(page.Items), page.Quarantined, err)
	}
	for name, sh := range map[string]shape{"settlements.json": shapeV21, "queued.json": shapeV3} {
		p, err := decodeSettlementPage(endpoint, "acme", read(name), 1, MaxPerPage, sh, sh == shapeV3, at, nil)
		if err != nil || len(p.Quarantined) > 0 || len(p.Items) == 0 {
			t.Errorf("%s: %d settlements, quarantined %+v, %v", name, len(p.Items), p.Quarantined, err)
		}
	}
	raws, _, _, err := decodeBatchHostPage(endpoint, read("batches.json"), 1, batchListPerPage, nil)
	if err != nil || len(raws) == 0 {
		t.Fatalf("batches.json: %d batches, %v", len(raws), err)
	}
	for i, raw := range raws {
		if _, err := decodeBatch("acme", raw); err != nil {
			t.Errorf("batches.json batch %d: %v", i+1, err)
		}
	}
	raws, _, _, err = decodeBatchHostPage(endpoint, read("batch_items.json"), 1, BatchItemsPerPage, nil)
	if err != nil || len(raws) == 0 {
		t.Fatalf("batch_items.json: %d items, %v", len(raws), err)
	}
	for i, raw := range raws {
		if _, err := decodeBatchItem(raw); err != nil {
			t.Errorf("batch_items.json item %d: %v", i+1, err)
		}
	}
}
