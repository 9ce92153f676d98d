UPDATE recon.provider_lines SET unexpected_at = $4
WHERE provider = $1 AND account = $2 AND item_id = ANY($3)
