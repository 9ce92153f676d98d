DELETE FROM recon.matches m
USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(p, a, e, i)
WHERE m.provider = k.p AND m.account = k.a AND m.expectation_id = k.e AND m.item_id = k.i
