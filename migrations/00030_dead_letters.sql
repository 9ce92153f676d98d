-- Dead letters as rows first (issue 14): every message the reconciler refuses is recorded here in the same
-- transaction as the batch it was cut from, so a refusal is never lost, whatever happens to the copy it then
-- publishes on the dead-letter topic. `reconciler dlq list` reads this table and `reconciler dlq replay`
-- re-drives its rows after a fix.

-- +goose Up
CREATE TABLE recon.dead_letters (
    id             bigserial   CONSTRAINT dead_letters_pkey PRIMARY KEY,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    "offset"       bigint      NOT NULL,
    event_id       text,
    event_type     text,
    source         text,
    message_key    text,
    reason_code    text        NOT NULL,
    reason         text        NOT NULL,
    error_class    text        NOT NULL CONSTRAINT dead_letters_error_class_check CHECK (error_class = 'message'),
    size           int         NOT NULL CONSTRAINT dead_letters_size_check CHECK (size >= 0),
    sha256         text        NOT NULL CONSTRAINT dead_letters_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    original       bytea       NOT NULL,
    truncated      boolean     NOT NULL,
    refused_by     text        NOT NULL,
    refused_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz,
    replayed_at    timestamptz,
    replay_outcome text        CONSTRAINT dead_letters_replay_outcome_check
                                   CHECK (replay_outcome IN ('applied', 'duplicate', 'failed', 'not_replayable')),
    replay_error   text,
    -- A batch replayed after a crash refuses the same message again: it is the same dead letter.
    CONSTRAINT dead_letters_position_key UNIQUE (topic, partition, "offset"),
    CONSTRAINT dead_letters_original_check CHECK (truncated OR length(original) = size)
);

-- dlq list --since and the publisher's retry read by time and by what is still unpublished.
CREATE INDEX dead_letters_refused_at_idx ON recon.dead_letters (refused_at);
CREATE INDEX dead_letters_unpublished_idx ON recon.dead_letters (id) WHERE published_at IS NULL;

COMMENT ON TABLE recon.dead_letters IS
    'Messages the reconciler refused (dead letters), recorded with the batch they were cut from; replayable '
    'with `reconciler dlq replay` after a fix. The dead-letter topic holds a copy of each.';
COMMENT ON COLUMN recon.dead_letters.id IS 'The dead letter''s number, for `reconciler dlq replay --id`.';
COMMENT ON COLUMN recon.dead_letters.topic IS 'The Kafka topic (full name) the refused message was read from.';
COMMENT ON COLUMN recon.dead_letters.partition IS 'Its partition.';
COMMENT ON COLUMN recon.dead_letters."offset" IS 'Its offset: topic, partition and offset identify the message.';
COMMENT ON COLUMN recon.dead_letters.event_id IS 'The CloudEvents id, when the envelope could be read.';
COMMENT ON COLUMN recon.dead_letters.event_type IS 'The CloudEvents type, when the envelope could be read.';
COMMENT ON COLUMN recon.dead_letters.source IS 'The CloudEvents source, when the envelope could be read.';
COMMENT ON COLUMN recon.dead_letters.message_key IS 'The Kafka message key (provider/account), at most 1 KiB of it.';
COMMENT ON COLUMN recon.dead_letters.reason_code IS
    'What kind of fault: malformed, unknown_type, unsupported_version, invalid_fact, untrusted, refused.';
COMMENT ON COLUMN recon.dead_letters.reason IS 'Why the message was refused, as the reconciler said it.';
COMMENT ON COLUMN recon.dead_letters.error_class IS
    'The failure class: always message (the message''s own fault). Infrastructure and environment failures are '
    'retried or stop the reconciler; they never make dead letters.';
COMMENT ON COLUMN recon.dead_letters.size IS 'The size of the original message value in bytes.';
COMMENT ON COLUMN recon.dead_letters.sha256 IS 'SHA-256 of the whole original message value, in hex.';
COMMENT ON COLUMN recon.dead_letters.original IS
    'The original message value, or its first bytes when it was larger than the reconciler keeps (truncated).';
COMMENT ON COLUMN recon.dead_letters.truncated IS 'Whether original holds only a prefix; such a letter cannot be replayed.';
COMMENT ON COLUMN recon.dead_letters.refused_by IS 'The consumer group of the reconciler that refused it.';
COMMENT ON COLUMN recon.dead_letters.refused_at IS 'When it was refused.';
COMMENT ON COLUMN recon.dead_letters.published_at IS 'When its copy reached the dead-letter topic; NULL: not yet (retried).';
COMMENT ON COLUMN recon.dead_letters.replayed_at IS 'When `reconciler dlq replay` last tried it.';
COMMENT ON COLUMN recon.dead_letters.replay_outcome IS
    'What that replay did: applied, duplicate (already applied), failed (still refused), not_replayable (truncated).';
COMMENT ON COLUMN recon.dead_letters.replay_error IS 'Why the last replay failed.';

-- The running commands record, publish and replay dead letters; nobody deletes one.
GRANT USAGE ON SCHEMA recon TO mizan_app;
GRANT SELECT, INSERT ON recon.dead_letters TO mizan_app;
GRANT UPDATE (published_at, replayed_at, replay_outcome, replay_error) ON recon.dead_letters TO mizan_app;
GRANT USAGE ON SEQUENCE recon.dead_letters_id_seq TO mizan_app;
-- The reconciler compares the schema's migration version with its own at start-up.
GRANT SELECT ON goose_db_version TO mizan_app;
-- Analysts see what was refused and why; the original bytes stay with the operators.
GRANT SELECT (id, topic, partition, "offset", event_id, event_type, source, message_key, reason_code, reason,
              error_class, size, sha256, truncated, refused_by, refused_at, published_at, replayed_at,
              replay_outcome, replay_error)
    ON recon.dead_letters TO mizan_analyst;

-- +goose Down
DROP TABLE recon.dead_letters;
