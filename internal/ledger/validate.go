package ledger

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// batch is a validated batch of entries: what Apply knows before asking the database anything.
type batch struct {
	entries []prepared
	// index is the position of each key's first occurrence.
	index map[string]int
	// accounts are the distinct accounts the batch uses, by code, in codes order (sorted).
	accounts map[string]Account
	codes    []string
	// lookup are the keys to look up in the database: the batch's own keys and those its entries reverse.
	lookup []string
	// reversed are the distinct keys the batch's entries reverse.
	reversed []string
}

// prepared is one entry of a batch, checked and normalized.
type prepared struct {
	*Entry
	at       time.Time // EffectiveAt in UTC at the microsecond precision PostgreSQL stores
	metadata string    // Metadata as a JSON object
	dupOf    int       // position of an earlier entry with the same key, or -1
}

// newBatch checks every entry on its own and against the rest of the batch.
func newBatch(entries []Entry) (*batch, error) {
	b := &batch{
		entries:  make([]prepared, 0, len(entries)),
		index:    make(map[string]int, len(entries)),
		accounts: make(map[string]Account),
	}
	seenReversed := make(map[string]bool)
	for i := range entries {
		p, err := prepare(&entries[i])
		if err != nil {
			return nil, err
		}
		key := p.IdempotencyKey
		if first, ok := b.index[key]; ok {
			if !sameContent(&b.entries[first], &p) {
				return nil, entryErr(key, ErrConflict, "given twice in the batch with different content")
			}
			p.dupOf = first
		} else {
			b.index[key] = i
			b.lookup = append(b.lookup, key)
		}
		for _, posting := range p.Postings {
			a := posting.Account
			if known, ok := b.accounts[a.Code]; !ok {
				b.accounts[a.Code] = a
				b.codes = append(b.codes, a.Code)
			} else if known != a {
				return nil, entryErr(key, ErrAccountMismatch, "account %q is %s %s here but %s %s elsewhere in the batch",
					a.Code, a.Type, a.Currency, known.Type, known.Currency)
			}
		}
		if r := p.Reverses; r != "" && !seenReversed[r] {
			seenReversed[r] = true
			b.reversed = append(b.reversed, r)
			b.lookup = append(b.lookup, r)
		}
		b.entries = append(b.entries, p)
	}
	slices.Sort(b.codes)
	return b, nil
}

// prepare checks an entry on its own: everything that makes it an entry the database would refuse.
func prepare(e *Entry) (prepared, error) {
	key := e.IdempotencyKey
	p := prepared{Entry: e, dupOf: -1}
	if key == "" {
		return p, &EntryError{Key: key, Err: errorf(ErrInvalid, "empty idempotency key")}
	}
	if err := checkText("idempotency key", key, MaxKeyLen); err != nil {
		return p, &EntryError{Key: key, Err: err}
	}
	if err := checkText("description", e.Description, 0); err != nil {
		return p, &EntryError{Key: key, Err: err}
	}
	if e.EffectiveAt.IsZero() {
		return p, entryErr(key, ErrInvalid, "no effective time")
	}
	if y := e.EffectiveAt.UTC().Year(); y < 1 || y > 9999 {
		return p, entryErr(key, ErrInvalid, "effective time %v out of range", e.EffectiveAt)
	}
	p.at = e.EffectiveAt.UTC().Truncate(time.Microsecond)

	p.metadata = "{}"
	if e.Metadata != nil {
		m, err := json.Marshal(e.Metadata)
		if err != nil {
			return p, entryErr(key, ErrInvalid, "metadata: %v", err)
		}
		// jsonb cannot hold U+0000, which encoding/json writes as \u0000.
		if strings.Contains(string(m), `\u0000`) {
			return p, entryErr(key, ErrInvalid, "metadata contains a NUL character")
		}
		p.metadata = string(m)
	}
	if e.Reverses == key {
		return p, entryErr(key, ErrReversal, "an entry cannot reverse itself")
	}
	if e.Reverses != "" {
		if err := checkText("reversed key", e.Reverses, MaxKeyLen); err != nil {
			return p, &EntryError{Key: key, Err: err}
		}
	}

	if len(e.Postings) < 2 {
		return p, entryErr(key, ErrUnbalanced, "%d posting(s); an entry needs at least two", len(e.Postings))
	}
	sums := make(map[string]decimal.Decimal, 1)
	accounts := make(map[string]Account, len(e.Postings))
	for i, posting := range e.Postings {
		a := posting.Account
		if a.Code == "" {
			return p, entryErr(key, ErrInvalid, "posting %d: empty account code", i+1)
		}
		if err := checkText("account code", a.Code, MaxKeyLen); err != nil {
			return p, entryErr(key, ErrInvalid, "posting %d: %v", i+1, err)
		}
		if !a.Type.Valid() {
			return p, entryErr(key, ErrInvalid, "posting %d: account %q: unknown type %q", i+1, a.Code, a.Type)
		}
		if !validCurrency(a.Currency) {
			return p, entryErr(key, ErrInvalid, "posting %d: account %q: currency %q is not three upper-case letters",
				i+1, a.Code, a.Currency)
		}
		if known, ok := accounts[a.Code]; ok && known != a {
			return p, entryErr(key, ErrAccountMismatch, "account %q appears as %s %s and as %s %s",
				a.Code, known.Type, known.Currency, a.Type, a.Currency)
		}
		accounts[a.Code] = a
		if posting.Amount.IsZero() {
			return p, entryErr(key, ErrInvalid, "posting %d: zero amount on %q", i+1, a.Code)
		}
		sums[a.Currency] = sums[a.Currency].Add(posting.Amount)
	}
	for cur, sum := range sums {
		if !sum.IsZero() {
			return p, entryErr(key, ErrUnbalanced, "%s postings sum to %s", cur, sum)
		}
	}
	return p, nil
}

// sameContent reports whether two entries with the same key say the same thing.
func sameContent(a, b *prepared) bool {
	if !a.at.Equal(b.at) || a.Description != b.Description || a.Reverses != b.Reverses ||
		a.metadata != b.metadata || len(a.Postings) != len(b.Postings) {
		return false
	}
	for i := range a.Postings {
		if a.Postings[i].Account != b.Postings[i].Account || !a.Postings[i].Amount.Equal(b.Postings[i].Amount) {
			return false
		}
	}
	return true
}

// line is a posting as an account code and amount, for comparing a reversal with what it reverses.
type line struct {
	code   string
	amount decimal.Decimal
}

// negates reports whether rev's lines are orig's with the signs flipped, one for one.
func negates(rev, orig []line) bool {
	if len(rev) != len(orig) {
		return false
	}
	neg := make([]line, len(orig))
	for i, l := range orig {
		neg[i] = line{l.code, l.amount.Neg()}
	}
	sortLines(neg)
	r := append([]line(nil), rev...)
	sortLines(r)
	for i := range r {
		if r[i].code != neg[i].code || !r[i].amount.Equal(neg[i].amount) {
			return false
		}
	}
	return true
}

func linesOf(ps []Posting) []line {
	ls := make([]line, len(ps))
	for i, p := range ps {
		ls[i] = line{p.Account.Code, p.Amount}
	}
	return ls
}

// checkText refuses what a PostgreSQL text column cannot hold (invalid UTF-8, NUL) and, if max > 0,
// values longer than max bytes.
func checkText(what, s string, max int) error {
	if !utf8.ValidString(s) {
		return errorf(ErrInvalid, "%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errorf(ErrInvalid, "%s contains a NUL byte", what)
	}
	if max > 0 && len(s) > max {
		return errorf(ErrInvalid, "%s is %d bytes long, more than %d", what, len(s), max)
	}
	return nil
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func sortLines(ls []line) {
	slices.SortFunc(ls, func(a, b line) int {
		if c := strings.Compare(a.code, b.code); c != 0 {
			return c
		}
		return a.amount.Cmp(b.amount)
	})
}
