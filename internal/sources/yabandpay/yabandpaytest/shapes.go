package yabandpaytest

import (
	"encoding/json"
	"strings"
)

// Shape is a set of ways to write the same answers differently, where YabandPay's documents leave it open
// (docs/providers.md): a PHP application's booleans, codes and numbers. Every shape keeps what the answer
// means. The zero Shape writes the documented answers, byte for byte: shapes are opt-in (Options.Shapes,
// Server.SetShapes).
type Shape uint32

// The shapes.
const (
	// ShapeStatusAsString writes status as "true" or "false".
	ShapeStatusAsString Shape = 1 << iota
	// ShapeStatusAsNumber writes status as 1 or 0.
	ShapeStatusAsNumber
	// ShapeCodeZero writes a success's code as "0" instead of "200".
	ShapeCodeZero
	// ShapeNumericUser writes the user UID as a JSON number, which drops its leading zeros: 36870 for
	// "036870".
	ShapeNumericUser
	// ShapeLowercaseCurrency writes the answer's currency in lower case: "eur".
	ShapeLowercaseCurrency
	// ShapeNullZeroFigures writes a reserve or deposit of zero as null.
	ShapeNullZeroFigures
	// ShapeNumericFigures writes the figures as JSON numbers instead of strings: 9999788.98.
	ShapeNumericFigures
	// ShapeExtraFields adds members no document shows, in the envelope and in data.
	ShapeExtraFields
)

// AllShapes are every shape but the one status spelling that excludes the other.
const AllShapes = ShapeStatusAsNumber | ShapeCodeZero | ShapeNumericUser | ShapeLowercaseCurrency |
	ShapeNullZeroFigures | ShapeNumericFigures | ShapeExtraFields

// SetShapes makes every later answer take the shapes in sh (0: the documented shapes).
func (s *Server) SetShapes(sh Shape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shapes = sh
}

// shaped renders an answer in the shapes sh.
func shaped(e envelope, sh Shape) any {
	if sh == 0 {
		return e
	}
	out := map[string]any{"status": e.Status, "code": e.Code, "data": e.Data, "message": e.Message}
	switch {
	case sh&ShapeStatusAsNumber != 0:
		out["status"] = map[bool]int{true: 1, false: 0}[e.Status]
	case sh&ShapeStatusAsString != 0:
		out["status"] = map[bool]string{true: "true", false: "false"}[e.Status]
	}
	if e.Status && sh&ShapeCodeZero != 0 {
		out["code"] = "0"
	}
	if sh&ShapeExtraFields != 0 {
		out["request_id"] = "f3c1a7e0"
	}
	d, ok := e.Data.(balanceData)
	if !ok {
		return out
	}
	data := map[string]any{"user": d.User, "time": d.Time, "gateway_name": d.GatewayName, "wallet_id": d.WalletID,
		"currency": d.Currency, "available": d.Available, "reserve": d.Reserve, "usable": d.Usable,
		"deposit": d.Deposit}
	if sh&ShapeNumericUser != 0 && d.User != "" && strings.Trim(d.User, "0123456789") == "" &&
		strings.TrimLeft(d.User, "0") != "" {
		data["user"] = json.Number(strings.TrimLeft(d.User, "0"))
	}
	if sh&ShapeLowercaseCurrency != 0 {
		data["currency"] = strings.ToLower(d.Currency)
	}
	for _, name := range []string{"available", "reserve", "usable", "deposit"} {
		v := data[name].(string)
		if sh&ShapeNullZeroFigures != 0 && (name == "reserve" || name == "deposit") && strings.Trim(v, "0.") == "" {
			data[name] = nil
			continue
		}
		if sh&ShapeNumericFigures != 0 {
			data[name] = json.Number(v)
		}
	}
	if sh&ShapeExtraFields != 0 {
		data["frozen_reason"] = nil
		data["limits"] = map[string]any{"daily": "0.00"}
	}
	out["data"] = data
	return out
}
