// Package metrics holds every Prometheus metric mizan exposes, and the HTTP server that exposes them beside the
// health endpoints Kubernetes probes (/metrics, /healthz, /readyz).
//
// There is no global state: New returns a Registry with its own prometheus.Registry (never the client
// library's default one), and the components that count things receive it through their constructors. Tests
// make one each and never see each other's counts.
//
// Labels: every label value must come from a small, fixed set — a source name from the sources file, a feed,
// a full topic name, a partition number, a check name, an alert kind or severity, one of the outcome constants
// below. Never an event id, an account, an amount, a dedup key, an error message or anything a provider
// returns: each distinct value is a new time series kept in memory until the process ends, and labels are
// visible to anyone who can scrape. No secret ever goes into a label.
package metrics

import (
	"fmt"
	"net/http"
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

// Registry is every metric mizan exposes, on a prometheus.Registry of its own that also holds the Go runtime
// and process collectors. Its fields are safe for concurrent use. Which process updates which metric is said
// on each field; a metric a process never touches is simply absent or zero in its scrape.
type Registry struct {
	reg *prometheus.Registry

	// PollDuration is how long one poll of a source's feed took, by outcome (PollOK, PollError, PollSkipped).
	// Labels: source (the name in the sources file), feed (statement, balance, …), outcome. Poller.
	// mizan_poller_poll_duration_seconds.
	PollDuration *prometheus.HistogramVec

	// ItemsFetched counts the items a poll read from the provider. Labels: source, feed. Poller.
	// mizan_poller_items_fetched_total.
	ItemsFetched *prometheus.CounterVec

	// EventsPublished counts the events a poller published and Kafka acknowledged. Label: topic (full name).
	// Poller. mizan_poller_events_published_total.
	EventsPublished *prometheus.CounterVec

	// ConsumerLag is how many messages the reconciler's group has not committed, per partition. Set it with
	// SetConsumerLag from kafka.Consumer.Lag. Labels: topic, partition. Reconciler.
	// mizan_reconciler_consumer_lag.
	ConsumerLag *prometheus.GaugeVec

	// BatchSize is how many messages each applied batch held. Reconciler. mizan_reconciler_batch_size.
	BatchSize prometheus.Histogram

	// Messages counts consumed messages by outcome (MessageApplied, MessageDuplicate, MessageDeadLetter).
	// Labels: topic, outcome. Reconciler. mizan_reconciler_messages_total.
	Messages *prometheus.CounterVec

	// DeadLetters counts messages refused to the dead letters (recon.dead_letters, copied to the dead-letter
	// topic). Label: topic (where the message came from). Reconciler. mizan_reconciler_dead_letters_total.
	DeadLetters *prometheus.CounterVec

	// DeadLetterPublishFailures counts copies of dead letters the dead-letter topic did not accept; each is
	// retried later from recon.dead_letters. Reconciler. mizan_reconciler_dead_letter_publish_failures_total.
	DeadLetterPublishFailures prometheus.Counter

	// ApplyFailures counts failed attempts to apply a batch or commit its offsets, by failure class
	// (infrastructure, message, environment: see reconciler.Class). Reconciler.
	// mizan_reconciler_apply_failures_total.
	ApplyFailures *prometheus.CounterVec

	// LastApplied is when the reconciler last applied messages of a partition (Unix seconds): a partition
	// whose value stops moving while its lag grows is stalled. Labels: topic, partition. Reconciler.
	// mizan_reconciler_last_applied_timestamp_seconds.
	LastApplied *prometheus.GaugeVec

	// Stalled is 1 while the reconciler cannot make progress (an infrastructure failure past its bound, or an
	// environment problem), else 0; /readyz fails meanwhile. Reconciler. mizan_reconciler_stalled.
	Stalled prometheus.Gauge

	// EntriesPosted counts journal entries written to the ledger (not duplicates). Reconciler.
	// mizan_ledger_entries_posted_total.
	EntriesPosted prometheus.Counter

	// CheckOutcomes counts check evaluations. Labels: check (its name), outcome (OK, MISMATCH, UNKNOWN as the
	// checks package spells them). Reconciler. mizan_check_outcomes_total.
	CheckOutcomes *prometheus.CounterVec

	// AlertsOpen is how many alerts are open. Set it with SetAlertsOpen from a count over recon.alerts.
	// Labels: kind, severity. Reconciler. mizan_alerts_open.
	AlertsOpen *prometheus.GaugeVec

	// SlackDeliveries counts attempts to deliver an alert message to Slack, by outcome (SlackSent,
	// SlackRetried, SlackFailed). Alert dispatcher. mizan_slack_deliveries_total.
	SlackDeliveries *prometheus.CounterVec

	lag, alerts snapshot
}

// New returns a Registry with every metric registered.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.PollDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "poll_duration_seconds",
		Help: "Duration of one poll of a source's feed, by outcome (ok, error, skipped).",
		// Provider calls are rate-limited and paged: from a fraction of a second to minutes for a backlog.
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"source", "feed", "outcome"})
	r.ItemsFetched = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "items_fetched_total",
		Help: "Items read from a provider.",
	}, []string{"source", "feed"})
	r.EventsPublished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "poller", Name: "events_published_total",
		Help: "Events acknowledged by Kafka, by topic.",
	}, []string{"topic"})
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
	r.SlackDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "slack", Name: "deliveries_total",
		Help: "Attempts to deliver an alert message to Slack, by outcome (sent, retried, failed).",
	}, []string{"outcome"})
	// The outcomes are known: start them at zero, so that rate() and alerting rules see the series before the
	// first failure rather than an absent one.
	for _, o := range []string{SlackSent, SlackRetried, SlackFailed} {
		r.SlackDeliveries.WithLabelValues(o)
	}
	for _, c := range []string{"infrastructure", "message", "environment"} {
		r.ApplyFailures.WithLabelValues(c)
	}
	r.lag = snapshot{vec: r.ConsumerLag}
	r.alerts = snapshot{vec: r.AlertsOpen}

	r.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.PollDuration, r.ItemsFetched, r.EventsPublished,
		r.ConsumerLag, r.BatchSize, r.Messages, r.DeadLetters, r.DeadLetterPublishFailures, r.ApplyFailures,
		r.LastApplied, r.Stalled,
		r.EntriesPosted, r.CheckOutcomes, r.AlertsOpen, r.SlackDeliveries,
	)
	return r
}

// Register adds a collector of the caller's (a connection pool's statistics, say) to this registry.
func (r *Registry) Register(c prometheus.Collector) error {
	if err := r.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: register collector: %w", err)
	}
	return nil
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

// SetConsumerLag replaces ConsumerLag with lag — per full topic name, per partition, as kafka.Consumer.Lag
// returns it. A partition missing from lag (a topic no longer consumed) disappears from the metric instead of
// showing its last value for ever.
func (r *Registry) SetConsumerLag(lag map[string]map[int]int64) {
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

// SetAlertsOpen replaces AlertsOpen with counts; a kind and severity missing from counts shows no series
// (read it as zero).
func (r *Registry) SetAlertsOpen(counts []AlertCount) {
	points := make([]point, len(counts))
	for i, c := range counts {
		points[i] = point{labels: []string{c.Kind, c.Severity}, value: float64(c.Open)}
	}
	r.alerts.set(points)
}

// point is one series of a gauge vector: its label values and its value.
type point struct {
	labels []string
	value  float64
}

// snapshot replaces all series of a gauge vector with a new set, deleting the ones that are gone. Series still
// present are overwritten in place, so a concurrent scrape never sees them missing (a Reset would).
type snapshot struct {
	mu   sync.Mutex
	vec  *prometheus.GaugeVec
	last map[string][]string // joined label values → label values
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
		if _, ok := next[k]; !ok {
			s.vec.DeleteLabelValues(labels...)
		}
	}
	s.last = next
}
