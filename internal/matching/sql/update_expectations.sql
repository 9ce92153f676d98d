UPDATE recon.expectations e SET match_status = t.st, rule = nullif(t.r, ''), matched_amount = t.m,
    duplicate_amount = t.du, failed_amount = t.f, difference = t.d, lines = t.n,
    matched_at = CASE WHEN t.n > 0 THEN coalesce(e.matched_at, $13) END, overdue = t.o,
    raised = coalesce(string_to_array(nullif(t.rs, ''), ','), '{}')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::numeric[],
    $8::numeric[], $9::numeric[], $10::int[], $11::bool[], $12::text[]) AS t(p, a, id, st, r, m, du, f, d, n, o, rs)
WHERE e.provider = t.p AND e.account = t.a AND e.expectation_id = t.id
