package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/matching"
)

// start runs the command on a free port and reads what it prints until the token pairs of all businesses
// businesses are out.
func start(t *testing.T, businesses int, args ...string) (base string, env map[string]string, comments []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	env = map[string]string{}
	lines := bufio.NewScanner(pr)
	for pairs := 0; pairs < businesses && lines.Scan(); {
		line := lines.Text()
		if url, ok := strings.CutPrefix(line, "# api_url: "); ok {
			base = url
		}
		if strings.HasPrefix(line, "#") {
			comments = append(comments, line)
		} else if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
			if strings.HasSuffix(k, "_REFRESH_TOKEN") {
				pairs++
			}
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }() // keep the command's later writes from blocking
	return base, env, comments
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestRunServesEveryBusinessWithThePrintedTokens(t *testing.T) {
	base, env, _ := start(t, 2, "--business", "acme,shop-2", "--days", "3", "--per-day", "10", "--seed", "5")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	for slug, prefix := range map[string]string{"acme": "VANDAR_ACME", "shop-2": "VANDAR_SHOP_2"} {
		access := env[prefix+"_ACCESS_TOKEN"]
		if access == "" || env[prefix+"_REFRESH_TOKEN"] == "" {
			t.Fatalf("no token pair printed for %s: %v", slug, env)
		}
		status, body := get(t, base+"/v2/business/"+slug+"/balance", access)
		if status != http.StatusOK || body["status"] != float64(1) {
			t.Errorf("%s balance: %d %v", slug, status, body)
		}
		status, body = get(t, base+"/v3/business/"+slug+"/transaction?per_page=5", access)
		if data, _ := body["data"].([]any); status != http.StatusOK || len(data) == 0 {
			t.Errorf("%s statement: %d %v", slug, status, body)
		}
	}
}

func TestRunPlantsDiscrepancies(t *testing.T) {
	_, _, comments := start(t, 1, "--business", "acme", "--days", "30", "--discrepancies")
	planted := 0
	for _, c := range comments {
		if strings.HasPrefix(c, "# planted in acme") {
			planted++
		}
	}
	// Five in the statement and the balance, three in the payouts: a month has what each knob needs.
	if planted != 8 {
		t.Errorf("%d discrepancies announced, want 8: %q", planted, comments)
	}
}

// The businesses' records, with the matching faults planted, in the file `reconciler expect import` reads:
// orders and payout requests, the planted unpaid order among them.
func TestRunWritesTheBusinessesRecords(t *testing.T) {
	file := filepath.Join(t.TempDir(), "records.csv")
	_, _, comments := start(t, 1, "--business", "acme", "--days", "10", "--expectations", file, "--matching-faults")
	var unpaid string
	for _, c := range comments {
		if rest, ok := strings.CutPrefix(c, "# planted in acme's records: order "); ok {
			unpaid, _, _ = strings.Cut(rest, " ")
		}
	}
	if unpaid == "" {
		t.Fatalf("no planted records announced: %q", comments)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exps, err := matching.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, x := range exps {
		kinds[x.Kind]++
		if x.ExpectationID == unpaid {
			unpaid = ""
		}
	}
	if unpaid != "" {
		t.Errorf("no record of the unpaid order %s", unpaid)
	}
	if kinds[events.ExpectPayment] == 0 || kinds[events.ExpectPayout] == 0 {
		t.Errorf("records by kind: %v, want orders and payout requests", kinds)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--days", "x"}, {"--business", "a b"}, {"stray"}} {
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("run %q: no error", args)
		}
	}
}
