-- Adjustments: how an accountant clears suspense (or corrects anything else) — a new, balanced ledger entry
-- with a reason and an author, audited, posted through the ledger's own invariants. History is never edited:
-- a wrong adjustment is undone by another entry that reverses it.
--
--   ledger.post_adjustment(reason, accounts, amounts, …)  posts one adjustment entry
--   ledger.reverse_adjustment(entry_id, reason)           posts the entry that exactly negates an adjustment
--   ledger.adjustments                                    the audit: one row per entry these functions posted
--
-- mizan_accountant (00024) may call the two functions and nothing else that writes; it reads what analysts
-- read (it is made a member of mizan_analyst). The functions are SECURITY DEFINER — they run as the role that
-- ran the migrations, which may write the ledger — with a fixed search_path and every name qualified, and
-- PUBLIC may not call them. The author is session_user: the login role of the person connected, which
-- SECURITY DEFINER does not change (current_user inside is the owner). So each accountant needs a login role
-- of their own (docs/analysts.md).
--
-- The ledger's triggers check every entry these functions post, exactly as they check the reconciler's:
-- balanced per currency, at least two postings, the balance chain (each posting continues its account's
-- chain from the locked balance row), append-only. The functions check the same things first only to say
-- what is wrong in an accountant's words.
--
-- No foreign key from ledger.adjustments to ledger.entries, for the reason 00020 gives for entry_sources: it
-- would replace TRUNCATE's refusal naming invariant 3 with a foreign-key error, and entries are never deleted.

-- +goose Up
CREATE TABLE ledger.adjustments (
    entry_id          bigint      NOT NULL CONSTRAINT adjustments_pkey PRIMARY KEY,
    idempotency_key   text        NOT NULL CONSTRAINT adjustments_idempotency_key_key UNIQUE,
    kind              text        NOT NULL CONSTRAINT adjustments_kind_check CHECK (kind IN ('adjustment', 'reversal')),
    reason            text        NOT NULL CONSTRAINT adjustments_reason_check
                                           CHECK (btrim(reason) <> '' AND length(reason) <= 2000),
    author            text        NOT NULL,
    authored_at       timestamptz NOT NULL DEFAULT now(),
    reverses_entry_id bigint      CONSTRAINT adjustments_reverses_key UNIQUE,
    clears_entry_ids  bigint[]    NOT NULL DEFAULT '{}',
    client_addr       inet,
    application_name  text,
    CONSTRAINT adjustments_reversal_check CHECK ((kind = 'reversal') = (reverses_entry_id IS NOT NULL))
);

COMMENT ON TABLE ledger.adjustments IS
    'Audit of adjustment entries: who posted each (the login role), when, why, from where, and which suspense '
    'entries it clears. Written only by ledger.post_adjustment and ledger.reverse_adjustment; append-only.';
COMMENT ON COLUMN ledger.adjustments.entry_id IS 'The adjustment entry (ledger.entries.id).';
COMMENT ON COLUMN ledger.adjustments.idempotency_key IS
    'Its key: <provider>:<provider account>:adjustment:<id> (mizan:manual:… when it spans providers); a reversal''s ends in :reversal.';
COMMENT ON COLUMN ledger.adjustments.kind IS 'adjustment, or reversal (of an adjustment).';
COMMENT ON COLUMN ledger.adjustments.reason IS 'Why, in the author''s words: required.';
COMMENT ON COLUMN ledger.adjustments.author IS 'The login role that posted it (session_user).';
COMMENT ON COLUMN ledger.adjustments.authored_at IS 'When it was posted (the transaction''s time).';
COMMENT ON COLUMN ledger.adjustments.reverses_entry_id IS 'For a reversal: the adjustment entry it negates.';
COMMENT ON COLUMN ledger.adjustments.clears_entry_ids IS
    'Entries with a suspense posting that this adjustment clears (analytics.suspense shows them cleared).';
COMMENT ON COLUMN ledger.adjustments.client_addr IS 'The address the author connected from (NULL: a local socket).';
COMMENT ON COLUMN ledger.adjustments.application_name IS 'The client''s application_name (reconciler adjust sets it).';

CREATE INDEX adjustments_clears_idx ON ledger.adjustments USING gin (clears_entry_ids);

-- Append-only, for every role, the owner included: history is corrected by a reversal, never rewritten.
-- +goose StatementBegin
CREATE FUNCTION ledger.adjustments_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'ledger.adjustments: % refused: the audit of an adjustment never changes; reverse the adjustment instead',
        TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'adjustments_immutable',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
            HINT = 'SELECT ledger.reverse_adjustment(<entry id>, ''<reason>'')';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER adjustments_immutable
    BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger.adjustments
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.adjustments_refuse_change();

-- Posts one entry whose postings are given by account id, continuing each account's balance chain from its
-- locked balance row: what ledger.Apply does in Go, for one entry. Internal: called by the two functions
-- below (as their owner); nobody else may call it.
-- +goose StatementBegin
CREATE FUNCTION ledger.post_entry(key text, at timestamptz, description text, metadata jsonb, reverses bigint,
                                  account_ids bigint[], amounts numeric[]) RETURNS bigint
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    new_id bigint;
BEGIN
    -- Lock in account id order, as the reconciler and the postings trigger do: no deadlock between them.
    PERFORM 1 FROM ledger.account_balances b
    WHERE b.account_id = ANY (post_entry.account_ids)
    ORDER BY b.account_id
    FOR UPDATE;

    new_id := nextval('ledger.entries_id_seq');
    -- One statement: an entry and all its postings arrive together (invariant 1). Each account appears once,
    -- so each posting continues its account's chain by one. A posting is booked at the entry's time, or at
    -- the account's latest booking if that is later (docs/ledger.md, "Booking time").
    WITH e AS (
        INSERT INTO ledger.entries (id, idempotency_key, effective_at, description, metadata, reverses_entry_id)
        VALUES (new_id, post_entry.key, post_entry.at, post_entry.description, post_entry.metadata,
                post_entry.reverses)
        RETURNING entries.id
    )
    INSERT INTO ledger.postings (entry_id, account_id, currency, amount, balance_after, account_seq, booked_at)
    SELECT e.id, a.id, a.currency, u.amount, b.balance + u.amount, b.last_seq + 1,
           greatest(post_entry.at, coalesce(b.last_booked_at, post_entry.at))
    FROM e
    CROSS JOIN unnest(post_entry.account_ids, post_entry.amounts) AS u(account_id, amount)
    JOIN ledger.accounts a ON a.id = u.account_id
    JOIN ledger.account_balances b ON b.account_id = a.id;
    RETURN new_id;
END
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION ledger.post_entry(text, timestamptz, text, jsonb, bigint, bigint[], numeric[]) FROM PUBLIC;

-- +goose StatementBegin
CREATE FUNCTION ledger.post_adjustment(reason text, accounts text[], amounts numeric[],
                                       effective_at timestamptz DEFAULT NULL, clears bigint[] DEFAULT '{}',
                                       create_accounts boolean DEFAULT false, key text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    effective timestamptz := coalesce(post_adjustment.effective_at, now());
    n        int := coalesce(cardinality(post_adjustment.accounts), 0);
    author   text := session_user;
    missing  text[];
    currency text;
    bad      record;
    scope    text;
    full_key text;
    ids      bigint[];
    existing bigint;
    entry    bigint;
BEGIN
    IF post_adjustment.reason IS NULL OR btrim(post_adjustment.reason) = '' THEN
        RAISE EXCEPTION 'ledger.post_adjustment: a reason is required'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'adjustments_reason_check',
                HINT = 'Say why, e.g. which provider ticket or bank statement line the money belongs to.';
    END IF;
    IF n < 2 OR n IS DISTINCT FROM cardinality(post_adjustment.amounts) THEN
        RAISE EXCEPTION 'ledger.post_adjustment: % account(s) and % amount(s); an adjustment needs at least two postings, one amount per account',
            n, coalesce(cardinality(post_adjustment.amounts), 0)
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_min_two';
    END IF;
    IF array_position(post_adjustment.accounts, NULL) IS NOT NULL OR array_position(post_adjustment.amounts, NULL) IS NOT NULL
       OR EXISTS (SELECT 1 FROM unnest(post_adjustment.amounts) x WHERE x = 0 OR x = 'NaN' OR x IN ('Infinity', '-Infinity')) THEN
        RAISE EXCEPTION 'ledger.post_adjustment: every posting needs an account and a non-zero, finite amount'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_amount_check';
    END IF;
    IF (SELECT count(DISTINCT x) FROM unnest(post_adjustment.accounts) x) <> n THEN
        RAISE EXCEPTION 'ledger.post_adjustment: an account appears more than once; give each account one amount'
            USING ERRCODE = 'check_violation';
    END IF;
    IF effective > now() THEN
        RAISE EXCEPTION 'ledger.post_adjustment: effective_at % is in the future', effective
            USING ERRCODE = 'check_violation';
    END IF;

    -- Accounts: the chart's accounts, or new ones only when asked (a typo must not open an account).
    SELECT array_agg(u.code ORDER BY u.ord) INTO missing
    FROM unnest(post_adjustment.accounts) WITH ORDINALITY AS u(code, ord)
    WHERE NOT EXISTS (SELECT 1 FROM ledger.accounts a WHERE a.code = u.code);
    IF missing IS NOT NULL THEN
        SELECT min(a.currency) AS cur, count(DISTINCT a.currency) AS currencies INTO bad
        FROM ledger.accounts a WHERE a.code = ANY (post_adjustment.accounts);
        IF NOT post_adjustment.create_accounts THEN
            RAISE EXCEPTION 'ledger.post_adjustment: there is no account %', array_to_string(missing, ', ')
                USING ERRCODE = 'undefined_object', CONSTRAINT = 'accounts_unknown',
                    HINT = 'Check the code (SELECT account FROM analytics.accounts), or pass create_accounts => true to open it.';
        END IF;
        IF bad.currencies <> 1 THEN
            RAISE EXCEPTION 'ledger.post_adjustment: cannot tell the currency of new account %: post it beside at least one existing account, all in one currency',
                array_to_string(missing, ', ')
                USING ERRCODE = 'check_violation';
        END IF;
        currency := bad.cur;
        SELECT m INTO bad FROM unnest(missing) m
        WHERE m !~ '^(assets|liabilities|income|expenses|equity)(:[^:[:space:]]+){3,}$'
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger.post_adjustment: % is not an account code of the chart', bad.m
                USING ERRCODE = 'check_violation',
                    HINT = 'Codes are type:provider:account:name[:detail], type one of assets, liabilities, income, expenses, equity (docs/accounts.md).';
        END IF;
        INSERT INTO ledger.accounts (code, type, currency)
        SELECT m, CASE split_part(m, ':', 1) WHEN 'assets' THEN 'asset' WHEN 'liabilities' THEN 'liability'
                                            WHEN 'income' THEN 'income' WHEN 'expenses' THEN 'expense' ELSE 'equity' END,
               currency
        FROM unnest(missing) m
        ORDER BY m;
    END IF;

    SELECT a.currency, sum(u.amount) AS total INTO bad
    FROM unnest(post_adjustment.accounts, post_adjustment.amounts) AS u(code, amount)
    JOIN ledger.accounts a ON a.code = u.code
    GROUP BY a.currency
    HAVING sum(u.amount) <> 0
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger.post_adjustment: the adjustment does not balance: its % postings sum to %', bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'postings_balanced',
                HINT = 'Debits are positive, credits negative; per currency they must sum to zero.';
    END IF;

    -- What it clears: entries that put money into a suspense account this adjustment posts to, not cleared
    -- already by an adjustment still standing.
    SELECT c.id INTO bad
    FROM unnest(coalesce(post_adjustment.clears, '{}')) AS c(id)
    WHERE NOT EXISTS (SELECT 1 FROM ledger.postings p JOIN ledger.accounts a ON a.id = p.account_id
                      WHERE p.entry_id = c.id AND split_part(a.code, ':', 4) = 'suspense'
                        AND a.code = ANY (post_adjustment.accounts))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger.post_adjustment: entry % has no posting on a suspense account this adjustment posts to', bad.id
            USING ERRCODE = 'check_violation',
                HINT = 'clears names the suspense lines (entry ids in analytics.suspense) the adjustment settles.';
    END IF;
    SELECT c.id, x.entry_id AS cleared_by INTO bad
    FROM unnest(coalesce(post_adjustment.clears, '{}')) AS c(id)
    JOIN ledger.adjustments x ON c.id = ANY (x.clears_entry_ids)
    WHERE NOT EXISTS (SELECT 1 FROM ledger.adjustments r WHERE r.reverses_entry_id = x.entry_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger.post_adjustment: entry % is cleared already, by adjustment %', bad.id, bad.cleared_by
            USING ERRCODE = 'unique_violation', HINT = 'Reverse that adjustment first if it was wrong.';
    END IF;

    -- The key names the provider account when every posting is of one (type:provider:account:…).
    SELECT CASE WHEN count(DISTINCT split_part(x, ':', 2) || ':' || split_part(x, ':', 3)) = 1
                THEN min(split_part(x, ':', 2) || ':' || split_part(x, ':', 3)) ELSE 'mizan:manual' END INTO scope
    FROM unnest(post_adjustment.accounts) x;
    full_key := scope || ':adjustment:' || coalesce(nullif(btrim(post_adjustment.key), ''), gen_random_uuid()::text);

    -- A command retried with the same key (its first try may have committed) posts once.
    SELECT x.entry_id INTO existing FROM ledger.adjustments x WHERE x.idempotency_key = full_key;
    IF FOUND THEN
        IF (SELECT x.reason FROM ledger.adjustments x WHERE x.entry_id = existing) = post_adjustment.reason
           AND (SELECT array_agg(a.code || '=' || p.amount::text ORDER BY a.code) FROM ledger.postings p
                JOIN ledger.accounts a ON a.id = p.account_id WHERE p.entry_id = existing)
             = (SELECT array_agg(u.code || '=' || u.amount::text ORDER BY u.code)
                FROM unnest(post_adjustment.accounts, post_adjustment.amounts) AS u(code, amount)) THEN
            RETURN existing;
        END IF;
        RAISE EXCEPTION 'ledger.post_adjustment: key % already names adjustment % with another reason or other postings',
            full_key, existing
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'entries_idempotency_key_key';
    END IF;

    SELECT array_agg(a.id ORDER BY u.ord) INTO ids
    FROM unnest(post_adjustment.accounts) WITH ORDINALITY AS u(code, ord)
    JOIN ledger.accounts a ON a.code = u.code;

    entry := ledger.post_entry(full_key, effective,
        left(format('adjustment by %s: %s', author, post_adjustment.reason), 500),
        jsonb_build_object('kind', 'adjustment', 'author', author, 'reason', post_adjustment.reason,
                           'clears', to_jsonb(coalesce(post_adjustment.clears, '{}'))),
        NULL, ids, post_adjustment.amounts);

    INSERT INTO ledger.adjustments (entry_id, idempotency_key, kind, reason, author, clears_entry_ids, client_addr,
                                    application_name)
    VALUES (entry, full_key, 'adjustment', post_adjustment.reason, author, coalesce(post_adjustment.clears, '{}'),
            inet_client_addr(), nullif(current_setting('application_name', true), ''));
    RETURN entry;
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.post_adjustment(text, text[], numeric[], timestamptz, bigint[], boolean, text) IS
    'Posts an adjustment entry (mizan_accountant): reason (required), accounts and amounts (signed, debit '
    'positive; per currency they sum to zero), effective_at (default now; never in the future), clears (the '
    'suspense entries it settles), create_accounts (open accounts that do not exist yet, in the others'' '
    'currency), key (idempotency: retried with the same key it posts once). Returns the entry id; audited in '
    'ledger.adjustments with session_user as the author.';

-- +goose StatementBegin
CREATE FUNCTION ledger.reverse_adjustment(entry_id bigint, reason text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
    author text := session_user;
    orig   ledger.adjustments;
    reversed_by bigint;
    ids    bigint[];
    amts   numeric[];
    entry  bigint;
BEGIN
    IF reverse_adjustment.reason IS NULL OR btrim(reverse_adjustment.reason) = '' THEN
        RAISE EXCEPTION 'ledger.reverse_adjustment: a reason is required'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'adjustments_reason_check';
    END IF;
    SELECT * INTO orig FROM ledger.adjustments x WHERE x.entry_id = reverse_adjustment.entry_id AND x.kind = 'adjustment';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger.reverse_adjustment: entry % is not an adjustment', reverse_adjustment.entry_id
            USING ERRCODE = 'check_violation',
                HINT = 'Only adjustments are reversed this way; what a provider reported is corrected by the provider''s own items.';
    END IF;
    SELECT x.entry_id INTO reversed_by FROM ledger.adjustments x WHERE x.reverses_entry_id = orig.entry_id;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger.reverse_adjustment: adjustment % is reversed already, by entry %', orig.entry_id, reversed_by
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'entries_reverses_entry_id_key';
    END IF;

    SELECT array_agg(p.account_id ORDER BY p.id), array_agg(-p.amount ORDER BY p.id) INTO ids, amts
    FROM ledger.postings p WHERE p.entry_id = orig.entry_id;
    entry := ledger.post_entry(orig.idempotency_key || ':reversal', now(),
        left(format('reversal by %s of adjustment %s: %s', author, orig.entry_id, reverse_adjustment.reason), 500),
        jsonb_build_object('kind', 'adjustment_reversal', 'author', author, 'reason', reverse_adjustment.reason),
        orig.entry_id, ids, amts);

    INSERT INTO ledger.adjustments (entry_id, idempotency_key, kind, reason, author, reverses_entry_id, client_addr,
                                    application_name)
    VALUES (entry, orig.idempotency_key || ':reversal', 'reversal', reverse_adjustment.reason, author, orig.entry_id,
            inet_client_addr(), nullif(current_setting('application_name', true), ''));
    RETURN entry;
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION ledger.reverse_adjustment(bigint, text) IS
    'Posts the entry that exactly negates an adjustment (mizan_accountant), with a reason; audited in '
    'ledger.adjustments. Its suspense lines are open again. An adjustment is reversed at most once.';

REVOKE ALL ON FUNCTION ledger.post_adjustment(text, text[], numeric[], timestamptz, bigint[], boolean, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ledger.reverse_adjustment(bigint, text) FROM PUBLIC;

-- The accountant: reads what analysts read, posts adjustments through these two functions, nothing else.
-- Membership is cluster-wide, like the roles: granted once, tolerating another database's migration doing
-- the same at the same moment, and never revoked on the way down.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                   WHERE m.roleid = 'mizan_analyst'::regrole AND m.member = 'mizan_accountant'::regrole) THEN
        BEGIN
            GRANT mizan_analyst TO mizan_accountant;
        EXCEPTION
            WHEN unique_violation OR duplicate_object THEN
                NULL; -- granted meanwhile by the same migration in another database of this cluster
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'cannot make mizan_accountant a member of mizan_analyst: %', SQLERRM
                    USING HINT = 'The migrating role needs CREATEROLE, or an administrator runs '
                                 '"GRANT mizan_analyst TO mizan_accountant" once per cluster before migrating.';
        END;
    END IF;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA ledger TO mizan_accountant;
GRANT EXECUTE ON FUNCTION ledger.post_adjustment(text, text[], numeric[], timestamptz, bigint[], boolean, text),
    ledger.reverse_adjustment(bigint, text) TO mizan_accountant;
GRANT SELECT ON ledger.adjustments TO mizan_analyst;

-- +goose Down
REVOKE ALL ON FUNCTION ledger.post_adjustment(text, text[], numeric[], timestamptz, bigint[], boolean, text),
    ledger.reverse_adjustment(bigint, text) FROM mizan_accountant;
REVOKE USAGE ON SCHEMA ledger FROM mizan_accountant;
DROP FUNCTION ledger.reverse_adjustment(bigint, text);
DROP FUNCTION ledger.post_adjustment(text, text[], numeric[], timestamptz, bigint[], boolean, text);
DROP FUNCTION ledger.post_entry(text, timestamptz, text, jsonb, bigint, bigint[], numeric[]);
DROP TABLE ledger.adjustments;
DROP FUNCTION ledger.adjustments_refuse_change();
