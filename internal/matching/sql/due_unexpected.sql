-- Counted, referenced lines of one account and kind that nothing explains, no alert names yet, and whose
-- wait for an expectation ($4) is over, effective at or after since ($5): the unexplained index, one range.
-- A line effective before since but seen after it (a backfill) is in the range and filtered out by its
-- effective_at: since says which money the business's records cover, not when mizan happened to read it.
SELECT item_id, amount, fee, currency, effective_at, seen_at, coalesce(factor_number, ''), coalesce(track_id, ''),
    coalesce(payment_number, ''), coalesce(payment_item_id, '')
FROM recon.provider_lines
WHERE provider = $1 AND account = $2 AND kind = $3
  AND NOT explained AND state = 'counted' AND unexpected_at IS NULL AND referenced
  AND greatest(effective_at, seen_at) <= $4 AND greatest(effective_at, seen_at) >= $5 AND effective_at >= $5
ORDER BY greatest(effective_at, seen_at), item_id
LIMIT 1000
