-- Record expectations as last stated. Only a statement that changes something updates the row (and comes
-- back in RETURNING, to be matched again): the same CSV imported twice changes nothing.
INSERT INTO recon.expectations (provider, account, expectation_id, kind, reference, factor_number, track_id,
    payment_number, payment_item_id, amount, currency, expected_by, status, origin, event_id, first_seen_at,
    updated_at, match_status)
SELECT p, a, id, k, ref::jsonb, nullif(fn, ''), nullif(tr, ''), nullif(pn, ''), nullif(pi, ''), amt, cur, by, st, orig,
    nullif(ev, ''), $16, $16, CASE st WHEN 'cancelled' THEN 'cancelled' ELSE 'unmatched' END
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::numeric[], $11::text[], $12::timestamptz[], $13::text[], $14::text[], $15::text[])
    AS t(p, a, id, k, ref, fn, tr, pn, pi, amt, cur, by, st, orig, ev)
ON CONFLICT (provider, account, expectation_id) DO UPDATE SET
    kind = EXCLUDED.kind, reference = EXCLUDED.reference, factor_number = EXCLUDED.factor_number,
    track_id = EXCLUDED.track_id, payment_number = EXCLUDED.payment_number,
    payment_item_id = EXCLUDED.payment_item_id, amount = EXCLUDED.amount, currency = EXCLUDED.currency,
    expected_by = EXCLUDED.expected_by, status = EXCLUDED.status, origin = EXCLUDED.origin,
    event_id = EXCLUDED.event_id, updated_at = EXCLUDED.updated_at,
    -- A new deadline is judged afresh.
    overdue = recon.expectations.overdue AND recon.expectations.expected_by = EXCLUDED.expected_by
WHERE (recon.expectations.kind, recon.expectations.reference, recon.expectations.amount,
       recon.expectations.currency, recon.expectations.expected_by, recon.expectations.status)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.reference, EXCLUDED.amount, EXCLUDED.currency,
                        EXCLUDED.expected_by, EXCLUDED.status)
RETURNING provider, account, expectation_id
