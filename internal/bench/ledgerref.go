package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
)

// The independent reference: the minimal sound ledger, written here and nowhere else, so that what the
// reconciler is measured against owes nothing to mizan's own schema, migrations or triggers. It has what any
// double-entry ledger a finance team could trust must have, and nothing more:
//
//   - foreign keys from postings to entries and accounts, and from balances to accounts;
//   - a statement-level trigger refusing any entry whose postings do not sum to zero per currency;
//   - append-only entries and postings (statement-level triggers refuse UPDATE, DELETE and TRUNCATE);
//   - a balance row per account, moved by every batch that posts to it;
//   - a running balance_after and sequence number per posting, computed in the batch's statement from the
//     locked balance row (not by the client), so concurrent writers of one account stay consistent;
//   - idempotency by the entry's key: a batch seen before inserts nothing and moves no balance;
//   - one statement per batch.
//
// mizan's ledger does more per posting (booked_at and its index, a composite currency key, the checks of
// migrations 00026 and 00031, entry sources, processed event ids, the checks of the statement, matching):
// the reference is the floor of the work, and the targets say how close to it mizan runs.
const ledgerRefSchema = `
CREATE SCHEMA benchref;

CREATE TABLE benchref.accounts (
	id       bigserial PRIMARY KEY,
	code     text NOT NULL UNIQUE,
	currency text NOT NULL
);

CREATE TABLE benchref.balances (
	account_id bigint  PRIMARY KEY REFERENCES benchref.accounts (id),
	balance    numeric NOT NULL DEFAULT 0,
	postings   bigint  NOT NULL DEFAULT 0
);

CREATE TABLE benchref.entries (
	id              bigserial   PRIMARY KEY,
	idempotency_key text        NOT NULL UNIQUE,
	effective_at    timestamptz NOT NULL,
	description     text        NOT NULL,
	metadata        jsonb       NOT NULL
);

CREATE TABLE benchref.postings (
	id            bigserial PRIMARY KEY,
	entry_id      bigint    NOT NULL REFERENCES benchref.entries (id),
	account_id    bigint    NOT NULL REFERENCES benchref.accounts (id),
	currency      text      NOT NULL,
	amount        numeric   NOT NULL CHECK (amount <> 0),
	balance_after numeric   NOT NULL,
	account_seq   bigint    NOT NULL,
	UNIQUE (account_id, account_seq)
);

CREATE FUNCTION benchref.entries_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM new_postings GROUP BY entry_id, currency HAVING sum(amount) <> 0) THEN
		RAISE EXCEPTION 'benchref: an entry''s postings do not sum to zero';
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER postings_sum_to_zero AFTER INSERT ON benchref.postings
	REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION benchref.entries_balance();

CREATE FUNCTION benchref.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'benchref.% is append-only', TG_TABLE_NAME;
END $$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON benchref.entries
	FOR EACH STATEMENT EXECUTE FUNCTION benchref.append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON benchref.postings
	FOR EACH STATEMENT EXECUTE FUNCTION benchref.append_only();`

// ledgerRefInsert is a whole batch in one statement: the new entries (ON CONFLICT DO NOTHING), the postings of
// those only, each account's balance row moved by its postings' sum (the UPDATE locks it and returns the
// balance after, so the balance before is that minus the sum), and every posting's running balance and
// sequence from there, in the batch's order.
const ledgerRefInsert = `
WITH input AS (
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::jsonb[])
		WITH ORDINALITY AS i (key, effective_at, description, metadata, ord)
), e AS (
	INSERT INTO benchref.entries (idempotency_key, effective_at, description, metadata)
	SELECT key, effective_at, description, metadata FROM input ORDER BY ord
	ON CONFLICT (idempotency_key) DO NOTHING
	RETURNING id, idempotency_key
), p AS (
	SELECT e.id AS entry_id, x.account_id, x.currency, x.amount, x.n
	FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::numeric[]) WITH ORDINALITY AS x (ord, account_id, currency, amount, n)
	JOIN input i ON i.ord = x.ord
	JOIN e ON e.idempotency_key = i.key
), d AS (
	SELECT account_id, sum(amount) AS delta, count(*) AS moved FROM p GROUP BY account_id
), b AS (
	UPDATE benchref.balances bal SET balance = bal.balance + d.delta, postings = bal.postings + d.moved
	FROM d WHERE bal.account_id = d.account_id
	RETURNING bal.account_id, bal.balance - d.delta AS before, bal.postings - d.moved AS seq_before
)
INSERT INTO benchref.postings (entry_id, account_id, currency, amount, balance_after, account_seq)
SELECT p.entry_id, p.account_id, p.currency, p.amount,
	b.before + sum(p.amount) OVER w, b.seq_before + row_number() OVER w
FROM p JOIN b USING (account_id)
WINDOW w AS (PARTITION BY p.account_id ORDER BY p.n)`

// LedgerRefResult is one pass of the independent reference over the workload's entries.
type LedgerRefResult struct {
	Entries, Postings int
	Batch, Conns      int
	Replay            bool // every entry was already there: the pass inserted nothing
	Elapsed           time.Duration
	CPU               CPUSplit
	Waits             WaitShares
}

// Rate is entries per second.
func (r LedgerRefResult) Rate() float64 { return float64(r.Entries) / r.Elapsed.Seconds() }

// ledgerRefBatch is one batch's statement parameters.
type ledgerRefBatch struct {
	keys, descriptions, metadata []string
	at                           []time.Time
	ords, accounts               []int64
	currencies, amounts          []string
	postings                     int
}

// LedgerRef is the independent reference: a database of its own with the minimal sound ledger's schema
// (ledgerRefSchema), its accounts and balance rows created, and the entries split into batches per
// connection.
type LedgerRef struct {
	db      *Database
	entries []ledger.Entry
	wallets map[string]decimal.Decimal
	batch   int
	ids     map[string]int64
}

// NewLedgerRef creates the reference's schema in db (a bare database: CreateBareDatabase) and the accounts
// of entries with their balance rows (setup, untimed). items[i] is the fact entries[i] posts: its key (the
// Kafka key, provider/account) says which connection writes it, as it says which worker applies it in the
// reconciler. wallets are the balances the provider reported last, checked after every pass.
func NewLedgerRef(ctx context.Context, db *Database, entries []ledger.Entry, items []events.StatementItem,
	wallets map[string]decimal.Decimal, batch int) (*LedgerRef, error) {
	if len(items) != len(entries) {
		return nil, fmt.Errorf("ledger reference: %d items for %d entries", len(items), len(entries))
	}
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, ledgerRefSchema); err != nil {
		return nil, fmt.Errorf("ledger reference schema: %w", err)
	}
	seen := map[string]bool{}
	var codes, currencies []string
	for _, e := range entries {
		for _, p := range e.Postings {
			if !seen[p.Account.Code] {
				seen[p.Account.Code] = true
				codes, currencies = append(codes, p.Account.Code), append(currencies, p.Account.Currency)
			}
		}
	}
	if _, err := conn.Exec(ctx, `
		WITH a AS (
			INSERT INTO benchref.accounts (code, currency) SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1
			RETURNING id
		)
		INSERT INTO benchref.balances (account_id) SELECT id FROM a`, codes, currencies); err != nil {
		return nil, fmt.Errorf("ledger reference accounts: %w", err)
	}
	ids, err := idsByCode(ctx, conn, `SELECT code, id FROM benchref.accounts`)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return nil, err
	}
	r := &LedgerRef{db: db, entries: entries, wallets: wallets, batch: batch, ids: ids}
	return r, nil
}

// split is the entries in batches per connection: the entries of one key always on the same connection, in
// order, the way the reconciler's lanes split a batch (fnv-32a of the key, modulo the count).
func (r *LedgerRef) split(items []events.StatementItem, conns int) ([][]ledgerRefBatch, error) {
	work := make([][]ledgerRefBatch, conns)
	for i, e := range r.entries {
		k := 0
		if conns > 1 {
			h := fnv.New32a()
			h.Write([]byte(events.Key(items[i].Provider, items[i].Account)))
			k = int(h.Sum32() % uint32(conns))
		}
		if n := len(work[k]); n == 0 || len(work[k][n-1].keys) == r.batch {
			work[k] = append(work[k], ledgerRefBatch{})
		}
		b := &work[k][len(work[k])-1]
		meta, err := json.Marshal(e.Metadata)
		if err != nil {
			return nil, err
		}
		b.keys, b.descriptions, b.metadata = append(b.keys, e.IdempotencyKey), append(b.descriptions, e.Description), append(b.metadata, string(meta))
		b.at = append(b.at, e.EffectiveAt.UTC())
		ord := int64(len(b.keys))
		for _, p := range e.Postings {
			id, ok := r.ids[p.Account.Code]
			if !ok {
				return nil, fmt.Errorf("ledger reference: no account %s", p.Account.Code)
			}
			b.ords, b.accounts = append(b.ords, ord), append(b.accounts, id)
			b.currencies, b.amounts = append(b.currencies, p.Account.Currency), append(b.amounts, p.Amount.String())
			b.postings++
		}
	}
	return work, nil
}

// Pass writes every entry over conns connections at once, each its own keys' batches in order, one
// statement and one transaction a batch, and checks the result: with replay, every entry was there already
// and nothing moved; otherwise every posting went in. Either way every wallet ends at the provider's balance.
func (r *LedgerRef) Pass(ctx context.Context, items []events.StatementItem, conns int, replay bool, brokerPid int) (LedgerRefResult, error) {
	res := LedgerRefResult{Entries: len(r.entries), Postings: Postings(r.entries), Batch: r.batch, Conns: conns, Replay: replay}
	work, err := r.split(items, conns)
	if err != nil {
		return res, err
	}
	cfg, err := pgxpool.ParseConfig(r.db.URL)
	if err != nil {
		return res, err
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	held := make([]*pgxpool.Conn, conns)
	for k := range held {
		if held[k], err = pool.Acquire(ctx); err != nil {
			return res, err
		}
		defer held[k].Release()
	}
	r.db.Checkpoint(ctx)
	meter := StartCPU(ctx, r.db.admin, r.db.Name, brokerPid)
	waits := StartWaits(ctx, r.db.admin, r.db.Name, 25*time.Millisecond)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for k, c := range held {
		g.Go(func() error {
			for _, b := range work[k] {
				tag, err := c.Exec(gctx, ledgerRefInsert, b.keys, b.at, b.descriptions, b.metadata,
					b.ords, b.accounts, b.currencies, b.amounts)
				if err != nil {
					return fmt.Errorf("ledger reference batch: %w", err)
				}
				want := b.postings
				if replay {
					want = 0
				}
				if int(tag.RowsAffected()) != want {
					return fmt.Errorf("ledger reference batch: inserted %d postings, want %d", tag.RowsAffected(), want)
				}
			}
			return nil
		})
	}
	err = g.Wait()
	res.Elapsed = time.Since(start)
	res.Waits = waits.Stop()
	res.CPU = meter.Stop(ctx)
	if err != nil {
		return res, err
	}
	return res, r.verify(ctx, held[0])
}

// verify checks the reference holds the workload: every entry once, and every wallet's balance row and last
// posting at the provider's balance.
func (r *LedgerRef) verify(ctx context.Context, c *pgxpool.Conn) error {
	var entries int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM benchref.entries`).Scan(&entries); err != nil {
		return err
	}
	if entries != len(r.entries) {
		return fmt.Errorf("ledger reference: %d entries, want %d", entries, len(r.entries))
	}
	for code, want := range r.wallets {
		var balance, last string
		if err := c.QueryRow(ctx, `SELECT b.balance::text, (SELECT p.balance_after::text FROM benchref.postings p
				WHERE p.account_id = a.id ORDER BY p.account_seq DESC LIMIT 1)
			FROM benchref.accounts a JOIN benchref.balances b ON b.account_id = a.id WHERE a.code = $1`, code).
			Scan(&balance, &last); err != nil {
			return fmt.Errorf("ledger reference: balance of %s: %w", code, err)
		}
		w := want.String()
		if !decEqual(balance, w) || !decEqual(last, w) {
			return fmt.Errorf("ledger reference: %s at %s (last posting %s), the provider says %s", code, balance, last, w)
		}
	}
	return nil
}

func decEqual(a, b string) bool {
	x, err1 := decimal.NewFromString(a)
	y, err2 := decimal.NewFromString(b)
	return err1 == nil && err2 == nil && x.Equal(y)
}
