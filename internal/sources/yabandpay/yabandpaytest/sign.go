package yabandpaytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// sign is YabandPay's request signature, written here from the documents rather than shared with the client
// (providers/facts.md 1.2, 1.3): every parameter but `sign`, sorted by key in byte order, joined as k=v with
// '&' — no URL-encoding, empty values kept — then HMAC-SHA256 keyed with the secret key, lowercase hex.
func sign(params map[string]string, secret string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + params[k]
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.Join(pairs, "&")))
	return hex.EncodeToString(mac.Sum(nil))
}

// flatten turns a request body, decoded generically (numbers as json.Number), into the parameters YabandPay
// signs: the envelope's members but `data` and `sign`, and `data`'s members beside them — the PHP SDK's
// array_merge($param, $param['data']). Each value is its text as sent: a string as itself, a number as the
// digits it was written with.
//
// The documents show only strings and numbers. The simulator refuses anything else (booleans, null, nested
// objects or arrays) rather than guess how YabandPay would print it, and refuses a data member that repeats
// an envelope member, which array_merge would silently let win.
func flatten(body map[string]any) (map[string]string, error) {
	params := map[string]string{}
	for k, v := range body {
		if k == "data" || k == "sign" {
			continue
		}
		s, err := scalar(k, v)
		if err != nil {
			return nil, err
		}
		params[k] = s
	}
	data, ok := body["data"].(map[string]any)
	if !ok {
		return nil, errors.New("data must be an object")
	}
	for k, v := range data {
		if _, dup := params[k]; dup || k == "sign" || k == "data" {
			return nil, fmt.Errorf("data.%s repeats a member of the envelope", k)
		}
		s, err := scalar("data."+k, v)
		if err != nil {
			return nil, err
		}
		params[k] = s
	}
	return params, nil
}

// scalar is a parameter's text as sent, or why it cannot be signed.
func scalar(name string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	}
	return "", fmt.Errorf("%s must be a string or a number", name)
}
