package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/mizanhq/mizan/internal/ledger"
	"github.com/mizanhq/mizan/internal/pgtest"
)

// The accountant's commands, as a person runs them: connected with their own login, which the audit
// records, and the output says what was posted.
func TestAccountantCommands(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dbURL := pgtest.NewDB(t)

	b := make([]byte, 5)
	_, _ = rand.Read(b)
	login := "mizan_test_sara_" + hex.EncodeToString(b)
	// A password, because a server may ask for one (the embedded PostgreSQL does) where trust would not.
	if _, err := pool.Exec(ctx, "CREATE ROLE "+login+" LOGIN PASSWORD '"+login+"' IN ROLE mizan_accountant"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+login) })
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(login, login)
	env := map[string]string{"DATABASE_URL": u.String()}
	getenv := func(k string) string { return env[k] }

	susp := ledger.Account{Code: "liabilities:vandar:acme:suspense", Type: ledger.AccountLiability, Currency: "IRT"}
	wallet := ledger.Account{Code: "assets:vandar:acme:wallet", Type: ledger.AccountAsset, Currency: "IRT"}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := ledger.Apply(ctx, tx, []ledger.Entry{{IdempotencyKey: "vandar:acme:statement:9", EffectiveAt: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC),
			Metadata: map[string]any{"kind": "correction"},
			Postings: []ledger.Posting{{Account: wallet, Amount: decimal.NewFromInt(700)}, {Account: susp, Amount: decimal.NewFromInt(-700)}}}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var correction, alert int64
	if err := pool.QueryRow(ctx, `SELECT id FROM ledger.entries WHERE idempotency_key = 'vandar:acme:statement:9'`).Scan(&correction); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO recon.alerts (kind, severity, subject, dedup_key, summary)
		VALUES ('balance_mismatch', 'critical', 'vandar/acme/wallet', 'b', 'drift') RETURNING id`).Scan(&alert); err != nil {
		t.Fatal(err)
	}

	runCmd := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := run(ctx, args, getenv, &out, &errs)
		return out.String(), err
	}

	out, err := runCmd("adjust", "--reason", "the correction is a refund Vandar booked twice", "--clears", fmt.Sprint(correction),
		"--post", "liabilities:vandar:acme:suspense=700", "--post", "expenses:vandar:acme:provider_errors=-700", "--create-accounts")
	if err != nil {
		t.Fatalf("adjust: %v", err)
	}
	var entry int64
	if _, err := fmt.Sscanf(out, "posted adjustment entry %d by "+login, &entry); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	var author, app string
	var open bool
	if err := pool.QueryRow(ctx, `SELECT x.author, x.application_name, s.is_open FROM ledger.adjustments x, analytics.suspense s
		WHERE x.entry_id = $1 AND s.entry_id = $2`, entry, correction).Scan(&author, &app, &open); err != nil {
		t.Fatal(err)
	}
	if author != login || app != "reconciler-adjust" || open {
		t.Errorf("audit: author %q, application %q; the suspense line open: %v", author, app, open)
	}

	out, err = runCmd("adjust", "reverse", fmt.Sprint(entry), "--reason", "wrong account")
	if err != nil || !strings.Contains(out, fmt.Sprintf("reversing adjustment %d", entry)) {
		t.Errorf("adjust reverse: %q, %v", out, err)
	}
	out, err = runCmd("ack", fmt.Sprint(alert), "--note", "asked Vandar, ticket 8812")
	if err != nil || !strings.Contains(out, fmt.Sprintf("alert %d acknowledged by %s", alert, login)) {
		t.Errorf("ack: %q, %v", out, err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"adjust", "--post", "a:b:c:d=1", "--post", "a:b:c:e=-1"}, "a reason is required"},
		{[]string{"adjust", "--reason", "r", "--post", "assets:vandar:acme:wallet=5", "--post", "liabilities:vandar:acme:suspense=-4"}, "does not balance"},
		{[]string{"adjust", "--reason", "r", "--post", "nonsense"}, "want ACCOUNT=AMOUNT"},
		{[]string{"ack", "--note", "x"}, "ALERT_ID first"},
		{[]string{"ack", fmt.Sprint(alert), "--note", "again"}, "was acknowledged by " + login},
	} {
		if _, err := runCmd(tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	// Help needs no database.
	delete(env, "DATABASE_URL")
	if _, err := runCmd("adjust", "-h"); err != nil {
		t.Errorf("adjust -h: %v", err)
	}
}
