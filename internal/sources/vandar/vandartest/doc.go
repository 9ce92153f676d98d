// Package vandartest simulates Vandar's API — the provider's side of internal/sources/vandar — for tests and
// for the local pipeline: an httptest-style server over businesses with seeded, realistic histories.
//
// It follows the documents mizan was started from (providers/README.md, facts.md and Vandar's Persian API
// reference) exactly where they speak: the paths, Bearer auth with rotating refresh tokens, the statement's
// paging (per_page ≤ 100, start_after, sort, has_more) and filters, the item shape with every documented
// field, Jalali Tehran timestamps, and the error bodies. Where they are silent the simulator decides, and the
// decision is written next to the code that makes it; the main ones:
//
//   - Ids are the created_at second in unix time × 100 plus a two-digit counter, as the documents' settlement
//     example shows, so they grow with created_at (see business.allocate).
//   - The wallet chain: every item that moves the wallet, ordered by (effective time, id), carries the balance
//     right after it in `wallet`; items that have not moved it say 0, as the documents' failed payment does.
//     Money in moves the wallet by amount − wage when it succeeds; money out by −(amount + wage) when it is
//     requested; a failed or cancelled settlement keeps its deduction and a new -6 item returns the amount.
//   - One clock decides everything time-dependent (which items exist, their state, token expiry); tests set it
//     with Options.Now, SetNow and Advance. Rate limits run on a separate real clock (Options.Wall).
//   - Logs are an object on failed payments (the documents' example) and [] elsewhere (the public fixtures).
//
// Settlements, queued settlements and batch settlements (settlement.go, queued.go, batch.go) are views of the
// same records as the statement: every settlement, a batch's items included, is a statement item whose id is
// its transaction_id, so the payout feeds and the statement always describe the same money. Their statuses
// follow the one clock too, and a generated history has batches and queued settlements in it
// (BusinessOptions.Batches, Queued).
//
// Faults (Inject, InjectRate, ExpireAccessTokenNow) make single requests misbehave; discrepancy knobs
// (HideItem, DuplicateItem, MisSignFee, ChangeAmount, DriftBalance; StickSettlement, WithholdReturn,
// MisstateBatch) make the provider's data wrong, for reconciliation tests.
//
// The simulator stands alone: it shares no code with the client in internal/sources/vandar, so a
// misunderstanding of the documents cannot hide in both at once.
package vandartest
