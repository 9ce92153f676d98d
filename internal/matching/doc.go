// Package matching matches the business's own records — expectations: orders to be paid, payouts and refunds
// requested (events.Expectation) — with the providers' statement lines, as either side arrives, and says what
// is wrong: an order unpaid past its deadline, a payout missing or failed, an amount that differs, an order
// paid twice, money nobody expected.
//
// It has three layers:
//   - rules.go: the pure rules. Given the expectations and lines that share references (a "group"), which line
//     meets which expectation, by which rule, and each side's resulting state. No SQL, no clock.
//   - store.go and sql/: the tables (recon.expectations, recon.provider_lines, recon.matches) and the indexed
//     lookups that find a group from one arriving fact.
//   - matcher.go: Matcher, called by internal/apply inside a batch's transaction (and by the CSV import and
//     the time-driven checks): record the facts, recompute the groups they touch, turn state changes into
//     alerts (checks.Result, stored by internal/alerts).
//
// A group is recomputed from everything stored about it every time one of its members changes, so the result
// never depends on which side arrived first. docs/matching.md is the contract.
package matching
