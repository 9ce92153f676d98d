-- Acknowledging an alert: a person says "I have seen this, and here is what I am doing about it" — who, when,
-- and a note — without resolving it (only the check that raised it resolves it, when the ledger and the
-- provider agree again). The acknowledgement is shown beside the alert (analytics.open_alerts) and announced
-- in Slack once.
--
-- A table beside recon.alerts rather than columns of it: recon.alerts is written by the reconciler, and an
-- acknowledgement is written by a person through one function, never changed afterwards. It is also an
-- outbox, as recon.alerts is: the dispatcher (internal/alerts) sends each acknowledgement once and records
-- sent_at; only those delivery columns ever change.

-- +goose Up
CREATE TABLE recon.alert_acknowledgements (
    alert_id            bigint      NOT NULL CONSTRAINT alert_acknowledgements_pkey PRIMARY KEY
                                             CONSTRAINT alert_acknowledgements_alert_fkey REFERENCES recon.alerts (id),
    acknowledged_by     text        NOT NULL,
    acknowledged_at     timestamptz NOT NULL DEFAULT now(),
    note                text        NOT NULL CONSTRAINT alert_acknowledgements_note_check
                                             CHECK (btrim(note) <> '' AND length(note) <= 2000),
    -- Delivery (the outbox): NULL until Slack accepted the message.
    sent_at             timestamptz,
    delivery_attempts   int         NOT NULL DEFAULT 0,
    last_delivery_error text
);

CREATE INDEX alert_acknowledgements_unsent_idx ON recon.alert_acknowledgements (alert_id) WHERE sent_at IS NULL;

COMMENT ON TABLE recon.alert_acknowledgements IS
    'Who acknowledged an alert, when, and their note; written only by recon.acknowledge_alert, one per alert, '
    'never changed. Also the Slack dispatcher''s outbox for the acknowledgement message (sent_at).';
COMMENT ON COLUMN recon.alert_acknowledgements.alert_id IS 'The alert (recon.alerts.id).';
COMMENT ON COLUMN recon.alert_acknowledgements.acknowledged_by IS 'The login role that acknowledged it (session_user).';
COMMENT ON COLUMN recon.alert_acknowledgements.acknowledged_at IS 'When.';
COMMENT ON COLUMN recon.alert_acknowledgements.note IS 'What the person said: what they found, what they are doing.';
COMMENT ON COLUMN recon.alert_acknowledgements.sent_at IS 'When Slack accepted the acknowledgement message (NULL: not yet).';
COMMENT ON COLUMN recon.alert_acknowledgements.delivery_attempts IS 'How many times the dispatcher tried to send it.';
COMMENT ON COLUMN recon.alert_acknowledgements.last_delivery_error IS
    'Why the last try failed. Not readable by analysts: it may quote the Slack webhook (a secret).';

-- Who, when and what are never changed; the dispatcher records only its delivery.
-- +goose StatementBegin
CREATE FUNCTION recon.alert_acknowledgements_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.alert_id = OLD.alert_id AND NEW.acknowledged_by = OLD.acknowledged_by
       AND NEW.acknowledged_at = OLD.acknowledged_at AND NEW.note = OLD.note THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'recon.alert_acknowledgements: % refused: an acknowledgement (who, when, the note) never changes',
        TG_OP
        USING ERRCODE = 'restrict_violation', CONSTRAINT = 'alert_acknowledgements_immutable',
            SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER alert_acknowledgements_immutable
    BEFORE UPDATE OR DELETE ON recon.alert_acknowledgements
    FOR EACH ROW EXECUTE FUNCTION recon.alert_acknowledgements_refuse_change();

CREATE TRIGGER alert_acknowledgements_no_truncate
    BEFORE TRUNCATE ON recon.alert_acknowledgements
    FOR EACH STATEMENT EXECUTE FUNCTION recon.alert_acknowledgements_refuse_change();

-- +goose StatementBegin
CREATE FUNCTION recon.acknowledge_alert(alert_id bigint, note text)
    RETURNS timestamptz
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
#variable_conflict use_variable
DECLARE
    who   text := session_user;
    alert recon.alerts;
    prior recon.alert_acknowledgements;
    acked timestamptz;
BEGIN
    IF note IS NULL OR btrim(note) = '' THEN
        RAISE EXCEPTION 'recon.acknowledge_alert: a note is required'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'alert_acknowledgements_note_check',
                HINT = 'Say what you found or what you are doing about it.';
    END IF;
    -- Locked: two people acknowledging at once get one acknowledgement and one clear refusal.
    SELECT * INTO alert FROM recon.alerts a WHERE a.id = acknowledge_alert.alert_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'recon.acknowledge_alert: there is no alert %', acknowledge_alert.alert_id
            USING ERRCODE = 'undefined_object', HINT = 'SELECT id, kind, subject, summary FROM analytics.open_alerts';
    END IF;
    IF alert.resolved_at IS NOT NULL THEN
        RAISE EXCEPTION 'recon.acknowledge_alert: alert % is resolved already (at %)', alert.id, alert.resolved_at
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO prior FROM recon.alert_acknowledgements k WHERE k.alert_id = alert.id;
    IF FOUND THEN
        RAISE EXCEPTION 'recon.acknowledge_alert: alert % was acknowledged by % at %: %', alert.id, prior.acknowledged_by,
            prior.acknowledged_at, prior.note
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'alert_acknowledgements_pkey';
    END IF;
    INSERT INTO recon.alert_acknowledgements AS k (alert_id, acknowledged_by, note)
    VALUES (alert.id, who, note)
    RETURNING k.acknowledged_at INTO acked;
    RETURN acked;
END
$$;
-- +goose StatementEnd

COMMENT ON FUNCTION recon.acknowledge_alert(bigint, text) IS
    'Acknowledges an open alert with a note, as session_user, now (mizan_accountant; mizan_app for the CLI), and '
    'returns when. One acknowledgement per alert; it does not resolve the alert. Announced in Slack once.';

REVOKE ALL ON FUNCTION recon.acknowledge_alert(bigint, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA recon TO mizan_accountant, mizan_app;
GRANT EXECUTE ON FUNCTION recon.acknowledge_alert(bigint, text) TO mizan_accountant, mizan_app;

-- The dispatcher (as mizan_app) reads the outbox and records delivery; analysts read everything but the
-- delivery error.
GRANT SELECT, UPDATE (sent_at, delivery_attempts, last_delivery_error) ON recon.alert_acknowledgements TO mizan_app;
GRANT SELECT (alert_id, acknowledged_by, acknowledged_at, note, sent_at, delivery_attempts)
    ON recon.alert_acknowledgements TO mizan_analyst;

-- +goose Down
REVOKE ALL ON FUNCTION recon.acknowledge_alert(bigint, text) FROM mizan_accountant, mizan_app;
DROP FUNCTION recon.acknowledge_alert(bigint, text);
DROP TABLE recon.alert_acknowledgements;
DROP FUNCTION recon.alert_acknowledgements_refuse_change();
