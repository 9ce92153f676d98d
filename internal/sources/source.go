// Package sources is the one interface every provider implements, so that the poller, the configuration and
// the state store never need to know which provider they are running.
//
// A provider (internal/sources/vandar, internal/sources/yabandpay, …) is one folder. It declares its feeds,
// decodes and checks its own fields of the sources file (Configure), and opens a Source for one account,
// which polls one feed at a time from an opaque cursor: each step of a poll returns the events (facts) it
// read, the cursor to save once they are published, and — by going on — whether more remain. This is the
// shape of formance payments' connectors (`fetchNextPayments → {items, newState, hasMore}`), written as a Go
// iterator so that a provider may keep in memory what one poll needs between its steps (Vandar's statement
// holds items until their effective time) without the poller knowing.
//
// A Registry maps the `provider:` names of the sources file to implementations; internal/sources/registry is
// the one place that lists them, and adding a source touches only its folder, that list and the docs
// (docs/sources.md).
package sources

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"slices"
	"time"

	"github.com/mizanhq/mizan/internal/events"
)

// Provider is one kind of source, registered under the name the sources file gives it in `provider:`.
type Provider interface {
	// Feeds lists the feeds a source of this provider can poll, in the order a one-shot run polls them.
	Feeds() []Feed
	// Configure decodes and checks this provider's own fields of one source of the sources file. Its errors
	// name the field ("field business: …"); the caller adds the source's name.
	Configure(b Block) (Settings, error)
}

// Feed is one kind of fact a provider reads, and the topic its facts (and what it quarantines) go to.
type Feed struct {
	Name  string // e.g. events.FeedStatement; the key under `feeds:` in the sources file
	Topic string // e.g. events.TopicStatement
}

// Settings is one source's checked provider settings: what Configure read. It holds the source's
// credentials, so an implementation must not print them (use Secret).
type Settings interface {
	// Account is the provider account the source reads (a business slug, a merchant id). With the provider's
	// name it keys the source's events; two sources may not read one account.
	Account() string
	// Open makes the Source that polls the account. It does no I/O: credentials are read on first use.
	Open(env Env) (Source, error)
}

// Env is what a source is given to run with.
type Env struct {
	// Name is the source's name in the sources file: the key of its cursors and credentials.
	Name string
	// Credentials is the source's sealed credential store.
	Credentials Credentials
	// Log receives the source's own messages (retries, refreshes); never a secret.
	Log *slog.Logger
	// Now is the clock. Required.
	Now func() time.Time
}

// Source polls one account of one provider.
type Source interface {
	// Poll runs one poll of one feed. It yields steps until the poll is done; the caller publishes each
	// step's events, then saves its cursor, and only then asks for the next step (the iterator does not go
	// on before the loop body returns). A step yielded with an error is the last: its events and cursor are
	// still published and saved first — what was read is never thrown away — and the error is the poll's.
	// Breaking out of the loop stops the poll and releases what it holds.
	Poll(ctx context.Context, req PollRequest) iter.Seq2[Step, error]
}

// PollRequest is one poll of one feed.
type PollRequest struct {
	// Feed is one of the provider's Feeds.
	Feed string
	// Cursor is what the feed's last saved step said (JSON the source owns), or nil before its first poll.
	Cursor []byte
	// Start is when the poll began.
	Start time.Time
	// Cutoff is Start less the poller's settle delay: only what the provider finished writing by then is
	// published, so that the watermark ("everything up to Cutoff is published") is true.
	Cutoff time.Time
	// RereadWindow is how far back a feed re-reads what it has already passed, to see status changes.
	RereadWindow time.Duration
	// PageSize is the page size to ask for, where the provider lets the client choose; 0: the provider's.
	PageSize int
}

// Step is one step of a poll: the facts read, and where the feed resumes once they are published.
type Step struct {
	// Events are published, in order, on the feed's topic — quarantined items (events.Quarantined) among
	// them, in the order they were read.
	Events []events.Event
	// Cursor is saved once Events are acknowledged; nil leaves the saved cursor as it is.
	Cursor []byte
	// Watermark, on a poll's last step, is what the poll vouches for ("every fact up to Through is
	// published"); the poller fills in the source's name and publishes it after Cursor is saved. Nil claims
	// nothing: a poll that could not read all it should leaves the watermark where it was.
	Watermark *events.Watermark
}

// Prober is a Source that can describe, read-only, what each of its endpoints answers: `poller probe`, for
// onboarding a real account. A probe publishes nothing and saves no cursor; it may refresh and store
// credentials as a poll would.
type Prober interface {
	// Probe calls each endpoint once and reports what it understood. rec, if not nil, receives each answer
	// (redacted of secrets and personal data) to keep as a test fixture.
	Probe(ctx context.Context, rec Recorder) (Report, error)
}

// Recorder keeps what a probe received: name is a file name (e.g. "statement.json"), body the redacted answer.
type Recorder interface {
	Record(name string, body []byte) error
}

// Report is what a probe understood.
type Report struct {
	Endpoints []EndpointReport
	// Notes are facts about the source as a whole: token expiry, the account's identity.
	Notes []string
}

// OK says whether the poller would handle everything the probe saw.
func (r Report) OK() bool {
	return !slices.ContainsFunc(r.Endpoints, func(e EndpointReport) bool { return len(e.Problems) > 0 })
}

// EndpointReport is what one endpoint answered.
type EndpointReport struct {
	Endpoint string // method and path, e.g. "GET /v3/business/acme/transaction"
	Status   int    // HTTP status (0: no answer)
	Shape    string // the answer's JSON shape, e.g. "{status, has_more, data: [12 × object]}"
	Count    int    // items in the answer
	Paging   string // how it pages, as the answer says
	First    string // the first item, normalized (the fact mizan would publish), as JSON
	// Problems are what the poller would not handle: unknown statuses, fields or shapes, a refusal, an
	// item it would quarantine. Empty means the poller handles this endpoint.
	Problems []string
	// Notes are what is worth knowing but handled (a field the decoder tolerates, a missing optional one).
	Notes []string
}

// Registry maps the provider names the sources file uses to their implementations.
type Registry map[string]Provider

// Lookup returns the provider called name.
func (r Registry) Lookup(name string) (Provider, bool) {
	p, ok := r[name]
	return p, ok
}

// Names lists the registered names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// FeedNames lists a provider's feed names in its order.
func FeedNames(p Provider) []string {
	var out []string
	for _, f := range p.Feeds() {
		out = append(out, f.Name)
	}
	return out
}

// FindFeed returns the provider's feed called name.
func FindFeed(p Provider, name string) (Feed, bool) {
	i := slices.IndexFunc(p.Feeds(), func(f Feed) bool { return f.Name == name })
	if i < 0 {
		return Feed{}, false
	}
	return p.Feeds()[i], true
}

// ErrUnknownFeed is what a Source's Poll yields for a feed it does not have.
var ErrUnknownFeed = errors.New("unknown feed")

// Single yields one step: for a feed whose poll is one request, or a poll that fails before reading anything.
func Single(s Step, err error) iter.Seq2[Step, error] {
	return func(yield func(Step, error) bool) { yield(s, err) }
}

// Failed yields nothing but err.
func Failed(err error) iter.Seq2[Step, error] { return Single(Step{}, err) }
