-- State of the reconciler and the pollers, kept beside the ledger so that it commits in the same
-- transaction as the effects it describes.

-- +goose Up
CREATE SCHEMA recon;

COMMENT ON SCHEMA recon IS 'Reconciler state: which events have been applied.';

-- An event id is recorded in the transaction that applies the event's effects: a replayed or duplicated
-- event finds its id here and is skipped.
CREATE TABLE recon.processed_events (
    event_id   text        NOT NULL CONSTRAINT processed_events_pkey PRIMARY KEY,
    topic      text,
    partition  int,
    "offset"   bigint,
    applied_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE recon.processed_events IS
    'Ids of the events the reconciler has applied, with where it read them; written with their effects.';

CREATE SCHEMA poller;

COMMENT ON SCHEMA poller IS 'Poller state: cursors and provider tokens.';

-- A source's cursor advances only after the page it covers has been published.
CREATE TABLE poller.cursors (
    source     text        NOT NULL,
    feed       text        NOT NULL,
    cursor     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cursors_pkey PRIMARY KEY (source, feed)
);

COMMENT ON TABLE poller.cursors IS 'Where each (source, feed) resumes polling.';

-- Tokens are stored encrypted by the application; the database never sees them in the clear.
CREATE TABLE poller.tokens (
    source             text        NOT NULL CONSTRAINT tokens_pkey PRIMARY KEY,
    access_token       bytea       NOT NULL,
    refresh_token      bytea       NOT NULL,
    access_expires_at  timestamptz,
    refresh_expires_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE poller.tokens IS 'Provider OAuth tokens per source, as ciphertexts.';

-- +goose Down
DROP SCHEMA poller CASCADE;
DROP SCHEMA recon CASCADE;
