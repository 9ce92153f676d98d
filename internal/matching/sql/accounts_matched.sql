-- Of the accounts given, those matching has anything to match against: an expectation stated (in whatever
-- state; expectations are never deleted) or a kind of them published. One primary-key probe each.
SELECT t.p, t.a FROM unnest($1::text[], $2::text[]) AS t(p, a)
WHERE EXISTS (SELECT 1 FROM recon.expectations e WHERE e.provider = t.p AND e.account = t.a)
   OR EXISTS (SELECT 1 FROM recon.expectation_kinds k WHERE k.provider = t.p AND k.account = t.a)
