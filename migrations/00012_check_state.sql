-- State the reconciliation checks carry from one event to the next.

-- +goose Up
-- The provider's running balance as last checked, per wallet: the running-balance check compares each new
-- item's reported wallet with this plus the item's net effect.
CREATE TABLE recon.running_balances (
    subject      text        NOT NULL CONSTRAINT running_balances_pkey PRIMARY KEY, -- provider/account/wallet/currency
    last_item_id text        NOT NULL,
    last_wallet  numeric     NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE recon.running_balances IS 'Per wallet, the provider''s running balance after the last item checked.';

-- A balance observation is checked once the statement has caught up with it; until then it waits here.
ALTER TABLE recon.balance_observations ADD COLUMN checked_at timestamptz;
CREATE INDEX balance_observations_unchecked_idx ON recon.balance_observations (provider, account, observed_at)
    WHERE checked_at IS NULL;

-- Each settlement's latest known state, for the lifecycle checks and the analysts' lifecycle view.
CREATE TABLE recon.settlements (
    provider       text        NOT NULL,
    account        text        NOT NULL,
    settlement_id  text        NOT NULL,
    transaction_id text,
    track_id       text,
    status         text        NOT NULL,
    amount         numeric     NOT NULL,
    fee            numeric     NOT NULL DEFAULT 0,
    currency       text        NOT NULL,
    iban           text,
    queued         boolean     NOT NULL DEFAULT false,
    created_at     timestamptz,
    predicted_at   timestamptz,
    status_since   timestamptz NOT NULL, -- when mizan first saw the current status
    last_seen_at   timestamptz NOT NULL, -- the latest observation of it, by the provider's feed
    done_at        timestamptz,
    returned_at    timestamptz,          -- when the statement's return item for a failed/cancelled one arrived
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settlements_pkey PRIMARY KEY (provider, account, settlement_id)
);

CREATE INDEX settlements_transaction_idx ON recon.settlements (provider, account, transaction_id);
CREATE INDEX settlements_open_idx ON recon.settlements (provider, account) WHERE status <> 'DONE' AND returned_at IS NULL;

COMMENT ON TABLE recon.settlements IS 'Latest known state of every settlement (payout), with when it got there.';

-- Return items seen in the statement, by the settlement transaction they give money back for. The return can
-- arrive before the settlement feed reports the failure (they travel on different topics), so it is kept here
-- and matched from both sides.
CREATE TABLE recon.settlement_returns (
    provider       text        NOT NULL,
    account        text        NOT NULL,
    transaction_id text        NOT NULL,
    return_item_id text        NOT NULL,
    returned_at    timestamptz NOT NULL,
    CONSTRAINT settlement_returns_pkey PRIMARY KEY (provider, account, transaction_id)
);

-- +goose Down
DROP TABLE recon.settlement_returns;
DROP TABLE recon.settlements;
DROP INDEX recon.balance_observations_unchecked_idx;
ALTER TABLE recon.balance_observations DROP COLUMN checked_at;
DROP TABLE recon.running_balances;
