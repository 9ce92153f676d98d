UPDATE recon.provider_lines l SET explained = t.x, role = nullif(t.r, ''),
    unexpected_at = CASE WHEN t.clear THEN NULL ELSE l.unexpected_at END
FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::bool[]) AS t(p, a, id, x, r, clear)
WHERE l.provider = t.p AND l.account = t.a AND l.item_id = t.id
