-- The same, for refunds recorded before the payment they name: the payments just recorded lend their factor
-- numbers to them. Each payment of the batch is found by primary key, and then its refunds by the
-- payment_item_id index (the lateral subqueries, kept from being flattened by OFFSET 0): flattened, the
-- planner hashed every payment line with a factor number, or scanned every refund line with a
-- payment_item_id, against the batch — costs that grew with the history (make bench, 2026-12-07).
UPDATE recon.provider_lines r SET factor_number = x.factor_number
FROM (SELECT f.provider, f.account, f.item_id, p.factor_number
      FROM unnest($1::text[], $2::text[], $3::text[]) AS t(prov, acct, id)
      CROSS JOIN LATERAL (
          SELECT p.provider, p.account, p.item_id, p.factor_number FROM recon.provider_lines p
          WHERE p.provider = t.prov AND p.account = t.acct AND p.item_id = t.id
            AND p.kind = 'payment' AND p.factor_number IS NOT NULL
          OFFSET 0) p
      CROSS JOIN LATERAL (
          SELECT f.provider, f.account, f.item_id FROM recon.provider_lines f
          WHERE f.payment_item_id = p.item_id AND f.provider = p.provider AND f.account = p.account
            AND f.kind = 'refund' AND f.factor_number IS NULL
          OFFSET 0) f) x
WHERE r.provider = x.provider AND r.account = x.account AND r.item_id = x.item_id
RETURNING r.provider, r.account, r.item_id
