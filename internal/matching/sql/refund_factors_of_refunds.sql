-- A refund is matched by the refunded payment's reference: a refund line just recorded that does not carry
-- the payment's factor number takes it from the payment's line.
UPDATE recon.provider_lines r SET factor_number = p.factor_number
FROM unnest($1::text[], $2::text[], $3::text[]) AS t(prov, acct, id), recon.provider_lines p
WHERE r.provider = t.prov AND r.account = t.acct AND r.item_id = t.id
  AND r.kind = 'refund' AND r.factor_number IS NULL AND r.payment_item_id IS NOT NULL
  AND p.provider = r.provider AND p.account = r.account AND p.item_id = r.payment_item_id
  AND p.kind = 'payment' AND p.factor_number IS NOT NULL
RETURNING r.provider, r.account, r.item_id
