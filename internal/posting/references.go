package posting

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/mizanhq/mizan/internal/events"
)

// The references a provider or a bank gives an item, kept in the entry's metadata under these keys so that
// an analyst can find "the payment for order 1643" or "bank reference 391066915244" in the ledger itself
// (analytics.wallet_movements; ledger.entry_references indexes them). Until now they lived only in the
// event's raw item, in Kafka.
const (
	RefFactorNumber  = "factor_number"  // the merchant's invoice or order number (Vandar: factorNumber)
	RefRefID         = "ref_id"         // the bank's reference number of the payment (Shaparak RRN)
	RefTrackingCode  = "tracking_code"  // the bank's or switch's tracking code
	RefCardNumber    = "card_number"    // the payer's card, masked: first six and last four digits at most
	RefTrackID       = "track_id"       // the merchant's own id of a settlement (its idempotency key at Vandar)
	RefIBAN          = "iban"           // the counterparty's IBAN: the payer's for money in, the receiver's for money out
	RefPaymentNumber = "payment_number" // the deposit id (شناسه واریز) of a cash-in or a settlement
)

// maxReferenceLen bounds a reference kept in the metadata: a provider sending a megabyte in ref_id must not
// make every copy of the entry that large. Real references are at most a few dozen characters.
const maxReferenceLen = 64

// rawReferences are where the provider's raw item carries each reference, in order of preference. Vandar's
// statement items name them so (providers/README.md); an item of another provider without these fields
// simply has none.
var rawReferences = []struct {
	key   string
	paths [][]string
}{
	{RefFactorNumber, [][]string{{"factorNumber"}, {"factor_number"}}},
	{RefRefID, [][]string{{"ref_id"}}},
	{RefTrackingCode, [][]string{{"tracking_code"}}},
	{RefCardNumber, [][]string{{"card_number"}, {"cardNumber"}}},
	{RefTrackID, [][]string{{"track_id"}}},
	{RefPaymentNumber, [][]string{{"payment_number"}}},
}

// addReferences copies the item's references into an entry's metadata: the normalized ones first, then
// what the provider's raw item says (raw: the item's Raw, read once for every reader of it). It never fails —
// a reference is for finding an entry, and a raw item it cannot read (or one without references) just gives
// none.
func addReferences(meta map[string]any, it events.StatementItem, raw events.RawFields) {
	for _, r := range rawReferences {
		for _, path := range r.paths {
			if v, ok := rawText(raw, path...); ok {
				meta[r.key] = v
				break
			}
		}
	}
	if it.TrackID != "" {
		if v, ok := reference(it.TrackID); ok {
			meta[RefTrackID] = v
		}
	}
	// The counterparty's IBAN: who paid in, or who was paid. Vandar names a returned settlement's IBAN as
	// its payer, a settlement's as its receiver.
	sides := [][]string{{"payer", "iban"}, {"receiver", "iban"}}
	if it.Direction == events.DirectionOut {
		sides[0], sides[1] = sides[1], sides[0]
	}
	for _, path := range sides {
		if v, ok := rawText(raw, path...); ok {
			meta[RefIBAN] = strings.ToUpper(v)
			break
		}
	}
	if c, ok := meta[RefCardNumber].(string); ok {
		meta[RefCardNumber] = MaskCard(c)
	}
}

// withRawReferences adds to a payout's metadata the references its raw report carries that the normalized
// fact has no field for (the deposit id), and returns meta.
func withRawReferences(meta map[string]any, raw json.RawMessage) map[string]any {
	if v, ok := rawText(events.ReadRaw(raw), "payment_number"); ok {
		meta[RefPaymentNumber] = v
	}
	return meta
}

// MaskCard returns a card number as it may be stored: the first six digits (the issuer) and the last four,
// every other digit replaced by '*'. A number already masked by the provider keeps its mask; spaces and
// dashes are dropped. mizan never stores a full card number, whatever a provider sends.
func MaskCard(s string) string {
	var b strings.Builder
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ' || r == '-':
			continue
		}
		b.WriteRune(r)
	}
	clean := []rune(b.String())
	b.Reset()
	seen := 0
	for _, r := range clean {
		if r >= '0' && r <= '9' {
			seen++
			if seen > 6 && seen <= digits-4 {
				r = '*'
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// rawText follows path through the raw item's nested objects to a string or a number (the names exact, as a
// decode into a map[string]any has always read them here), and returns it as a reference.
func rawText(raw events.RawFields, path ...string) (string, bool) {
	v, ok := raw.Text(path...)
	if !ok {
		return "", false
	}
	return reference(v)
}

// reference trims s and accepts it if it is a plausible reference: not empty, not too long, printable.
func reference(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxReferenceLen || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n\r\t") {
		return "", false
	}
	return s, true
}
