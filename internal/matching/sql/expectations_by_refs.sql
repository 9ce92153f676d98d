-- The expectations that share a reference with what arrived: one index lookup per (kind, reference, value).
SELECT DISTINCT ON (provider, account, expectation_id)
    provider, account, expectation_id, kind, coalesce(factor_number, ''), coalesce(track_id, ''),
    coalesce(payment_number, ''), coalesce(payment_item_id, ''), amount, currency, expected_by, status,
    match_status, coalesce(rule, ''), matched_amount, duplicate_amount, failed_amount, difference, lines,
    matched_at, overdue, raised
FROM (
    SELECT e.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.expectations e WHERE e.provider = k.p AND e.account = k.a AND e.kind = k.kind AND e.factor_number = k.v AND e.factor_number IS NOT NULL OFFSET 0) e
    WHERE k.ref = 'factor_number'
    UNION ALL
    SELECT e.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.expectations e WHERE e.provider = k.p AND e.account = k.a AND e.kind = k.kind AND e.track_id = k.v AND e.track_id IS NOT NULL OFFSET 0) e
    WHERE k.ref = 'track_id'
    UNION ALL
    SELECT e.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.expectations e WHERE e.provider = k.p AND e.account = k.a AND e.kind = k.kind AND e.payment_number = k.v AND e.payment_number IS NOT NULL OFFSET 0) e
    WHERE k.ref = 'payment_number'
    UNION ALL
    SELECT e.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.expectations e WHERE e.provider = k.p AND e.account = k.a AND e.kind = k.kind AND e.payment_item_id = k.v AND e.payment_item_id IS NOT NULL OFFSET 0) e
    WHERE k.ref = 'payment_item_id'
    UNION ALL
    SELECT e.* FROM unnest($6::text[], $7::text[], $8::text[]) AS k(p, a, id)
    CROSS JOIN LATERAL (SELECT * FROM recon.expectations e WHERE e.provider = k.p AND e.account = k.a AND e.expectation_id = k.id OFFSET 0) e
) e
ORDER BY provider, account, expectation_id
