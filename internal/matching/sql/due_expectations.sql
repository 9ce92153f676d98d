-- Open expectations whose deadline plus the grace the statement has passed ($3 per account), not yet judged:
-- the deadline index, one range per account, at most $4 each (the rest are judged by the next pass).
SELECT e.provider, e.account, e.expectation_id
FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(p, a, before)
CROSS JOIN LATERAL (
    SELECT x.provider, x.account, x.expectation_id FROM recon.expectations x
    WHERE x.provider = k.p AND x.account = k.a AND x.expected_by <= k.before AND x.status = 'open' AND NOT x.overdue
    ORDER BY x.expected_by
    LIMIT $4
) e
