-- A refund is matched by the refunded payment's reference: a refund line just recorded that does not carry
-- the payment's factor number takes it from the payment's line. Each refund finds its line and then its
-- payment's by primary key (the lateral subquery, kept from being flattened by OFFSET 0): flattened, the
-- planner read every line of the account for each refund of the batch (make bench, 2026-12-07).
UPDATE recon.provider_lines r SET factor_number = x.factor_number
FROM (SELECT t.prov, t.acct, t.id, pay.factor_number
      FROM unnest($1::text[], $2::text[], $3::text[]) AS t(prov, acct, id)
      CROSS JOIN LATERAL (
          SELECT p.factor_number
          FROM recon.provider_lines f
          JOIN recon.provider_lines p ON p.provider = f.provider AND p.account = f.account AND p.item_id = f.payment_item_id
          WHERE f.provider = t.prov AND f.account = t.acct AND f.item_id = t.id
            AND f.kind = 'refund' AND f.factor_number IS NULL
            AND p.kind = 'payment' AND p.factor_number IS NOT NULL
          OFFSET 0) pay) x
WHERE r.provider = x.prov AND r.account = x.acct AND r.item_id = x.id
RETURNING r.provider, r.account, r.item_id
