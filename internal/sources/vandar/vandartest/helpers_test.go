package vandartest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// testNow is the simulated "now" of most tests: the generated month ends on it.
var testNow = time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC)

// month is a realistic generated month ending at testNow.
func month(slug string, seed int64) vandartest.BusinessOptions {
	return vandartest.BusinessOptions{Slug: slug, Seed: seed, Start: testNow.AddDate(0, 0, -29), Days: 30, PerDay: 40}
}

type bundle struct {
	srv     *vandartest.Server
	access  string
	refresh string
}

// setup starts a simulator at testNow with the given businesses (default: one generated month of "acme")
// and a token pair for the first one.
func setup(t *testing.T, opts vandartest.Options) bundle {
	t.Helper()
	if len(opts.Businesses) == 0 {
		opts.Businesses = []vandartest.BusinessOptions{month("acme", 7)}
	}
	srv, err := vandartest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if opts.Now == nil {
		srv.SetNow(testNow)
	}
	access, refresh, _ := srv.IssueTokens(opts.Businesses[0].Slug)
	return bundle{srv: srv, access: access, refresh: refresh}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, u, token string, body io.Reader, contentType string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (b bundle) get(t *testing.T, path string, query url.Values) response {
	t.Helper()
	u := b.srv.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return do(t, http.MethodGet, u, b.access, nil, "")
}

// item is what the tests read of a statement item.
type item struct {
	ID                   int64   `json:"id"`
	Amount               int64   `json:"amount"`
	Wage                 int64   `json:"wage"`
	Status               int     `json:"status"`
	Channel              string  `json:"channel"`
	CreatedAt            string  `json:"created_at"`
	UpdatedAt            string  `json:"updated_at"`
	EffectiveTimeStamp   *int64  `json:"effective_time_stamp"`
	EffectiveAtJalali    *string `json:"effective_at_jalali"`
	Wallet               int64   `json:"wallet"`
	IsDeposit            bool    `json:"is_deposit"`
	RevisedTransactionID *int64  `json:"revised_transaction_id"`
	TrackID              *string `json:"track_id"`
}

type page struct {
	Status  int               `json:"status"`
	HasMore bool              `json:"has_more"`
	Data    []json.RawMessage `json:"data"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// statement pages through the whole statement with start_after and returns every item and every raw item.
func (b bundle) statement(t *testing.T, slug string, query url.Values) ([]item, []json.RawMessage) {
	t.Helper()
	var items []item
	var raws []json.RawMessage
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("statement never ends")
		}
		r := b.get(t, "/v3/business/"+slug+"/transaction", q)
		if r.status != http.StatusOK {
			t.Fatalf("statement: %d %s", r.status, r.body)
		}
		p := decode[page](t, r.body)
		if p.Status != 1 {
			t.Fatalf("statement: status %d", p.Status)
		}
		for _, raw := range p.Data {
			items = append(items, decode[item](t, raw))
			raws = append(raws, raw)
		}
		if !p.HasMore {
			return items, raws
		}
		if len(p.Data) == 0 {
			t.Fatal("has_more with an empty page")
		}
		q.Set("start_after", jsonNumber(items[len(items)-1].ID))
	}
}

func jsonNumber(n int64) string { return strings.TrimSpace(string(must(json.Marshal(n)))) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

type balance struct {
	Status int `json:"status"`
	Data   struct {
		Wallet   int64  `json:"wallet"`
		Currency string `json:"currency"`
	} `json:"data"`
}

func (b bundle) balance(t *testing.T, slug string) int64 {
	t.Helper()
	r := b.get(t, "/v2/business/"+slug+"/balance", nil)
	if r.status != http.StatusOK {
		t.Fatalf("balance: %d %s", r.status, r.body)
	}
	bal := decode[balance](t, r.body)
	if bal.Status != 1 || bal.Data.Currency != "Toman" {
		t.Fatalf("balance body %s", r.body)
	}
	return bal.Data.Wallet
}
