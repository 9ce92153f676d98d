-- The provider lines that share a reference with what arrived: one index lookup per (kind, reference, value).
SELECT DISTINCT ON (provider, account, item_id)
    provider, account, item_id, kind, state, amount, fee, currency, effective_at, seen_at,
    coalesce(factor_number, ''), coalesce(track_id, ''), coalesce(payment_number, ''), coalesce(payment_item_id, ''),
    explained, coalesce(role, ''), unexpected_at
FROM (
    SELECT l.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.provider_lines l WHERE l.provider = k.p AND l.account = k.a AND l.kind = k.kind AND l.factor_number = k.v AND l.factor_number IS NOT NULL OFFSET 0) l
    WHERE k.ref = 'factor_number'
    UNION ALL
    SELECT l.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.provider_lines l WHERE l.provider = k.p AND l.account = k.a AND l.kind = k.kind AND l.track_id = k.v AND l.track_id IS NOT NULL OFFSET 0) l
    WHERE k.ref = 'track_id'
    UNION ALL
    SELECT l.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.provider_lines l WHERE l.provider = k.p AND l.account = k.a AND l.kind = k.kind AND l.payment_number = k.v AND l.payment_number IS NOT NULL OFFSET 0) l
    WHERE k.ref = 'payment_number'
    UNION ALL
    SELECT l.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(p, a, kind, ref, v)
    CROSS JOIN LATERAL (SELECT * FROM recon.provider_lines l WHERE l.provider = k.p AND l.account = k.a AND l.kind = k.kind AND l.payment_item_id = k.v AND l.payment_item_id IS NOT NULL OFFSET 0) l
    WHERE k.ref = 'payment_item_id'
    UNION ALL
    SELECT l.* FROM unnest($6::text[], $7::text[], $8::text[]) AS k(p, a, id)
    CROSS JOIN LATERAL (SELECT * FROM recon.provider_lines l WHERE l.provider = k.p AND l.account = k.a AND l.item_id = k.id OFFSET 0) l
) l
ORDER BY provider, account, item_id
