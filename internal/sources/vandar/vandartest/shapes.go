package vandartest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	ptime "github.com/yaa110/go-persian-calendar"

	"github.com/mizanhq/mizan/internal/numerals"
)

// Shape is a set of ways to write the same answers differently: how a PHP/Laravel application like Vandar's
// may serialize what the documents show, where the documents do not pin it down (docs/providers.md). Every
// shape but ShapeSecondlessTimes and ShapeNoHasMore keeps what the answers mean, so a client that is tolerant
// about shape reads the same facts from them; those two lose something (the seconds; whether a page is the
// last) that a client must handle another way. The zero Shape writes the simulator's own, documented
// answers, byte for byte: shapes are opt-in (Options.Shapes, Server.SetShapes).
type Shape uint32

// The shapes. Each applies wherever its field occurs, on every endpoint, unless it names one.
const (
	// ShapeNumbersAsStrings writes every JSON number as a string: "amount": "250000".
	ShapeNumbersAsStrings Shape = 1 << iota
	// ShapePersianDigits writes every number, and the digits of every timestamp, in Persian digits:
	// "amount": "۲۵۰۰۰۰", "created_at": "۱۰:۰۰:۰۰ - ۱۴۰۳/۱/۱۲".
	ShapePersianDigits
	// ShapeFloats writes every whole number with a zero fraction, as a float serializer does: 250000.0.
	ShapeFloats
	// ShapeNullsAsPHPEmpty writes every null as [] (PHP's empty array) and every {} as [].
	ShapeNullsAsPHPEmpty
	// ShapeExtraFields adds members no document shows to every object.
	ShapeExtraFields
	// ShapeISOTimes writes the statement's and the settlements' timestamps as ISO 8601 with Tehran's offset:
	// "2024-03-31T10:00:00+03:30".
	ShapeISOTimes
	// ShapeSecondlessTimes drops the seconds of the statement's created_at and updated_at: "10:00 - 1403/1/12".
	// The items' times lose their seconds: not the same facts to the second.
	ShapeSecondlessTimes
	// ShapeMillisEpochs writes Unix times (effective_time_stamp, a batch's created_at) in milliseconds.
	ShapeMillisEpochs
	// ShapeStringBooleans writes booleans as PHP does from a database: is_deposit 1 or 0, has_more "true".
	ShapeStringBooleans
	// ShapeSignedOutgoing writes the amount and fee of money going out negative: "amount": -100000.
	ShapeSignedOutgoing
	// ShapeCancelledSpelling writes CANCELED as CANCELLED.
	ShapeCancelledSpelling
	// ShapeLowercaseStatus writes settlement and batch item statuses in lower case: "done".
	ShapeLowercaseStatus
	// ShapeLaravelResource writes the settlement list's and the queue's paginator as a Laravel API resource:
	// {"data":[…],"links":{…},"meta":{…}}.
	ShapeLaravelResource
	// ShapePlainQueue writes the queue's data as a plain list of settlements, without paging, and an empty
	// queue as "data": [].
	ShapePlainQueue
	// ShapeNoBatchMeta drops the batch host's meta, leaving links.
	ShapeNoBatchMeta
	// ShapeNoHasMore drops the statement's has_more: a client must find the last page another way.
	ShapeNoHasMore
	// ShapeWrappedRefresh wraps the token refresh answer as {"status":1,"data":{…}}.
	ShapeWrappedRefresh
	// ShapeIndexedLists writes the statement's list of items as PHP writes an array with keys: {"0":…,"1":…}.
	ShapeIndexedLists
)

// ShapesKeepingMeaning are all shapes that change only how the answers are written, not what they say.
const ShapesKeepingMeaning = ShapeNumbersAsStrings | ShapeFloats | ShapeNullsAsPHPEmpty | ShapeExtraFields |
	ShapeISOTimes | ShapeMillisEpochs | ShapeStringBooleans | ShapeSignedOutgoing | ShapeCancelledSpelling |
	ShapeLowercaseStatus | ShapeLaravelResource | ShapePlainQueue | ShapeNoBatchMeta | ShapeWrappedRefresh |
	ShapeIndexedLists | ShapePersianDigits

var shapeNames = []string{"numbers-as-strings", "persian-digits", "floats", "nulls-as-php-empty", "extra-fields",
	"iso-times", "secondless-times", "millis-epochs", "string-booleans", "signed-outgoing", "cancelled-spelling",
	"lowercase-status", "laravel-resource", "plain-queue", "no-batch-meta", "no-has-more", "wrapped-refresh",
	"indexed-lists"}

// String names the shapes in the set, joined with '+'.
func (s Shape) String() string {
	var names []string
	for i := range shapeNames {
		if s&(1<<i) != 0 {
			names = append(names, shapeNames[i])
		}
	}
	if len(names) == 0 {
		return "documented"
	}
	return strings.Join(names, "+")
}

// EachShape lists the single shapes in s.
func (s Shape) EachShape() []Shape {
	var out []Shape
	for s != 0 {
		bit := Shape(1) << bits.TrailingZeros32(uint32(s))
		out = append(out, bit)
		s &^= bit
	}
	return out
}

// SetShapes makes every later answer take the shapes in s (0: the documented shapes).
func (s *Server) SetShapes(sh Shape) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shapes = sh
}

func (s *Server) currentShapes() Shape {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shapes
}

// reshape renders body in the shapes sh for endpoint ep. It works on the JSON, so it reshapes exactly what
// the simulator would have sent.
func reshape(body any, ep Endpoint, sh Shape, loc *time.Location) (json.RawMessage, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v = reshapeEndpoint(v, ep, sh)
	v = reshapeValue(v, "", sh, loc)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// reshapeEndpoint applies the shapes that move whole parts of one endpoint's answer.
func reshapeEndpoint(v any, ep Endpoint, sh Shape) any {
	top, ok := v.(map[string]any)
	if !ok {
		return v
	}
	switch ep {
	case EndpointRefreshToken:
		if sh&ShapeWrappedRefresh != 0 {
			return map[string]any{"status": json.Number("1"), "data": top}
		}
	case EndpointTransactions:
		if sh&ShapeNoHasMore != 0 {
			delete(top, "has_more")
		}
		if list, ok := top["data"].([]any); ok && sh&ShapeIndexedLists != 0 {
			obj := map[string]any{}
			for i, it := range list {
				obj[strconv.Itoa(i)] = it
			}
			top["data"] = obj
		}
		if sh&ShapeSignedOutgoing != 0 {
			if list, ok := top["data"].([]any); ok {
				for _, it := range list {
					signOutgoing(it)
				}
			} else if obj, ok := top["data"].(map[string]any); ok {
				for _, it := range obj {
					signOutgoing(it)
				}
			}
		}
	case EndpointSettlements, EndpointQueued:
		data, _ := top["data"].(map[string]any)
		page, _ := data["settlements"].(map[string]any)
		if page == nil {
			break
		}
		switch {
		case ep == EndpointQueued && sh&ShapePlainQueue != 0:
			if items, _ := page["data"].([]any); len(items) == 0 {
				top["data"] = []any{}
			} else {
				top["data"] = items
			}
		case sh&ShapeLaravelResource != 0:
			data["settlements"] = laravelResource(page)
		}
	case EndpointBatches, EndpointBatchItems:
		if sh&ShapeNoBatchMeta != 0 {
			delete(top, "meta")
		}
	}
	return top
}

// laravelResource rewrites an inlined paginator as a resource: data, links and meta apart.
func laravelResource(page map[string]any) map[string]any {
	links := map[string]any{"first": page["first"], "last": page["last"], "prev": page["prev"], "next": page["next"]}
	meta := map[string]any{}
	for _, k := range []string{"current_page", "from", "last_page", "path", "per_page", "to", "total"} {
		meta[k] = page[k]
	}
	return map[string]any{"data": page["data"], "links": links, "meta": meta}
}

// signOutgoing signs the amount and fee of an item whose money goes out.
func signOutgoing(it any) {
	m, ok := it.(map[string]any)
	if !ok || m["is_deposit"] != false {
		return
	}
	for _, k := range []string{"amount", "wage"} {
		if n, ok := m[k].(json.Number); ok && n != "0" && !strings.HasPrefix(string(n), "-") {
			m[k] = json.Number("-" + string(n))
		}
	}
}

// timeKeys are the members holding timestamps, by how they are written.
var (
	statementTimes  = map[string]bool{"created_at": true, "updated_at": true, "payment_date": true, "effective_at_jalali": true}
	settlementTimes = map[string]bool{"settlement_done_time_prediction": true}
	epochKeys       = map[string]bool{"effective_time_stamp": true}
	statusKeys      = map[string]bool{"status": true}
)

// reshapeValue applies the shapes that rewrite single values, member by member; key is the member's name.
func reshapeValue(v any, key string, sh Shape, loc *time.Location) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && sh&ShapeNullsAsPHPEmpty != 0 {
			return []any{}
		}
		for k, e := range x {
			x[k] = reshapeValue(e, k, sh, loc)
		}
		if sh&ShapeExtraFields != 0 && !indexed(x) {
			x["x_undocumented"] = map[string]any{"since": "1403/1/1", "flags": []any{json.Number("1")}}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = reshapeValue(e, key, sh, loc)
		}
		return x
	case nil:
		if sh&ShapeNullsAsPHPEmpty != 0 {
			return []any{}
		}
		return nil
	case bool:
		if sh&ShapeStringBooleans != 0 {
			if key == "is_deposit" {
				return map[bool]json.Number{true: "1", false: "0"}[x]
			}
			return strconv.FormatBool(x)
		}
		return x
	case json.Number:
		n := string(x)
		if sh&ShapeMillisEpochs != 0 && (epochKeys[key] || key == "created_at") && n != "0" {
			n += "000"
		}
		if sh&ShapeFloats != 0 && !strings.ContainsAny(n, ".eE") {
			n += ".0"
		}
		switch {
		case sh&ShapePersianDigits != 0:
			return numerals.Persian(n)
		case sh&ShapeNumbersAsStrings != 0:
			return n
		}
		return json.Number(n)
	case string:
		if statusKeys[key] && isSettlementStatus(x) {
			if sh&ShapeCancelledSpelling != 0 && x == "CANCELED" {
				x = "CANCELLED"
			}
			if sh&ShapeLowercaseStatus != 0 {
				x = strings.ToLower(x)
			}
		}
		if statementTimes[key] || settlementTimes[key] {
			if sh&ShapeISOTimes != 0 {
				if t, ok := simTime(x, loc); ok {
					x = t.Format("2006-01-02T15:04:05-07:00")
				}
			}
			if sh&ShapeSecondlessTimes != 0 && (key == "created_at" || key == "updated_at") {
				if clock, date, ok := strings.Cut(x, " - "); ok && strings.Count(clock, ":") == 2 {
					x = clock[:strings.LastIndex(clock, ":")] + " - " + date
				}
			}
			if sh&ShapePersianDigits != 0 {
				x = numerals.Persian(x)
			}
		}
		return x
	}
	return v
}

// indexed says whether m is a list written as an object (ShapeIndexedLists): PHP would add no member to it.
func indexed(m map[string]any) bool {
	for k := range m {
		if _, err := strconv.Atoi(k); err != nil {
			return false
		}
	}
	return len(m) > 0
}

func isSettlementStatus(s string) bool {
	switch s {
	case "INIT", "PENDING", "SUBMITTED", "DONE", "FAILED", "CANCELED":
		return true
	}
	return false
}

// simTime reads back a timestamp the simulator wrote: the statement's "10:00:00 - 1403/1/12", the v3
// "1403/01/12 10:00:00" or the v2.1 "2024-03-31 10:00:00", all Tehran time.
func simTime(s string, loc *time.Location) (time.Time, bool) {
	var h, mi, sec, y, mo, d int
	switch {
	case strings.Contains(s, " - "):
		if _, err := fmt.Sscanf(s, "%d:%d:%d - %d/%d/%d", &h, &mi, &sec, &y, &mo, &d); err != nil {
			return time.Time{}, false
		}
	case strings.Contains(s, "/"):
		if _, err := fmt.Sscanf(s, "%d/%d/%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec); err != nil {
			return time.Time{}, false
		}
	default:
		t, err := time.ParseInLocation(time.DateTime, s, loc)
		return t, err == nil
	}
	return ptime.Date(y, ptime.Month(mo), d, h, mi, sec, 0, loc).Time(), true
}
