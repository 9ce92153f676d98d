// Package metrics holds every Prometheus metric mizan exposes, and the HTTP server that exposes them beside the
// health endpoints Kubernetes probes (/metrics, /healthz, /readyz).
//
// There is no global state, and each command has a registry of its own: NewPoller and NewReconciler return
// one with only that command's series (and the build info, Go runtime and process collectors), on its own
// prometheus.Registry — never the client library's default one. A poller's /metrics therefore shows no
// reconciler or Slack series stuck at zero. The components that count things receive their registry through
// their constructors; tests make one each and never see each other's counts.
//
// Every series whose labels are known in advance — the outcomes, the configured sources' feeds, the topics,
// the checks, the alert kinds — exists at zero from the start, so that rate(), increase() and the alerting
// rules (deploy/prometheus) see a series before its first event rather than an absent one.
//
// Labels: every label value must come from a small, fixed set — a source name from the sources file, a feed,
// a full topic name (with the deployment's prefix), a partition number, a check name, an alert kind or
// severity, one of the outcome constants below. Never an event id, an account, an amount, a dedup key, an
// error message or anything a provider returns: each distinct value is a new time series kept in memory until
// the process ends, and labels are visible to anyone who can scrape. No secret ever goes into a label.
package metrics

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "mizan"

// Outcomes of a poll (PollDuration's outcome label).
const (
	PollOK      = "ok"      // every page fetched and published, cursor advanced
	PollError   = "error"   // the poll failed; it is retried on the next tick
	PollSkipped = "skipped" // another process holds the source's lock, or the previous tick still runs
)

// Outcomes of a consumed message (Messages' outcome label).
const (
	MessageApplied    = "applied"     // its effects were written to the ledger
	MessageDuplicate  = "duplicate"   // its event id was seen before: a replay, a no-op
	MessageDeadLetter = "dead_letter" // it could not be applied: refused to the dead letters
)

// Outcomes of a Slack delivery attempt (SlackDeliveries' outcome label).
const (
	SlackSent    = "sent"    // Slack accepted the message
	SlackRetried = "retried" // refused for now (429, 5xx, network): tried again later
	SlackFailed  = "failed"  // refused for good (4xx other than 429): given up
)

// Failure classes of the reconciler (ApplyFailures' class label; reconciler.Class spells them).
var applyClasses = []string{"infrastructure", "message", "environment"}

// Build identifies the running binary: mizan_build_info{version,commit,goversion} = 1, as `version` prints it.
type Build struct {
	Version, Commit, GoVersion string
}

// Registry is one command's metrics registry: its series, the build info, and the Go runtime and process
// collectors. Poller and Reconciler embed it.
type Registry struct {
	reg   *prometheus.Registry
	names []string // the names of the series this package registered, histograms by their base name
}

func newRegistry(b Build) *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; its labels name the running build (version, VCS commit, Go version).",
	}, []string{"version", "commit", "goversion"})
	info.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.add("mizan_build_info", info)
	return r
}

// add registers c under name, remembering the name for Names.
func (r *Registry) add(name string, c prometheus.Collector) {
	r.reg.MustRegister(c)
	r.names = append(r.names, name)
}

// Register adds a collector of the caller's (a connection pool's statistics, say) to this registry.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register collector: %w", err)
	}
	return nil
}

// Gatherer is the registry for a caller that reads it other than over HTTP (a push to a Pushgateway).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Names lists every metric name this registry can expose, sorted: mizan's own (histograms by their base
// name) and those of the collectors the last scrape returned. The tests hold the alerting rules and the
// dashboard to it.
func (r *Registry) Names() ([]string, error) {
	names := slices.Clone(r.names)
	mfs, err := r.reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: gather: %w", err)
	}
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Handler serves the registry in the Prometheus text format (and OpenMetrics when asked), counting its own
// scrapes. A collector that fails leaves the rest of the scrape intact.
func (r *Registry) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(r.reg, promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          r.reg,
		EnableOpenMetrics: true,
	}))
}

// Poller is the poller's metrics. Labels source (the name in the sources file) and feed (statement, balance,
// …) identify a feed; a source name stands for its provider and account, which are not labels.
type Poller struct {
	*Registry

	// PollDuration is how long one poll of a source's feed took, by outcome (PollOK, PollError, PollSkipped).
	// Labels: source, feed, outcome. mizan_poller_poll_duration_seconds.
	PollDuration *prometheus.HistogramVec

	// ItemsFetched counts the items polls read from the provider and published, page by page as a poll goes.
	// Labels: source, feed. mizan_poller_items_fetched_total.
	ItemsFetched *prometheus.CounterVec

	// PagesFetched counts the steps (pages) polls read and published. Labels: source, feed.
	// mizan_poller_pages_fetched_total.
	PagesFetched *prometheus.CounterVec

	// EventsPublished counts the events the poller published and Kafka acknowledged. Label: topic (the full
	// name, with the deployment's prefix). mizan_poller_events_published_total.
	EventsPublished *prometheus.CounterVec

	// LastSuccess is when a poll of the feed last completed (Unix seconds); 0 until one has in this process.
	// Labels: source, feed. mizan_poller_last_success_timestamp_seconds.
	LastSuccess *prometheus.GaugeVec

	// LastPollFailed is 1 while the feed's latest poll failed, 0 once one completes. Labels: source, feed.
	// mizan_poller_last_poll_failed.
	LastPollFailed *prometheus.GaugeVec

	// InProgress is 1 while a poll of the feed runs. Labels: source, feed. mizan_poller_poll_in_progress.
	InProgress *prometheus.GaugeVec

	// Reached is the time, as the provider reports it, of the last item the feed's running (or last) poll
	// published (Unix seconds; 0 before any): how far a backfill has come. Labels: source, feed.
	// mizan_poller_poll_reached_timestamp_seconds.
	Reached *prometheus.GaugeVec
}

// NewPoller returns the poller's registry. Call Feed for each feed the process will poll, and Topic for
// each topic it publishes to, so that their series exist from the start.
func NewPoller(b Build) *Poller {
	feed := []string{"source", "feed"}
	p := &Poller{Registry: newRegistry(b)}
	p.PollDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "poll_duration_seconds",
		Help: "Duration of one poll of a source's feed, by outcome (ok, error, skipped).",
		// Provider calls are rate-limited and paged: from a fraction of a second to hours for a backfill.
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600},
	}, append(feed, "outcome"))
	p.ItemsFetched = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "items_fetched_total",
		Help: "Items read from a provider and published, counted page by page.",
	}, feed)
	p.PagesFetched = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "pages_fetched_total",
		Help: "Pages (poll steps) read from a provider and published.",
	}, feed)
	p.EventsPublished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "events_published_total",
		Help: "Events acknowledged by Kafka, by topic (full name).",
	}, []string{"topic"})
	p.LastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "last_success_timestamp_seconds",
		Help: "When a poll of the feed last completed (Unix time; 0: none since the process started).",
	}, feed)
	p.LastPollFailed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "last_poll_failed",
		Help: "1 while the feed's latest poll failed, else 0.",
	}, feed)
	p.InProgress = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "poll_in_progress",
		Help: "1 while a poll of the feed runs.",
	}, feed)
	p.Reached = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "poll_reached_timestamp_seconds",
		Help: "Provider time of the last item the feed's running or last poll published (Unix time; 0: none yet).",
	}, feed)
	p.add("mizan_poller_poll_duration_seconds", p.PollDuration)
	p.add("mizan_poller_items_fetched_total", p.ItemsFetched)
	p.add("mizan_poller_pages_fetched_total", p.PagesFetched)
	p.add("mizan_poller_events_published_total", p.EventsPublished)
	p.add("mizan_poller_last_success_timestamp_seconds", p.LastSuccess)
	p.add("mizan_poller_last_poll_failed", p.LastPollFailed)
	p.add("mizan_poller_poll_in_progress", p.InProgress)
	p.add("mizan_poller_poll_reached_timestamp_seconds", p.Reached)
	return p
}

// Feed makes the series of one source's feed exist, at zero.
func (p *Poller) Feed(source, feed string) {
	for _, o := range []string{PollOK, PollError, PollSkipped} {
		p.PollDuration.WithLabelValues(source, feed, o)
	}
	for _, v := range []*prometheus.CounterVec{p.ItemsFetched, p.PagesFetched} {
		v.WithLabelValues(source, feed)
	}
	for _, v := range []*prometheus.GaugeVec{p.LastSuccess, p.LastPollFailed, p.InProgress, p.Reached} {
		v.WithLabelValues(source, feed)
	}
}

// Topic makes the series of a topic (full name) exist, at zero.
func (p *Poller) Topic(topic string) { p.EventsPublished.WithLabelValues(topic) }

// Reconciler is the reconciler's metrics, the ledger's, the checks', the alerts' and their Slack delivery's.
type Reconciler struct {
	*Registry

	// ConsumerLag is how many messages the reconciler's group has not committed, per partition. Set it with
	// SetConsumerLag from kafka.Consumer.Lag. Labels: topic, partition. mizan_reconciler_consumer_lag.
	ConsumerLag *prometheus.GaugeVec

	// BatchSize is how many messages each applied batch held. mizan_reconciler_batch_size.
	BatchSize prometheus.Histogram

	// Messages counts consumed messages by outcome (MessageApplied, MessageDuplicate, MessageDeadLetter).
	// Labels: topic, outcome. mizan_reconciler_messages_total.
	Messages *prometheus.CounterVec

	// DeadLetters counts messages refused to the dead letters (recon.dead_letters, copied to the dead-letter
	// topic). Label: topic (where the message came from). mizan_reconciler_dead_letters_total.
	DeadLetters *prometheus.CounterVec

	// DeadLetterPublishFailures counts copies of dead letters the dead-letter topic did not accept; each is
	// retried later from recon.dead_letters. mizan_reconciler_dead_letter_publish_failures_total.
	DeadLetterPublishFailures prometheus.Counter

	// ApplyFailures counts failed attempts to apply a batch or commit its offsets, by failure class
	// (infrastructure, message, environment: see reconciler.Class). mizan_reconciler_apply_failures_total.
	ApplyFailures *prometheus.CounterVec

	// LastApplied is when the reconciler last applied messages of a partition (Unix seconds): a partition
	// whose value stops moving while its lag grows is stalled. Labels: topic, partition.
	// mizan_reconciler_last_applied_timestamp_seconds.
	LastApplied *prometheus.GaugeVec

	// Stalled is 1 while the reconciler cannot make progress (an infrastructure failure past its bound, or an
	// environment problem), else 0; /readyz fails meanwhile. mizan_reconciler_stalled.
	Stalled prometheus.Gauge

	// EntriesPosted counts journal entries written to the ledger (not duplicates).
	// mizan_ledger_entries_posted_total.
	EntriesPosted prometheus.Counter

	// CheckOutcomes counts check evaluations. Labels: check (its name), outcome (OK, MISMATCH, UNKNOWN as the
	// checks package spells them). mizan_check_outcomes_total.
	CheckOutcomes *prometheus.CounterVec

	// AlertsOpen is how many alerts are open. Set it with SetAlerts from a count over recon.alerts.
	// Labels: kind, severity. mizan_alerts_open.
	AlertsOpen *prometheus.GaugeVec

	// AlertsUndelivered is how many alerts have a state change (their opening or their resolution) Slack has
	// not accepted yet: the dispatcher's outbox. Set it with SetAlerts. mizan_alerts_undelivered.
	AlertsUndelivered prometheus.Gauge

	// SlackDeliveries counts attempts to deliver an alert message to Slack, by outcome (SlackSent,
	// SlackRetried, SlackFailed). mizan_slack_deliveries_total.
	SlackDeliveries *prometheus.CounterVec

	lag, alerts snapshot
}

// Known lists the label values the reconciler's series take that are known before anything happens; each
// combination starts at zero.
type Known struct {
	Topics        []string // the full names of the topics consumed
	Checks        []string // check names
	CheckOutcomes []string // OK, MISMATCH, UNKNOWN
	AlertKinds    []string // every alert kind (the checks' names and the reconciler's own kinds)
	Severities    []string // warning, critical
}

// NewReconciler returns the reconciler's registry, with the series of k at zero.
func NewReconciler(b Build, k Known) *Reconciler {
	r := &Reconciler{Registry: newRegistry(b)}
	r.ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "consumer_lag",
		Help: "Messages the reconciler's consumer group has not committed yet, per partition.",
	}, []string{"topic", "partition"})
	r.BatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "batch_size",
		Help: "Messages in each batch the reconciler applied.",
		// Up to the largest KAFKA_MAX_BATCH accepted; 1 is the idle case of lone messages.
		Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 100000},
	})
	r.Messages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "messages_total",
		Help: "Messages consumed, by outcome (applied, duplicate, dead_letter).",
	}, []string{"topic", "outcome"})
	r.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "dead_letters_total",
		Help: "Messages sent to the dead-letter topic, by the topic they came from.",
	}, []string{"topic"})
	r.DeadLetterPublishFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "dead_letter_publish_failures_total",
		Help: "Dead-letter copies the dead-letter topic did not accept (retried from recon.dead_letters).",
	})
	r.ApplyFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "apply_failures_total",
		Help: "Failed attempts to apply a batch or commit its offsets, by class (infrastructure, message, environment).",
	}, []string{"class"})
	r.LastApplied = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "last_applied_timestamp_seconds",
		Help: "When messages of the partition were last applied (Unix time).",
	}, []string{"topic", "partition"})
	r.Stalled = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "reconciler", Name: "stalled",
		Help: "1 while the reconciler cannot make progress (infrastructure failure past its bound, or an environment problem).",
	})
	r.EntriesPosted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "ledger", Name: "entries_posted_total",
		Help: "Journal entries written to the ledger.",
	})
	r.CheckOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "check", Name: "outcomes_total",
		Help: "Check evaluations, by check and outcome.",
	}, []string{"check", "outcome"})
	r.AlertsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "alerts", Name: "open",
		Help: "Open alerts, by kind and severity.",
	}, []string{"kind", "severity"})
	r.AlertsUndelivered = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Subsystem: "alerts", Name: "undelivered",
		Help: "Alerts whose opening or resolution Slack has not accepted yet (all of them while SLACK_WEBHOOK_URL is unset).",
	})
	r.SlackDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "slack", Name: "deliveries_total",
		Help: "Attempts to deliver an alert message to Slack, by outcome (sent, retried, failed).",
	}, []string{"outcome"})

	for _, o := range []string{SlackSent, SlackRetried, SlackFailed} {
		r.SlackDeliveries.WithLabelValues(o)
	}
	for _, c := range applyClasses {
		r.ApplyFailures.WithLabelValues(c)
	}
	for _, t := range k.Topics {
		r.DeadLetters.WithLabelValues(t)
		for _, o := range []string{MessageApplied, MessageDuplicate, MessageDeadLetter} {
			r.Messages.WithLabelValues(t, o)
		}
	}
	for _, c := range k.Checks {
		for _, o := range k.CheckOutcomes {
			r.CheckOutcomes.WithLabelValues(c, o)
		}
	}
	r.lag = snapshot{vec: r.ConsumerLag}
	r.alerts = snapshot{vec: r.AlertsOpen, zero: map[string][]string{}}
	for _, kind := range k.AlertKinds {
		for _, s := range k.Severities {
			labels := []string{kind, s}
			r.alerts.zero[strings.Join(labels, "\xff")] = labels
			r.AlertsOpen.WithLabelValues(labels...)
		}
	}

	r.add("mizan_reconciler_consumer_lag", r.ConsumerLag)
	r.add("mizan_reconciler_batch_size", r.BatchSize)
	r.add("mizan_reconciler_messages_total", r.Messages)
	r.add("mizan_reconciler_dead_letters_total", r.DeadLetters)
	r.add("mizan_reconciler_dead_letter_publish_failures_total", r.DeadLetterPublishFailures)
	r.add("mizan_reconciler_apply_failures_total", r.ApplyFailures)
	r.add("mizan_reconciler_last_applied_timestamp_seconds", r.LastApplied)
	r.add("mizan_reconciler_stalled", r.Stalled)
	r.add("mizan_ledger_entries_posted_total", r.EntriesPosted)
	r.add("mizan_check_outcomes_total", r.CheckOutcomes)
	r.add("mizan_alerts_open", r.AlertsOpen)
	r.add("mizan_alerts_undelivered", r.AlertsUndelivered)
	r.add("mizan_slack_deliveries_total", r.SlackDeliveries)
	return r
}

// SetConsumerLag replaces ConsumerLag with lag — per full topic name, per partition, as kafka.Consumer.Lag
// returns it. A partition missing from lag (a topic no longer consumed) disappears from the metric instead of
// showing its last value for ever.
func (r *Reconciler) SetConsumerLag(lag map[string]map[int]int64) {
	var points []point
	for topic, parts := range lag {
		for p, n := range parts {
			points = append(points, point{labels: []string{topic, strconv.Itoa(p)}, value: float64(n)})
		}
	}
	r.lag.set(points)
}

// AlertCount is how many alerts of one kind and severity are open.
type AlertCount struct {
	Kind, Severity string
	Open           int
}

// SetAlerts replaces AlertsOpen with counts — a known kind and severity missing from counts shows 0, an
// unknown one disappears — and sets AlertsUndelivered.
func (r *Reconciler) SetAlerts(counts []AlertCount, undelivered int) {
	points := make([]point, len(counts))
	for i, c := range counts {
		points[i] = point{labels: []string{c.Kind, c.Severity}, value: float64(c.Open)}
	}
	r.alerts.set(points)
	r.AlertsUndelivered.Set(float64(undelivered))
}

// point is one series of a gauge vector: its label values and its value.
type point struct {
	labels []string
	value  float64
}

// snapshot replaces all series of a gauge vector with a new set: the ones that are gone are set to zero if
// they are in zero, else deleted. Series still present are overwritten in place, so a concurrent scrape never
// sees them missing (a Reset would).
type snapshot struct {
	mu   sync.Mutex
	vec  *prometheus.GaugeVec
	zero map[string][]string // joined label values → label values of the series that always exist
	last map[string][]string
}

func (s *snapshot) set(points []point) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[string][]string, len(points))
	for _, p := range points {
		s.vec.WithLabelValues(p.labels...).Set(p.value)
		next[strings.Join(p.labels, "\xff")] = p.labels
	}
	for k, labels := range s.last {
		if _, ok := next[k]; ok {
			continue
		}
		if _, ok := s.zero[k]; ok {
			s.vec.WithLabelValues(labels...).Set(0)
		} else {
			s.vec.DeleteLabelValues(labels...)
		}
	}
	s.last = next
}
