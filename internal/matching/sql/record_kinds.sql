INSERT INTO recon.expectation_kinds (provider, account, kind, first_seen_at)
SELECT DISTINCT p, a, k, $4::timestamptz FROM unnest($1::text[], $2::text[], $3::text[]) AS t(p, a, k)
ON CONFLICT DO NOTHING
