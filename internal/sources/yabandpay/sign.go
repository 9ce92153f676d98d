package yabandpay

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Sign computes YabandPay's request signature over params, keyed with the merchant's secret key.
//
// params holds every parameter of the request except `sign` — the envelope's user, method and time and the
// fields of data, flattened into one level, each value as the text sent (a number as its digits). A `sign`
// entry in params is ignored. The parameters are sorted by key in byte order, joined as key=value with '&'
// — no URL-encoding, empty values included — and the string is HMAC-SHA256'd with the secret, in lowercase
// hex. That is YabandPay's signing page, its PHP SDK (Cryptography::encrypt over Request::completion's
// flattened array) and a Java integration, which all agree (providers/facts.md 1.2 and 1.3); a third-party
// plugin that drops empty values is the one dissent, and sends nothing this client sends empty anyway.
//
// Sign never fails: any map and any secret give a 64-character signature.
func Sign(params map[string]string, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signingString(params)))
	return hex.EncodeToString(mac.Sum(nil))
}

// signingString is the text Sign authenticates: "k1=v1&k2=v2…", sorted by key, without `sign`.
func signingString(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys) // byte order: Go compares strings bytewise, as PHP's ksort does for these ASCII keys
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}
