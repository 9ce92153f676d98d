// Package events is mizan's shared vocabulary: the normalized facts the pollers publish, the topics they go
// to, their deterministic ids, the CloudEvents 1.0 JSON envelope that carries them and the signature that
// tells the poller's events from anybody else's.
//
// It imports nothing of mizan's own, so that sources, the Kafka transport, posting rules and checks can all
// speak it without pointing arrows at each other.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Topics, one per kind of fact and versioned in the name: a breaking change of a payload gets a new topic.
const (
	TopicStatement  = "mizan.statement.v1"
	TopicBalance    = "mizan.balance.v1"
	TopicSettlement = "mizan.settlement.v1"
	TopicBatch      = "mizan.batch.v1"
	TopicWatermark  = "mizan.watermark.v1"
	TopicDLQ        = "mizan.dlq.v1"
)

// DataTopics are the topics the reconciler consumes, in no particular order.
var DataTopics = []string{TopicStatement, TopicBalance, TopicSettlement, TopicBatch, TopicWatermark, TopicExpected,
	TopicBank}

// AllTopics adds the dead-letter topic to DataTopics: what a deployment must create.
var AllTopics = append(append([]string(nil), DataTopics...), TopicDLQ)

// CloudEvents types. The suffix is the payload's schema version; a consumer refuses a version it does not know
// (to the dead-letter topic) instead of guessing.
const (
	TypeStatementItem = "io.mizan.statement.item.v1"
	TypeBalance       = "io.mizan.balance.observed.v1"
	TypeSettlement    = "io.mizan.settlement.status.v1"
	TypeBatch         = "io.mizan.batch.status.v1"
	TypeWatermark     = "io.mizan.watermark.v1"
	TypeDeadLetter    = "io.mizan.deadletter.v1"
	TypeQuarantined   = "io.mizan.quarantined.v1"
)

// Providers mizan knows.
const (
	ProviderVandar    = "vandar"
	ProviderYabandPay = "yabandpay"
)

// Feeds a source can have.
const (
	FeedStatement   = "statement"
	FeedBalance     = "balance"
	FeedSettlements = "settlements"
	FeedBatches     = "batches"
)

// CurrencyToman is mizan's code for the Iranian toman. ISO 4217 has only the rial (IRR); Vandar reports
// whole tomans (1 toman = 10 rials), so mizan keeps them as IRT with no minor unit rather than multiply by ten
// and pretend the provider spoke rials.
const CurrencyToman = "IRT"

// Key is the Kafka message key for everything about one provider account: all of a wallet's facts land on one
// partition, in the order they were published.
func Key(provider, account string) string { return provider + "/" + account }

// NewID derives an event id from the parts that identify a fact. The same parts always give the same id, so a
// re-poll, a replay or a producer retry of the same fact is recognised as a duplicate, while a changed state
// (a new status, a different amount) is a new fact with a new id.
//
// The parts are joined with a unit separator so that ("ab","c") and ("a","bc") differ.
func NewID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(sum[:16])
}
