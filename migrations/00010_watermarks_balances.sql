-- What the pollers have told the reconciler about how far their data reaches, and the balances providers
-- reported: the inputs of the balance check.

-- +goose Up
-- One row per (provider, account, feed): the furthest watermark applied. last_event is the event the
-- watermark vouches for; the balance check trusts the watermark only once that event is in
-- recon.processed_events (watermarks travel on their own topic and can overtake the data).
CREATE TABLE recon.watermarks (
    provider   text        NOT NULL,
    account    text        NOT NULL,
    feed       text        NOT NULL,
    source     text        NOT NULL,
    through    timestamptz NOT NULL,
    last_event text,
    polled_at  timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT watermarks_pkey PRIMARY KEY (provider, account, feed)
);

COMMENT ON TABLE recon.watermarks IS 'Per provider account and feed: every item up to "through" has been published.';

-- Every balance a provider reported, exactly as reported (figures keeps every figure by the provider's own name).
CREATE TABLE recon.balance_observations (
    event_id    text        NOT NULL CONSTRAINT balance_observations_pkey PRIMARY KEY,
    provider    text        NOT NULL,
    account     text        NOT NULL,
    currency    text        NOT NULL,
    amount      numeric     NOT NULL,
    figures     jsonb,
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX balance_observations_account_idx ON recon.balance_observations (provider, account, currency, observed_at);

COMMENT ON TABLE recon.balance_observations IS 'Balances as the providers reported them, one row per observation.';

-- +goose Down
DROP TABLE recon.balance_observations;
DROP TABLE recon.watermarks;
