-- The same, for refunds recorded before the payment they name: the payments just recorded lend their factor
-- numbers to them.
UPDATE recon.provider_lines r SET factor_number = p.factor_number
FROM unnest($1::text[], $2::text[], $3::text[]) AS t(prov, acct, id), recon.provider_lines p
WHERE p.provider = t.prov AND p.account = t.acct AND p.item_id = t.id
  AND p.kind = 'payment' AND p.factor_number IS NOT NULL
  AND r.provider = p.provider AND r.account = p.account AND r.kind = 'refund' AND r.payment_item_id = p.item_id
  AND r.factor_number IS NULL
RETURNING r.provider, r.account, r.item_id
