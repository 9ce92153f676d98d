-- Every account whose statement watermark mizan holds: where deadlines can be judged.
SELECT provider, account FROM recon.watermarks WHERE feed = 'statement' ORDER BY 1, 2
