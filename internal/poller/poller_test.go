package poller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/pgtest"
	"github.com/mizanhq/mizan/internal/poller"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
)

// The poller is provider-agnostic: nothing it imports, directly or not, is a provider's package or the
// registry that lists them (cmd/poller passes that in).
func TestThePollerImportsNoProvider(t *testing.T) {
	t.Parallel()
	const module = "github.com/mizanhq/mizan/"
	seen := map[string]bool{}
	var walk func(path string)
	walk = func(path string) {
		if seen[path] || !strings.HasPrefix(path, module) {
			return
		}
		seen[path] = true
		pkg, err := build.Import(path, ".", 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			walk(imp)
		}
	}
	walk(module + "internal/poller")
	for path := range seen {
		rel := strings.TrimPrefix(path, module)
		if strings.HasPrefix(rel, "internal/sources/") {
			t.Errorf("the poller imports %s", rel)
		}
	}
}

// The test's own provider: a source whose polls replay a script — what a third source (bank statements, say)
// looks like to the poller.
const lines = "lines"

type scripted struct{ feeds []sources.Feed }

func (p scripted) Feeds() []sources.Feed { return p.feeds }
func (scripted) Configure(sources.Block) (sources.Settings, error) {
	return nil, errors.New("not from a file")
}

type step struct {
	sources.Step
	err    error
	before func() // runs just before the step is yielded, while the poll is under way
}

// script says what a poll yields, given its request.
type script func(req sources.PollRequest) []step

type scriptSettings struct {
	account string
	script  script
	opened  chan sources.Env
}

func (s scriptSettings) Account() string { return s.account }
func (s scriptSettings) Open(env sources.Env) (sources.Source, error) {
	if s.opened != nil {
		s.opened <- env
	}
	return scriptSource{s.script}, nil
}

type scriptSource struct{ script script }

func (s scriptSource) Poll(_ context.Context, req sources.PollRequest) iter.Seq2[sources.Step, error] {
	return func(yield func(sources.Step, error) bool) {
		for _, st := range s.script(req) {
			if st.before != nil {
				st.before()
			}
			if !yield(st.Step, st.err) {
				return
			}
		}
	}
}

// recorder is the Publisher: it keeps what was published and, at that moment, the feed's saved cursor —
// which is how the tests see the order of publishing and saving. It fails when fail says so.
type recorder struct {
	cursors *pollstate.Cursors
	fail    func(topic string, evs []events.Event) error

	mu        sync.Mutex
	published []published
}

type published struct {
	topic  string
	evs    []events.Event
	cursor string // the feed's saved cursor when they were published
}

func (r *recorder) Publish(ctx context.Context, topic string, evs []events.Event) error {
	if r.fail != nil {
		if err := r.fail(topic, evs); err != nil {
			return err
		}
	}
	cur, err := r.cursors.Load(ctx, "scripted-acme", lines)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, published{topic, evs, string(cur)})
	return nil
}

func (r *recorder) all() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.published)
}

type bundle struct {
	pool *pgxpool.Pool
	pub  *recorder
	p    *poller.Poller
	src  config.Source
}

func setup(t *testing.T, s script, fail func(string, []events.Event) error, opened chan sources.Env) *bundle {
	t.Helper()
	return setupWith(t, poller.Config{SettleDelay: -1}, (&sourcetest.LogBuffer{}).Logger(), s, fail, opened)
}

// setupWith is setup with the poller's configuration and logger.
func setupWith(t *testing.T, cfg poller.Config, log *slog.Logger, s script, fail func(string, []events.Event) error,
	opened chan sources.Env) *bundle {
	t.Helper()
	pool, _ := pgtest.NewDB(t)
	pub := &recorder{cursors: pollstate.NewCursors(pool), fail: fail}
	providers := sources.Registry{"scripted": scripted{feeds: []sources.Feed{{Name: lines, Topic: "test.lines.v1"}}}}
	src := config.Source{Name: "scripted-acme", Provider: "scripted", Feeds: map[string]string{lines: "@every 1m"},
		Settings: scriptSettings{account: "acme", script: s, opened: opened}}
	p, err := poller.New(cfg, providers, config.Sources{Sources: []config.Source{src}}, pool,
		pub, "poller-test-key-0123456789", log)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{pool: pool, pub: pub, p: p, src: src}
}

func event(t *testing.T, id string) events.Event {
	t.Helper()
	ev, err := events.Quarantined{Provider: "scripted", Account: "acme", Feed: lines, Endpoint: "GET /lines",
		ItemID: id, Reason: "a test line", ObservedAt: time.Now(), Raw: json.RawMessage(`{}`)}.Event()
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func cursor(n int) []byte { return []byte(fmt.Sprintf(`{"after": %d}`, n)) }

// Each step's events are published on its feed's topic before its cursor is saved, and the next step is
// taken only after; the watermark goes last, with the source's name filled in. The source is opened with its
// own name and a credential store that lands, sealed, in PostgreSQL.
func TestEachStepIsPublishedBeforeItsCursorIsSaved(t *testing.T) {
	t.Parallel()
	var requests []sources.PollRequest
	opened := make(chan sources.Env, 1)
	b := setup(t, func(req sources.PollRequest) []step {
		requests = append(requests, req)
		return []step{
			{Step: sources.Step{Events: []events.Event{event(t, "1"), event(t, "2")}, Cursor: cursor(2)}},
			{Step: sources.Step{Events: []events.Event{event(t, "3")}, Cursor: cursor(3)}},
			{Step: sources.Step{Cursor: cursor(3), Watermark: &events.Watermark{Through: req.Cutoff, Items: 3}}},
		}
	}, nil, opened)
	ctx := t.Context()
	if err := b.p.Once(ctx, ""); err != nil {
		t.Fatal(err)
	}
	got := b.pub.all()
	if len(got) != 3 {
		t.Fatalf("%d publishes, want 3", len(got))
	}
	want := []struct{ topic, cursor string }{
		{"test.lines.v1", ""}, {"test.lines.v1", `{"after": 2}`}, {events.TopicWatermark, `{"after": 3}`},
	}
	for i, w := range want {
		if got[i].topic != w.topic || got[i].cursor != w.cursor {
			t.Errorf("publish %d: to %s with the cursor at %q; want to %s with it at %q", i, got[i].topic,
				got[i].cursor, w.topic, w.cursor)
		}
	}
	wm, err := events.DecodeData[events.Watermark](got[2].evs[0])
	if err != nil {
		t.Fatal(err)
	}
	if wm.Source != "scripted-acme" || wm.Provider != "scripted" || wm.Account != "acme" || wm.Feed != lines {
		t.Errorf("watermark %+v: want the source, provider, account and feed filled in", wm)
	}

	// The next poll starts from the saved cursor.
	if err := b.p.Once(ctx, "scripted-acme"); err != nil {
		t.Fatal(err)
	}
	if len(requests) != 2 || string(requests[1].Cursor) != `{"after": 3}` || requests[0].Cursor != nil {
		t.Errorf("the polls were given cursors %q and %q", requests[0].Cursor, requests[1].Cursor)
	}

	env := <-opened
	if env.Name != "scripted-acme" || env.Credentials == nil || env.Now == nil || env.Log == nil {
		t.Fatalf("opened with %+v", env)
	}
	if err := env.Credentials.Save(ctx, map[string]sources.Credential{"key": {Value: []byte("s3cret-9f2c")}}); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := b.pool.QueryRow(ctx, `SELECT sealed FROM poller.credentials WHERE source = 'scripted-acme' AND name = 'key'`).
		Scan(&sealed); err != nil || strings.Contains(string(sealed), "s3cret") {
		t.Errorf("the source's credential is not stored sealed: %v", err)
	}
}

// A publish that fails leaves the cursor where it was, claims no watermark, and ends the poll: the next poll
// reads the same again, and the events' ids make the repeat harmless.
func TestAFailedPublishSavesNoCursor(t *testing.T) {
	t.Parallel()
	b := setup(t, func(req sources.PollRequest) []step {
		return []step{
			{Step: sources.Step{Events: []events.Event{event(t, "1")}, Cursor: cursor(1)}},
			{Step: sources.Step{Events: []events.Event{event(t, "2")}, Cursor: cursor(2)}},
			{Step: sources.Step{Watermark: &events.Watermark{Through: req.Cutoff}}},
		}
	}, func(topic string, evs []events.Event) error {
		if len(evs) == 1 && evs[0].Subject == "2" {
			return errors.New("broker unreachable")
		}
		return nil
	}, nil)
	err := b.p.Once(t.Context(), "")
	if err == nil || !strings.Contains(err.Error(), "broker unreachable") {
		t.Fatalf("err = %v, want the publisher's", err)
	}
	cur, err := pollstate.NewCursors(b.pool).Load(t.Context(), "scripted-acme", lines)
	if err != nil || string(cur) != `{"after": 1}` {
		t.Fatalf("cursor %s (%v), want the first step's", cur, err)
	}
	for _, p := range b.pub.all() {
		if p.topic == events.TopicWatermark {
			t.Error("a failed poll published a watermark")
		}
	}
}

// A step that comes with an error — a sub-feed failed after the rest of the feed was read — is still published
// and its cursor saved, and the error is the poll's: what was read is never thrown away.
func TestAStepWithAnErrorIsPublishedAndSavedFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, func(req sources.PollRequest) []step {
		return []step{{Step: sources.Step{Events: []events.Event{event(t, "1")}, Cursor: cursor(1)},
			err: errors.New("queue: HTTP 503")}}
	}, nil, nil)
	err := b.p.Once(t.Context(), "")
	if err == nil || !strings.Contains(err.Error(), "queue: HTTP 503") || !strings.Contains(err.Error(), "scripted-acme") {
		t.Fatalf("err = %v, want the step's, naming the source", err)
	}
	if got := b.pub.all(); len(got) != 1 || len(got[0].evs) != 1 {
		t.Fatalf("published %v, want the step's event", got)
	}
	cur, _ := pollstate.NewCursors(b.pool).Load(t.Context(), "scripted-acme", lines)
	if string(cur) != `{"after": 1}` {
		t.Errorf("cursor %s, want the step's", cur)
	}
}

// A source named for a provider the registry does not have is refused when the poller is made.
func TestAnUnregisteredProviderIsRefused(t *testing.T) {
	t.Parallel()
	pool, _ := pgtest.NewDB(t)
	src := config.Source{Name: "x", Provider: "nowhere", Feeds: map[string]string{lines: "@every 1m"},
		Settings: scriptSettings{account: "acme"}}
	_, err := poller.New(poller.Config{}, sources.Registry{}, config.Sources{Sources: []config.Source{src}}, pool,
		&recorder{}, "poller-test-key-0123456789", (&sourcetest.LogBuffer{}).Logger())
	if err == nil || !strings.Contains(err.Error(), `no provider "nowhere"`) {
		t.Fatalf("err = %v", err)
	}
}
