INSERT INTO recon.matches (provider, account, expectation_id, item_id, kind, rule, role, group_key,
    expectation_amount, line_amount, line_fee, currency, group_expected, group_matched, difference, tolerance,
    within_tolerance, matched_at)
SELECT p, a, e, i, k, r, ro, g, ea, la, lf, cur, ge, gm, d, tol, abs(d) <= tol, $17
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::numeric[], $10::numeric[], $11::numeric[], $12::text[], $13::numeric[], $14::numeric[], $15::numeric[],
    $16::numeric[]) AS t(p, a, e, i, k, r, ro, g, ea, la, lf, cur, ge, gm, d, tol)
ON CONFLICT (provider, account, expectation_id, item_id) DO UPDATE SET
    kind = EXCLUDED.kind, rule = EXCLUDED.rule, role = EXCLUDED.role, group_key = EXCLUDED.group_key,
    expectation_amount = EXCLUDED.expectation_amount, line_amount = EXCLUDED.line_amount,
    line_fee = EXCLUDED.line_fee, currency = EXCLUDED.currency, group_expected = EXCLUDED.group_expected,
    group_matched = EXCLUDED.group_matched, difference = EXCLUDED.difference, tolerance = EXCLUDED.tolerance,
    within_tolerance = EXCLUDED.within_tolerance
