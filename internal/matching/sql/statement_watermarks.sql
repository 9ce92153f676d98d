-- How far each account's statement is known complete: its statement watermark, trusted once the event it
-- vouches for has been applied (watermarks travel on their own topic and can overtake the data).
SELECT w.provider, w.account, w.through
FROM recon.watermarks w
JOIN unnest($1::text[], $2::text[]) AS k(p, a) ON w.provider = k.p AND w.account = k.a
WHERE w.feed = 'statement'
  AND (w.last_event IS NULL OR w.last_event = ''
       OR EXISTS (SELECT 1 FROM recon.processed_events pe WHERE pe.event_id = w.last_event))
