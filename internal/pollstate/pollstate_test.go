package pollstate_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/migrations"
)

const testKey = "pollstate-test-key-0123456789"

func sealer(t *testing.T) *pollstate.Sealer {
	t.Helper()
	s, err := pollstate.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Credentials round-trip sealed: what is saved loads back, a nil value deletes, the database holds no
// plaintext, and another source's store sees none of it.
func TestCredentialsAreSealedPerSource(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	acme := pollstate.NewCredentials(pool, sealer(t), "vandar-acme")
	exp := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if err := acme.Save(ctx, map[string]sources.Credential{
		"access_token":   {Value: []byte("access-plaintext-41f2"), ExpiresAt: exp},
		"refresh_token":  {Value: []byte("refresh-plaintext-77c1")},
		"refresh_answer": {Value: []byte(`{"access_token":"x"}`)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := acme.Save(ctx, map[string]sources.Credential{"refresh_answer": {Value: nil}}); err != nil {
		t.Fatal(err)
	}
	got, err := acme.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["access_token"].Value) != "access-plaintext-41f2" ||
		!got["access_token"].ExpiresAt.Equal(exp) || string(got["refresh_token"].Value) != "refresh-plaintext-77c1" ||
		!got["refresh_token"].ExpiresAt.IsZero() || got["access_token"].UpdatedAt.IsZero() {
		t.Fatalf("loaded %v", got)
	}
	var plain int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM poller.credentials WHERE position('plaintext' IN encode(sealed, 'escape')) > 0`).
		Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("%d rows hold plaintext (%v)", plain, err)
	}
	other, err := pollstate.NewCredentials(pool, sealer(t), "vandar-initech").Load(ctx)
	if err != nil || len(other) != 0 {
		t.Fatalf("another source loads %v, %v", other, err)
	}
	// A row copied onto another source does not open there.
	if _, err := pool.Exec(ctx, `INSERT INTO poller.credentials (source, name, sealed)
		SELECT 'vandar-initech', name, sealed FROM poller.credentials WHERE source = 'vandar-acme'`); err != nil {
		t.Fatal(err)
	}
	if _, err := pollstate.NewCredentials(pool, sealer(t), "vandar-initech").Load(ctx); err == nil {
		t.Fatal("a credential sealed for vandar-acme opened as vandar-initech's")
	}
}

// The credential lock is held across processes: a second holder waits until the first releases, and gives
// up when its context does.
func TestCredentialLockWaitsForTheHolder(t *testing.T) {
	t.Parallel()
	_, url := pgtest.NewDB(t)
	ctx := t.Context()
	// Two pools: two processes' sessions.
	open := func() *pgxpool.Pool {
		p, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	a := pollstate.NewCredentials(open(), sealer(t), "vandar-acme")
	b := pollstate.NewCredentials(open(), sealer(t), "vandar-acme")
	release, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short); err == nil {
		t.Fatal("a second process took the lock while the first held it")
	}
	got := make(chan error, 1)
	go func() {
		rel, err := b.Lock(ctx)
		if err == nil {
			rel()
		}
		got <- err
	}()
	release()
	if err := <-got; err != nil {
		t.Fatalf("the second process did not get the lock once it was released: %v", err)
	}
	// Another source's lock is another lock.
	rel, err := pollstate.NewCredentials(open(), sealer(t), "vandar-initech").Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

// Cursors are the source's JSON, stored as given; nothing stored reads as nil.
func TestCursorsAreOpaqueJSON(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	ctx := t.Context()
	c := pollstate.NewCursors(pool)
	if got, err := c.Load(ctx, "s", "statement"); err != nil || got != nil {
		t.Fatalf("Load of nothing = %q, %v", got, err)
	}
	if err := c.Save(ctx, "s", "statement", []byte(`{"last_id":"7"}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Load(ctx, "s", "statement"); err != nil || string(got) != `{"last_id": "7"}` {
		t.Fatalf("Load = %s, %v", got, err)
	}
	if err := c.Save(ctx, "s", "statement", []byte(`{not json`)); err == nil {
		t.Fatal("a cursor that is not JSON was saved")
	}
}

// credentialsVersion is the data migration under test: migrations/00050_poller_credentials.sql.
const credentialsVersion = 50

// The data migration, with data before and after: token pairs sealed into poller.tokens by the poller before
// it open unchanged from poller.credentials under Vandar's names, with their expiries; and the way down
// puts complete pairs back.
func TestCredentialsMigration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.NewEmptyDB(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, credentialsVersion-1); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	// Before: what the poller stored — each token sealed on its own, the source bound in.
	s := sealer(t)
	seal := func(source, v string) []byte {
		b, err := s.Seal(source, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	accessExp := time.Date(2026, 4, 6, 12, 0, 0, 0, time.UTC)
	refreshExp := time.Date(2026, 4, 11, 12, 0, 0, 0, time.UTC)
	if _, err := pool.Exec(ctx, `INSERT INTO poller.tokens (source, access_token, refresh_token, access_expires_at, refresh_expires_at)
		VALUES ('vandar-acme', $1, $2, $3, $4), ('vandar-seeded', $5, $6, NULL, NULL)`,
		seal("vandar-acme", "acme-access"), seal("vandar-acme", "acme-refresh"), accessExp, refreshExp,
		seal("vandar-seeded", "seeded-access"), seal("vandar-seeded", "seeded-refresh")); err != nil {
		t.Fatal(err)
	}

	if _, err := p.UpTo(ctx, credentialsVersion); err != nil {
		t.Fatal(err)
	}

	// After: the same pairs, read through the store the poller uses now.
	for source, want := range map[string][4]any{
		"vandar-acme":   {"acme-access", "acme-refresh", accessExp, refreshExp},
		"vandar-seeded": {"seeded-access", "seeded-refresh", time.Time{}, time.Time{}},
	} {
		got, err := pollstate.NewCredentials(pool, s, source).Load(ctx)
		if err != nil {
			t.Fatalf("%s: %v", source, err)
		}
		if len(got) != 2 || string(got["access_token"].Value) != want[0] || string(got["refresh_token"].Value) != want[1] ||
			!got["access_token"].ExpiresAt.Equal(want[2].(time.Time)) || !got["refresh_token"].ExpiresAt.Equal(want[3].(time.Time)) {
			t.Errorf("%s after the migration: %v", source, got)
		}
	}
	var tokens *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass('poller.tokens')::text`).Scan(&tokens); err != nil || tokens != nil {
		t.Errorf("poller.tokens still exists (%v, %v)", tokens, err)
	}

	// A source that has since kept a raw refresh answer, and one with only half a pair: the way down keeps
	// the complete pairs and nothing else.
	if err := pollstate.NewCredentials(pool, s, "vandar-acme").Save(ctx, map[string]sources.Credential{
		"refresh_answer": {Value: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	if err := pollstate.NewCredentials(pool, s, "vandar-half").Save(ctx, map[string]sources.Credential{
		"access_token": {Value: []byte("half")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, credentialsVersion-1); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT source, access_token, refresh_token, access_expires_at FROM poller.tokens ORDER BY source`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		source          string
		access, refresh []byte
		accessExpires   *time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.source, &x.access, &x.refresh, &x.accessExpires)
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].source != "vandar-acme" || got[1].source != "vandar-seeded" {
		t.Fatalf("after down: %d rows %v", len(got), got)
	}
	if a, err := s.Open("vandar-acme", got[0].access); err != nil || a != "acme-access" || got[0].accessExpires == nil ||
		!got[0].accessExpires.Equal(accessExp) {
		t.Errorf("vandar-acme after down: %q %v %v", a, got[0].accessExpires, err)
	}
	if r, err := s.Open("vandar-seeded", got[1].refresh); err != nil || r != "seeded-refresh" {
		t.Errorf("vandar-seeded after down: %q %v", r, err)
	}
	if _, err := pool.Exec(ctx, `SELECT 1 FROM poller.credentials`); err == nil {
		t.Error("poller.credentials survived the way down")
	}
}
