// Package vandar reads a business's money at Vandar (vandar.io), an Iranian payment provider: the statement of
// every item that moved or might move the wallet, the wallet balance, and the payouts — settlements, queued
// settlements and batch settlements (settlement.go, batch.go). It speaks mizan's events vocabulary: a Client
// returns events.StatementItem, events.Balance, events.Settlement and events.Batch, and keeps Vandar's wire
// shapes unexported.
//
// Three things here carry the money's correctness, each kept in one place:
//   - tehran.go: Vandar's timestamps are Jalali dates in Tehran wall-clock time, whose offset changed in 2022;
//   - status.go: the table saying what each statement status code means for the wallet (Vandar does not
//     document it; the table cites its source, and the ledger's running-balance check proves it);
//   - tokens.go: the access token expires and the refresh token rotates on every use, so a refreshed pair is
//     saved before it is used and refreshes never run twice at once;
//   - settlement.go: a settlement's bare `amount` is tomans in one payload and of unknown unit in another,
//     and its dates are Gregorian in one and Jalali in the other;
//   - wire.go: the decoding policy (docs/providers.md) — strict about what a money field means, tolerant about
//     how it is written; an item that cannot be understood is returned quarantined beside the others, never
//     allowed to fail its page.
//
// The simulator beside this package (vandartest) serves the same API for tests and for the local pipeline.
package vandar
