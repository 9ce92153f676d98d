// Package yabandpay reads a merchant's wallet balances at YabandPay (yabandpay.com), a European payment
// institution, through its merchant API (POST https://mapi.yabandpay.com/Payments). It speaks mizan's events
// vocabulary: a Client returns events.Balance and keeps YabandPay's wire shapes unexported.
//
// YabandPay reports only balances — per currency: available, reserve, usable and deposit — and its documents
// contradict themselves on how they relate (the text says usable = available − reserve, its own example shows
// available + reserve). mizan records the four figures exactly as reported and never derives one from another.
//
// Where the money's correctness depends on a reading of YabandPay's documents, the decision is made in one
// place and says why:
//   - sign.go: how a request is signed (HMAC-SHA256 over the sorted, flattened parameters);
//   - balance.go: the getBalance request and how its answer becomes an events.Balance;
//   - client.go: retries, rate limiting and why a retried request gets a fresh nonce and time.
//
// The simulator beside this package (yabandpaytest) serves the same API for tests and for the local pipeline.
package yabandpay
