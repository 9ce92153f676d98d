-- Quarantined items (issue 15): what a source could not understand is published as a fact of its own
-- (io.mizan.quarantined.v1) instead of halting its feed, and recorded here by the reconciler, with an alert.
-- An analyst reads this table to see what was set aside and why; the item's money, if it moved the wallet,
-- shows as a running-balance break until the item is understood.

-- +goose Up
CREATE TABLE recon.quarantined (
    event_id    text        NOT NULL CONSTRAINT quarantined_pkey PRIMARY KEY,
    provider    text        NOT NULL,
    account     text        NOT NULL,
    feed        text        NOT NULL,
    endpoint    text        NOT NULL,
    item_id     text,
    reason      text        NOT NULL,
    raw         jsonb       NOT NULL,
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX quarantined_account_idx ON recon.quarantined (provider, account, observed_at);

COMMENT ON TABLE recon.quarantined IS
    'Provider items (or whole endpoint answers) a source could not understand: set aside with the reason, never dropped.';
COMMENT ON COLUMN recon.quarantined.event_id IS 'Id of the quarantined fact; the same item refused for the same reason is one fact.';
COMMENT ON COLUMN recon.quarantined.provider IS 'Provider, e.g. vandar.';
COMMENT ON COLUMN recon.quarantined.account IS 'Provider account, e.g. the Vandar business slug.';
COMMENT ON COLUMN recon.quarantined.feed IS 'Feed the item came from: statement, balance, settlements, batches.';
COMMENT ON COLUMN recon.quarantined.endpoint IS 'Request that returned it, e.g. GET /v3/business/acme/transaction (never the query).';
COMMENT ON COLUMN recon.quarantined.item_id IS 'Provider''s id of the item where it could be read; NULL when a whole endpoint was skipped.';
COMMENT ON COLUMN recon.quarantined.reason IS 'Why it could not be understood, naming the field.';
COMMENT ON COLUMN recon.quarantined.raw IS 'The item exactly as received (credentials replaced); null for a skipped endpoint.';
COMMENT ON COLUMN recon.quarantined.observed_at IS 'When the source read it.';
COMMENT ON COLUMN recon.quarantined.recorded_at IS 'When the reconciler recorded it.';

GRANT USAGE ON SCHEMA recon TO mizan_app;
GRANT SELECT, INSERT ON recon.quarantined TO mizan_app;
GRANT SELECT ON recon.quarantined TO mizan_analyst;

-- +goose Down
DROP TABLE recon.quarantined;
