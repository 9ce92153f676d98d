-- Which feeds each registered source has (the poller registers them with the source, from its sources file).
--
-- A bank credit that looks like a payout is "unexpected" only once every payout feed (settlements, batches)
-- of every source has been applied past the credit's day. Which payout feeds exist must not be learnt from
-- the watermarks seen so far: with parallel apply workers a bank statement can be applied before the first
-- watermark of a provider's payout feed, and then no feed would seem to exist and every payout-like credit
-- would be called unexpected (and resolved a moment later). Registered feeds say what to wait for.

-- +goose Up
CREATE TABLE recon.source_feeds (
    provider      text        NOT NULL,
    account       text        NOT NULL,
    feed          text        NOT NULL CONSTRAINT source_feeds_feed_check CHECK (feed ~ '^[a-z_]+$'),
    registered_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT source_feeds_pkey PRIMARY KEY (provider, account, feed),
    CONSTRAINT source_feeds_source_fkey FOREIGN KEY (provider, account) REFERENCES recon.sources (provider, account)
);

COMMENT ON TABLE recon.source_feeds IS
    'The feeds of each registered source, from the sources file (registered with the source). A feed once '
    'registered stays: a feed removed from the sources file stops advancing its watermark, which the staleness '
    'check reports.';
COMMENT ON COLUMN recon.source_feeds.provider IS 'The provider, as in recon.sources.';
COMMENT ON COLUMN recon.source_feeds.account IS 'The provider account, as in recon.sources.';
COMMENT ON COLUMN recon.source_feeds.feed IS 'A feed of the source: statement, balance, settlements, batches, statements, …';
COMMENT ON COLUMN recon.source_feeds.registered_at IS 'When a poller (or reconciler) first registered it.';

-- What is known already: the feeds whose watermarks have been applied.
INSERT INTO recon.source_feeds (provider, account, feed)
SELECT DISTINCT w.provider, w.account, w.feed FROM recon.watermarks w
JOIN recon.sources s ON s.provider = w.provider AND s.account = w.account
WHERE w.feed ~ '^[a-z_]+$'
ON CONFLICT DO NOTHING;

GRANT SELECT, INSERT ON recon.source_feeds TO mizan_app;
GRANT SELECT ON recon.source_feeds TO mizan_analyst;

-- +goose Down
DROP TABLE recon.source_feeds;
