-- The sources mizan knows (issue 14: a trust boundary for events). The reconciler accepts a provider's fact
-- only for a (provider, account) registered here: anybody who can produce to the topics could otherwise make
-- accounts appear for a business nobody configured.
--
-- `poller` registers the sources of its sources file when it starts (and `reconciler run` too, when
-- MIZAN_SOURCES is set for it): a source is known once a poller has been configured with it. Rows are only
-- ever added by the running commands (they may INSERT, not UPDATE or DELETE); forgetting a source is the
-- owner's decision (docs/security.md).
--
-- The backfill registers the provider accounts the reconciler has already accepted watermarks for — the
-- pollers' own records of what they polled — so that an upgrade does not refuse the events of sources
-- whose poller has not restarted yet.

-- +goose Up
CREATE TABLE recon.sources (
    provider      text        NOT NULL CONSTRAINT sources_provider_check CHECK (provider ~ '^[a-z0-9]+$'),
    account       text        NOT NULL CONSTRAINT sources_account_check CHECK (account <> ''),
    source        text        NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    registered_by text        NOT NULL DEFAULT session_user,
    CONSTRAINT sources_pkey PRIMARY KEY (provider, account)
);

COMMENT ON TABLE recon.sources IS
    'Provider accounts mizan polls, registered by the poller from its sources file. The reconciler applies '
    'facts only for these; a fact about any other provider account is refused to the dead letters.';
COMMENT ON COLUMN recon.sources.provider IS 'The provider: vandar, yabandpay.';
COMMENT ON COLUMN recon.sources.account IS 'The provider account: the Vandar business slug, the YabandPay user id.';
COMMENT ON COLUMN recon.sources.source IS 'The name of the source in the sources file that first registered it.';
COMMENT ON COLUMN recon.sources.registered_at IS 'When it was first registered.';
COMMENT ON COLUMN recon.sources.registered_by IS 'Who registered it: the command and host, or the migration that backfilled it.';

INSERT INTO recon.sources (provider, account, source, registered_at, registered_by)
SELECT DISTINCT ON (w.provider, w.account) w.provider, w.account, w.source, w.updated_at,
       'migration 00025 (from recon.watermarks)'
FROM recon.watermarks w
WHERE w.provider ~ '^[a-z0-9]+$' AND w.account <> ''
ORDER BY w.provider, w.account, w.updated_at;

GRANT SELECT, INSERT ON recon.sources TO mizan_app;
GRANT SELECT ON recon.sources TO mizan_analyst;

-- +goose Down
DROP TABLE recon.sources;
