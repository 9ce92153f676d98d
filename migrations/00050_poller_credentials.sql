-- Sources' credentials as opaque sealed values (issue 17): the poller no longer knows that a source has a
-- Vandar token pair. Each source stores whatever named credentials its provider needs — Vandar an access
-- token, a refresh token and, for the moment between a refresh answer and its parsing, the raw answer — each
-- sealed by the application (AES-256-GCM, the source's name bound in), with the expiry the provider gave in
-- the clear so an operator can see when a source will need a new credential.
--
-- The rows of poller.tokens move here as they are: their ciphertexts were sealed with the same key and the
-- same additional data (the source name), so they open unchanged under their new names.

-- +goose Up
CREATE TABLE poller.credentials (
    source     text        NOT NULL,
    name       text        NOT NULL CONSTRAINT credentials_name_check CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    sealed     bytea       NOT NULL,
    expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT credentials_pkey PRIMARY KEY (source, name)
);

COMMENT ON TABLE poller.credentials IS
    'Each source''s credentials, sealed by the poller (AES-256-GCM keyed from MIZAN_SECRET_KEY); names are the provider''s.';
COMMENT ON COLUMN poller.credentials.source IS 'The source''s name in the sources file.';
COMMENT ON COLUMN poller.credentials.name IS
    'What the credential is, in the provider''s words: vandar uses access_token, refresh_token, refresh_answer.';
COMMENT ON COLUMN poller.credentials.sealed IS 'nonce || AES-256-GCM ciphertext, with the source name as additional data.';
COMMENT ON COLUMN poller.credentials.expires_at IS 'When the provider said the credential expires; NULL if it did not.';
COMMENT ON COLUMN poller.credentials.updated_at IS 'When the credential was last stored.';

INSERT INTO poller.credentials (source, name, sealed, expires_at, updated_at)
SELECT source, 'access_token', access_token, access_expires_at, updated_at FROM poller.tokens
UNION ALL
SELECT source, 'refresh_token', refresh_token, refresh_expires_at, updated_at FROM poller.tokens;

DROP TABLE poller.tokens;

-- The poller reads, stores, rotates and clears credentials (a raw refresh answer is deleted once parsed).
GRANT USAGE ON SCHEMA poller TO mizan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON poller.credentials TO mizan_app;

-- +goose Down
CREATE TABLE poller.tokens (
    source             text        NOT NULL CONSTRAINT tokens_pkey PRIMARY KEY,
    access_token       bytea       NOT NULL,
    refresh_token      bytea       NOT NULL,
    access_expires_at  timestamptz,
    refresh_expires_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE poller.tokens IS 'Provider OAuth tokens per source, as ciphertexts.';
GRANT SELECT, INSERT, UPDATE ON poller.tokens TO mizan_app;

-- Only a complete pair goes back; a kept refresh answer has no place in the old table.
INSERT INTO poller.tokens (source, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at)
SELECT a.source, a.sealed, r.sealed, a.expires_at, r.expires_at, greatest(a.updated_at, r.updated_at)
FROM poller.credentials a
JOIN poller.credentials r ON r.source = a.source AND r.name = 'refresh_token'
WHERE a.name = 'access_token';

DROP TABLE poller.credentials;
