-- Reconciliation results and alerts: what the reconciler checked, what it found, and what it told people.

-- +goose Up
-- Every evaluation of a check is a row: analysts can ask what mizan knew, and when.
CREATE TABLE recon.check_results (
    id            bigserial   CONSTRAINT check_results_pkey PRIMARY KEY,
    check_name    text        NOT NULL,          -- running_balance, balance, settlement, batch, changed_item, yabandpay_movement, staleness, consistency
    subject       text        NOT NULL,          -- what was checked, e.g. vandar/acme/wallet or vandar/acme/item/123
    window_start  timestamptz,                   -- the period the check covers, where it has one
    window_end    timestamptz,
    watermark     timestamptz,                   -- how far the data it relied on reached
    expected      numeric,
    actual        numeric,
    difference    numeric,
    outcome       text        NOT NULL CONSTRAINT check_results_outcome_check CHECK (outcome IN ('OK', 'MISMATCH', 'UNKNOWN')),
    details       jsonb       NOT NULL DEFAULT '{}',
    event_id      text,                          -- the event that triggered the evaluation
    evaluated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX check_results_subject_idx ON recon.check_results (check_name, subject, evaluated_at);
CREATE INDEX check_results_outcome_idx ON recon.check_results (evaluated_at) WHERE outcome <> 'OK';

COMMENT ON TABLE recon.check_results IS 'One row per evaluation of a reconciliation check.';

-- An alert is written in the same transaction as the state that raised it, so none is lost to a crash.
-- At most one open alert per dedup key: the same mismatch seen on every poll is one alert.
CREATE TABLE recon.alerts (
    id            bigserial   CONSTRAINT alerts_pkey PRIMARY KEY,
    kind          text        NOT NULL,
    severity      text        NOT NULL CONSTRAINT alerts_severity_check CHECK (severity IN ('info', 'warning', 'critical')),
    subject       text        NOT NULL,
    dedup_key     text        NOT NULL,
    summary       text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}',
    opened_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    -- Delivery (the outbox): each state change is sent once; NULL means not sent yet.
    open_sent_at      timestamptz,
    resolved_sent_at  timestamptz,
    delivery_attempts int         NOT NULL DEFAULT 0,
    last_delivery_error text
);

CREATE UNIQUE INDEX alerts_open_dedup_key ON recon.alerts (dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_undelivered_idx ON recon.alerts (id)
    WHERE open_sent_at IS NULL OR (resolved_at IS NOT NULL AND resolved_sent_at IS NULL);

COMMENT ON TABLE recon.alerts IS 'Alerts raised by reconciliation checks; also the outbox of the Slack dispatcher.';

-- +goose Down
DROP TABLE recon.alerts;
DROP TABLE recon.check_results;
