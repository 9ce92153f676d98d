// Package yabandpaytest simulates YabandPay's merchant API — the provider's side of
// internal/sources/yabandpay — for tests and for the local pipeline: an httptest-style server over merchants
// whose per-currency balances move on a simulated clock.
//
// It follows the documents mizan was started from (providers/yabandpay-balance.txt, README.md and facts.md
// section 1) exactly where they speak: one endpoint, POST /Payments, with a JSON envelope of user, sign,
// method, time and data; HMAC-SHA256 signatures over the sorted, flattened parameters, verified on every
// request by recomputing them over what was sent; v3.MerchantBalance with command getBalance (or `commond`,
// the older spelling); only the super-admin account may ask; answers {"status":true,"code":"200","data":{...},
// "message":""} with amounts as two-decimal strings. Where they are silent the simulator decides, and the
// decision is written next to the code that makes it; the main ones:
//
//   - Refusals are {"status":false,"code":"<non-200>","data":[],"message":"..."} over HTTP 200, with the
//     HTTP-like codes of Refusal.Code (YabandPay publishes no error codes).
//   - A request whose time is more than Options.MaxSkew (default 5 minutes) from the clock is refused, and so
//     is a nonce_string the user has already sent.
//   - usable is available − reserve as the documents' text says, or available + reserve as their example
//     shows (MerchantOptions.UsableAddsReserve); SetFigures reports anything at all.
//   - Activity: payments arrive at random, a payout leaves daily, the reserve changes about weekly and the
//     frozen deposit about monthly, all drawn from a seed (see wallet).
//
// Faults (Inject, InjectRate) make single requests misbehave the way vandartest's do; knobs (SetReserve,
// SetDeposit, DropAvailable, SetFigures) change what the provider reports, for reconciliation tests.
//
// The simulator stands alone: it shares no code with the client in internal/sources/yabandpay — not even
// the signature — so a misunderstanding of the documents cannot hide in both at once.
package yabandpaytest
