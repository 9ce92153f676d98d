-- The current matches of the given expectations ($1-$3) and lines ($4-$6): one index lookup each (LATERAL with
-- OFFSET 0, which the planner cannot flatten, keeps them lookups per key whatever it believes of the table's
-- size: a table that grew since it was last analyzed must not be sorted whole for a few keys).
SELECT m.provider, m.account, m.expectation_id, m.item_id, m.kind, m.rule, m.role, m.group_key,
    m.group_expected, m.group_matched, m.difference, m.tolerance, m.matched_at
FROM unnest($1::text[], $2::text[], $3::text[]) AS k(p, a, id)
CROSS JOIN LATERAL (SELECT * FROM recon.matches x
                    WHERE x.provider = k.p AND x.account = k.a AND x.expectation_id = k.id OFFSET 0) m
UNION
SELECT m.provider, m.account, m.expectation_id, m.item_id, m.kind, m.rule, m.role, m.group_key,
    m.group_expected, m.group_matched, m.difference, m.tolerance, m.matched_at
FROM unnest($4::text[], $5::text[], $6::text[]) AS k(p, a, id)
CROSS JOIN LATERAL (SELECT * FROM recon.matches x
                    WHERE x.provider = k.p AND x.account = k.a AND x.item_id = k.id OFFSET 0) m
