package matchingtest_test

import (
	"bytes"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/matching/matchingtest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// A business's records, its planted faults included, written as a file `reconciler expect import` reads,
// read back the same: every field of every record, in order.
func TestWriteCSVReadsBackAsTheSameRecords(t *testing.T) {
	sim, err := vandartest.New(vandartest.Options{Businesses: []vandartest.BusinessOptions{
		{Slug: "acme", Seed: 18, Days: 10, PerDay: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	planted, err := matchingtest.Plant(sim, "acme")
	if err != nil {
		t.Fatal(err)
	}
	exps, err := matchingtest.Expectations(sim, "acme", planted)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, x := range exps {
		kinds[x.Kind]++
	}
	if kinds[events.ExpectPayment] == 0 || kinds[events.ExpectPayout] == 0 || kinds[events.ExpectRefund] == 0 {
		t.Fatalf("the records have every kind, want some of each: %v", kinds)
	}
	var buf bytes.Buffer
	if err := matchingtest.WriteCSV(&buf, exps); err != nil {
		t.Fatal(err)
	}
	got, err := matching.ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(exps) {
		t.Fatalf("read %d records back, wrote %d", len(got), len(exps))
	}
	for i, want := range exps {
		g := got[i]
		if g.Amount.Equal(want.Amount) && g.ExpectedBy.Equal(want.ExpectedBy) {
			g.Amount, g.ExpectedBy = want.Amount, want.ExpectedBy
		}
		if g != want {
			t.Errorf("record %d read back as\n%+v\nwrote\n%+v", i, g, want)
		}
	}
}
