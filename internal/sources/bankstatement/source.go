package bankstatement

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // the bank's zone must not depend on the host's tz database

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/sources"
)

// Name is the provider's name in the sources file: `provider: bankstatement`.
const Name = "bankstatement"

// FeedStatements is the one feed: the statement files in the source's directory.
const FeedStatements = "statements"

// Formats of a statement file.
const (
	FormatAuto    = "auto"    // by extension: .xml is camt.053, .csv and .txt are CSV
	FormatCAMT053 = "camt053" // ISO 20022 camt.053
	FormatCSV     = "csv"     // a CSV export, read with the source's csv mapping
)

// MaxFileSize bounds a statement file: a bigger one is refused (and alerted) unread.
const MaxFileSize = 64 << 20

// Provider is a bank account's statements as a mizan source (sources.Provider), registered as "bankstatement".
type Provider struct{}

var _ sources.Provider = Provider{}

// Feeds is the statement files, whose facts go to the bank topic.
func (Provider) Feeds() []sources.Feed {
	return []sources.Feed{{Name: FeedStatements, Topic: events.TopicBank}}
}

// block is a bank-statement source's own fields in the sources file.
type block struct {
	IBAN     string      `yaml:"iban"`
	Dir      string      `yaml:"dir"`
	Format   string      `yaml:"format"`
	Currency string      `yaml:"currency"`
	TimeZone string      `yaml:"time_zone"`
	CSV      *CSVMapping `yaml:"csv"`
}

// Configure reads a bank-statement source's fields: iban (the account; required), dir (where its statement
// files are dropped; required), format (auto, camt053 or csv; default auto), currency (the ledger's for the
// account; default IRT, rial statements read as tomans), time_zone (the bank's; default Asia/Tehran) and csv
// (the column mapping of CSV exports).
func (Provider) Configure(b sources.Block) (sources.Settings, error) {
	var f block
	if err := b.Decode(&f); err != nil {
		return nil, err
	}
	s := Settings{IBAN: events.NormalizeIBAN(f.IBAN), Dir: f.Dir, Format: cmp.Or(f.Format, FormatAuto),
		Currency: cmp.Or(f.Currency, events.CurrencyToman), CSV: f.CSV}
	if !events.IsIBAN(s.IBAN) {
		return nil, fmt.Errorf("field iban: %q is not an IBAN", f.IBAN)
	}
	if strings.TrimSpace(s.Dir) == "" {
		return nil, errors.New("field dir: the directory the statement files are dropped into is required")
	}
	switch s.Format {
	case FormatAuto, FormatCAMT053, FormatCSV:
	default:
		return nil, fmt.Errorf("field format: %q is not auto, camt053 or csv", s.Format)
	}
	if s.Format == FormatCSV && s.CSV == nil {
		return nil, errors.New("field csv: format csv needs the column mapping")
	}
	if s.CSV != nil {
		if err := s.CSV.check(); err != nil {
			return nil, err
		}
	}
	if len(s.Currency) != 3 || strings.ToUpper(s.Currency) != s.Currency {
		return nil, fmt.Errorf("field currency: %q is not a currency code such as IRT or IRR", s.Currency)
	}
	var err error
	if s.Zone, err = time.LoadLocation(cmp.Or(f.TimeZone, "Asia/Tehran")); err != nil {
		return nil, fmt.Errorf("field time_zone: %v", err)
	}
	return s, nil
}

// Settings is one bank-statement source's checked settings.
type Settings struct {
	IBAN     string         // the account, normalized
	Dir      string         // where its statement files are dropped
	Format   string         // FormatAuto, FormatCAMT053 or FormatCSV
	Currency string         // the ledger's currency for the account
	Zone     *time.Location // the bank's time zone
	CSV      *CSVMapping    // how CSV exports are read; nil: CSV files are refused
	// FS, if set, is where the files are read instead of Dir (tests).
	FS fs.FS
}

// Account is the IBAN: a bank-statement source's events are keyed by it, and a registered source whose
// account is an IBAN is what makes the reconciler wait for that account's credits (docs/accounts.md).
func (s Settings) Account() string { return s.IBAN }

// Open makes the Source. It does no I/O.
func (s Settings) Open(env sources.Env) (sources.Source, error) {
	fsys := s.FS
	if fsys == nil {
		fsys = os.DirFS(s.Dir)
	}
	if s.Zone == nil {
		s.Zone = time.UTC
	}
	log := env.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{s: s, fsys: fsys, log: log}, nil
}

// Source reads one account's statement files.
type Source struct {
	s    Settings
	fsys fs.FS
	log  *slog.Logger
}

var _ sources.Source = (*Source)(nil)

// cursor remembers the files already published, by the SHA-256 of their content: a file dropped again (under
// any name) is not read again, and one changed in place is a new file. Only files still in the directory are
// remembered; one dropped again after it was removed is read again, and its facts, the same facts, are
// skipped by the reconciler.
type cursor struct {
	Files map[string]seenFile `json:"files"`
}

type seenFile struct {
	Name        string `json:"name"`
	Quarantined bool   `json:"quarantined,omitempty"`
	To          string `json:"to,omitempty"` // the last day the file's statements cover
}

// found is one new file, read: its statements' facts, or why it was refused.
type found struct {
	name, hash string
	from, to   time.Time
	events     []events.Event
	refused    *events.Quarantined
}

// Poll reads the statement files dropped into the directory since the last poll: each new file, in the order
// of the days it covers, is one step — all its facts, or, if anything in it cannot be read, none of them and
// a quarantined fact naming the file, the line and what is wrong (never half a file). A file still being
// written (modified after req.Cutoff) waits for the next poll. The watermark says every file in the
// directory by req.Cutoff is published; how far the bank's statements reach is in the facts themselves.
func (src *Source) Poll(ctx context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	if req.Feed != FeedStatements {
		return sources.Failed(fmt.Errorf("%s has no feed %q: %w", Name, req.Feed, sources.ErrUnknownFeed))
	}
	return func(yield func(sources.Step, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(sources.Step{}, err)
			return
		}
		cur := cursor{Files: map[string]seenFile{}}
		if len(req.Cursor) > 0 {
			if err := json.Unmarshal(req.Cursor, &cur); err != nil || cur.Files == nil {
				src.log.Warn("the saved cursor cannot be read; every file is read again (its facts are skipped by id)",
					"err", err)
				cur = cursor{Files: map[string]seenFile{}}
			}
		}
		todo, present, err := src.scan(ctx, req, cur)
		if err != nil {
			yield(sources.Step{}, err)
			return
		}
		// Forget what is no longer in the directory.
		for h := range cur.Files {
			if !present[h] {
				delete(cur.Files, h)
			}
		}
		if len(todo) == 0 {
			b, _ := json.Marshal(cur)
			yield(sources.Step{Cursor: b, Watermark: src.watermark(req, 0, "")}, nil)
			return
		}
		published, last := 0, ""
		for i, f := range todo {
			if err := ctx.Err(); err != nil {
				yield(sources.Step{}, err)
				return
			}
			evs := f.events
			seen := seenFile{Name: f.name}
			if f.refused != nil {
				ev, err := f.refused.Event()
				if err != nil {
					yield(sources.Step{}, err)
					return
				}
				evs, seen.Quarantined = []events.Event{ev}, true
				src.log.Warn("statement file refused", "file", f.name, "reason", f.refused.Reason)
			} else {
				seen.To = f.to.Format(events.DateLayout)
			}
			cur.Files[f.hash] = seen
			b, _ := json.Marshal(cur)
			published += len(evs)
			if len(evs) > 0 {
				last = evs[len(evs)-1].ID
			}
			step := sources.Step{Events: evs, Cursor: b}
			if i == len(todo)-1 {
				step.Watermark = src.watermark(req, published, last)
			}
			if !yield(step, nil) {
				return
			}
		}
	}
}

func (src *Source) watermark(req sources.PollRequest, items int, last string) *events.Watermark {
	return &events.Watermark{Provider: Name, Account: src.s.IBAN, Feed: FeedStatements, Through: req.Cutoff,
		PolledAt: req.Start, Items: items, LastEvent: last}
}

// scan lists the directory and reads every file not published yet. present holds the hashes of every file in
// it, read now or before.
func (src *Source) scan(ctx context.Context, req sources.PollRequest, cur cursor) ([]found, map[string]bool, error) {
	entries, err := fs.ReadDir(src.fsys, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read the statements directory %s: %w", src.s.Dir, err)
	}
	present := map[string]bool{}
	var todo []found
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		name := e.Name()
		if e.IsDir() || skipped(name) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we looked
		}
		if err != nil {
			return nil, nil, fmt.Errorf("statement file %s: %w", name, err)
		}
		if !info.Mode().IsRegular() || info.ModTime().After(req.Cutoff) {
			continue // not a file, or still being written: the next poll reads it whole
		}
		if info.Size() > MaxFileSize {
			hash := "size:" + fmt.Sprint(info.Size()) + ":" + info.ModTime().UTC().Format(time.RFC3339Nano) + ":" + name
			present[hash] = true
			if _, done := cur.Files[hash]; !done {
				todo = append(todo, src.refuse(req, name, hash, nil, errorAt(0, "%d bytes, more than the %d a statement file may have",
					info.Size(), MaxFileSize)))
			}
			continue
		}
		data, err := fs.ReadFile(src.fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read statement file %s: %w", name, err)
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		if present[hash] {
			continue // the same file under another name
		}
		present[hash] = true
		if _, done := cur.Files[hash]; done {
			continue
		}
		todo = append(todo, src.read(req, name, hash, data))
	}
	// Statements in the order of the days they cover, so that each one's balances are checked after the lines
	// before them; refused files first.
	slices.SortFunc(todo, func(a, b found) int {
		return cmp.Or(boolOrder(a.refused == nil, b.refused == nil), a.from.Compare(b.from), a.to.Compare(b.to),
			strings.Compare(a.name, b.name))
	})
	return todo, present, nil
}

func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// skipped says whether a file is not one to read: hidden, or a copy still in flight under a temporary name
// (rclone, rsync, browsers and SFTP clients write those, then rename).
func skipped(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp":
		return true
	}
	return false
}

// read parses one file into its facts, or refuses it whole.
func (src *Source) read(req sources.PollRequest, name, hash string, data []byte) found {
	format := src.s.Format
	if format == FormatAuto {
		switch strings.ToLower(path.Ext(name)) {
		case ".xml", ".053":
			format = FormatCAMT053
		case ".csv", ".txt":
			format = FormatCSV
		default:
			return src.refuse(req, name, hash, data, errorAt(0, "not a statement file: %q is neither .xml (camt.053) nor .csv", path.Ext(name)))
		}
	}
	var sts []statement
	switch format {
	case FormatCAMT053:
		var err error
		if sts, err = parseCAMT053(name, data, src.s.IBAN); err != nil {
			return src.refuse(req, name, hash, data, err)
		}
	case FormatCSV:
		if src.s.CSV == nil {
			return src.refuse(req, name, hash, data, errorAt(0, "a CSV file, and the source has no csv mapping"))
		}
		st, err := parseCSV(name, data, *src.s.CSV, src.s.IBAN, src.s.Currency)
		if err != nil {
			return src.refuse(req, name, hash, data, err)
		}
		sts = []statement{st}
	}
	f := found{name: name, hash: hash}
	slices.SortFunc(sts, func(a, b statement) int { return cmp.Or(a.from.Compare(b.from), a.to.Compare(b.to)) })
	conv := converter{ledger: src.s.Currency}
	for _, st := range sts {
		lines, balances, err := st.facts(Name, conv, src.s.Zone)
		if err != nil {
			return src.refuse(req, name, hash, data, err)
		}
		evs, err := statementEvents(lines, balances)
		if err != nil {
			return src.refuse(req, name, hash, data, errorAt(0, "%v", err))
		}
		f.events = append(f.events, evs...)
		if f.from.IsZero() || st.from.Before(f.from) {
			f.from = st.from
		}
		if st.to.After(f.to) {
			f.to = st.to
		}
	}
	return f
}

// statementEvents orders a statement's facts as they must be applied: the opening balance, the lines, the
// closing balance.
func statementEvents(lines []events.BankLine, balances []events.BankBalance) ([]events.Event, error) {
	var out []events.Event
	add := func(ev events.Event, err error) error {
		if err == nil {
			out = append(out, ev)
		}
		return err
	}
	for _, b := range balances {
		if b.Kind == events.BankBalanceOpening {
			if err := add(b.Event()); err != nil {
				return nil, err
			}
		}
	}
	for _, l := range lines {
		if err := add(l.Event()); err != nil {
			return nil, err
		}
	}
	for _, b := range balances {
		if b.Kind == events.BankBalanceClosing {
			if err := add(b.Event()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// maxQuoted bounds the text of the refused line kept in the quarantined fact.
const maxQuoted = 2 << 10

// refuse is the quarantined fact of a file that cannot be read: its name, where in it and what is wrong, and
// the refused line's text.
func (src *Source) refuse(req sources.PollRequest, name, hash string, data []byte, err error) found {
	raw := map[string]any{"file": name, "sha256": hash}
	var fe *fileError
	if errors.As(err, &fe) && fe.line > 0 {
		raw["line"] = fe.line
		if text := lineOf(data, fe.line); text != "" {
			raw["text"] = text
		}
	}
	b, _ := json.Marshal(raw)
	return found{name: name, hash: hash, refused: &events.Quarantined{Provider: Name, Account: src.s.IBAN,
		Feed: FeedStatements, Endpoint: "file " + name, ItemID: name,
		Reason: fmt.Sprintf("%s: %v; nothing of the file is applied", name, err), ObservedAt: req.Start.UTC(), Raw: b}}
}

// lineOf is the n-th line of data (from 1), cut to maxQuoted bytes.
func lineOf(data []byte, n int) string {
	lines := strings.SplitN(string(data), "\n", n+1)
	if n < 1 || n > len(lines) {
		return ""
	}
	line := strings.TrimRight(lines[n-1], "\r")
	if len(line) > maxQuoted {
		line = strings.ToValidUTF8(line[:maxQuoted], "")
	}
	return line
}
