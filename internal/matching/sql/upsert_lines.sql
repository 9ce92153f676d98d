-- Record provider lines in their latest state. References once known are kept (a later report without
-- them does not erase them); only a report that changes something updates the row and comes back.
INSERT INTO recon.provider_lines (provider, account, item_id, kind, state, amount, fee, currency, effective_at,
    seen_at, factor_number, track_id, payment_number, payment_item_id, event_id)
SELECT p, a, id, k, st, amt, fee, cur, at, $16, nullif(fn, ''), nullif(tr, ''), nullif(pn, ''), nullif(pi, ''), ev
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[], $8::text[],
    $9::timestamptz[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bool[])
    AS t(p, a, id, k, st, amt, fee, cur, at, fn, tr, pn, pi, ev, insert_ok)
WHERE insert_ok OR EXISTS (SELECT 1 FROM recon.provider_lines l WHERE l.provider = p AND l.account = a AND l.item_id = id)
ON CONFLICT (provider, account, item_id) DO UPDATE SET
    kind = EXCLUDED.kind, state = EXCLUDED.state, amount = EXCLUDED.amount, fee = EXCLUDED.fee,
    currency = EXCLUDED.currency, effective_at = EXCLUDED.effective_at,
    factor_number = coalesce(EXCLUDED.factor_number, recon.provider_lines.factor_number),
    track_id = coalesce(EXCLUDED.track_id, recon.provider_lines.track_id),
    payment_number = coalesce(EXCLUDED.payment_number, recon.provider_lines.payment_number),
    payment_item_id = coalesce(EXCLUDED.payment_item_id, recon.provider_lines.payment_item_id),
    event_id = EXCLUDED.event_id
WHERE (recon.provider_lines.kind, recon.provider_lines.state, recon.provider_lines.amount, recon.provider_lines.fee,
       recon.provider_lines.currency, recon.provider_lines.effective_at)
      IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.state, EXCLUDED.amount, EXCLUDED.fee, EXCLUDED.currency,
                        EXCLUDED.effective_at)
   OR (EXCLUDED.factor_number IS NOT NULL AND recon.provider_lines.factor_number IS DISTINCT FROM EXCLUDED.factor_number)
   OR (EXCLUDED.track_id IS NOT NULL AND recon.provider_lines.track_id IS DISTINCT FROM EXCLUDED.track_id)
   OR (EXCLUDED.payment_number IS NOT NULL AND recon.provider_lines.payment_number IS DISTINCT FROM EXCLUDED.payment_number)
   OR (EXCLUDED.payment_item_id IS NOT NULL AND recon.provider_lines.payment_item_id IS DISTINCT FROM EXCLUDED.payment_item_id)
RETURNING provider, account, item_id
