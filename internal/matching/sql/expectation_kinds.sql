SELECT provider, account, kind FROM recon.expectation_kinds ORDER BY 1, 2, 3
