// Package chaos is mizan's fault suite (`make chaos`, `make chaos-long`): it runs the whole pipeline — the
// real bin/poller and bin/reconciler as processes, a Kafka broker in a process of its own (kfake with
// --broker fake, Apache Kafka with --broker real), a throwaway PostgreSQL cluster, the Vandar and YabandPay
// simulators and a Slack sink — on a simulated month of many thousands of items while it crashes every part of
// it:
//
//   - three reconcilers run at once, members of one consumer group (KAFKA_SESSION_TIMEOUT=6s); one at a time
//     is SIGKILLed at a random point of its stream and started again with another batch size, half of the
//     time only once the live members have taken its partitions (a watch of the group's coordinator counts
//     those moves); the last ones are stopped with SIGTERM, as Kubernetes stops pods;
//   - two pollers poll the same sources at once, as two replicas would; the advisory locks must keep them
//     apart (their logged lock periods never overlap), and one is SIGKILLed mid-run: the simulator kills it a
//     few milliseconds after one of its requests arrives;
//   - kills that land at named points, not at moments hoped to be them (internal/testpoint): a poller between
//     a page's publish and its cursor save, a reconciler between a batch's database commit and its offset
//     commit, and one after Slack has accepted an alert and before the outbox records it — each confirmed by
//     the process's own log line;
//   - the broker is restarted on the same port and data directory, once cleanly and once by SIGKILL;
//   - PostgreSQL is restarted, once by an immediate shutdown (a crash: the next start replays the WAL) and
//     once by a fast one that disconnects every client;
//   - the simulators inject every fault kind they have (5xx in JSON and HTML, 429 with Retry-After, slow,
//     truncated and HTML-200 answers, connection resets), Slack answers 429 and 500 before it accepts, and
//     poison messages sit on the statement topic, the biggest as large as the broker accepts;
//   - the world moves meanwhile (live.go): live payments wait and then succeed or fail, settlements go from
//     PENDING to DONE, FAILED or CANCELED with their money coming back later, a batch's items from INIT to
//     paid, failed or cancelled, refunds, cash-ins, transfers and corrections arrive, every access token
//     expires three times or more (the pollers refresh and rotate their pairs; one refresh is answered 503
//     and must be made good by a later one; one expiry is raced by both pollers, and no refresh token may
//     reach Vandar twice: tokens.go), and a payment is restated mid-chaos once mizan has posted it — all
//     drawn from the seed, on the real clock.
//
// Then it lets the pipeline finish (`poller once` until a clean run, `reconciler run --until-idle`) and
// proves that nothing was lost and nothing counted twice, against a truth computed from the simulators' own
// records with the posting rules written again from the documents (truth.go), not with internal/posting:
// every entry present once with exactly its postings and the provider's effective time, and every account
// mizan posted to — wallet, fees, income per channel, refunds, equity, in transit, bank, suspense — equal to
// the truth to the last unit, an account on one side only failing the run; every event id read from the
// topics was applied exactly once; every ledger invariant holds (postings sum to zero, the balance chains
// recompute); every poison message is one dead letter; and the alerts are exactly the world's — the drifting
// balance, a dead_letter per poison fault, a payout_failed per payout that failed or was cancelled, a
// changed_item for the restated payment — each raised once and delivered to Slack once (plus once more per
// kill after Slack's acceptance, or where a reconciler logged that Slack took a message PostgreSQL could not
// record: the outbox is at least once), which the summary counts and shows. It prints a summary line and
// returns an error naming every violation.
//
// The world (world.go, live.go), the truth and the checks (truth.go, verify.go) are apart from the chaos
// (run.go).
package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Setting sizes a run.
type Setting struct {
	Name             string
	Reconcilers      int           // reconciler processes running at once, members of one consumer group
	Pollers          int           // poller processes running at once, polling the same sources
	ReconcilerKills  int           // SIGKILLs of a reconciler at a random point of its stream
	PollerKills      int           // SIGKILLs of a poller at a random request
	PointKills       int           // SIGKILLs at each test point (testpoint: publish→cursor, commit→offsets, Slack→outbox)
	BrokerRestarts   int           // alternately clean (SIGTERM) and crashed (SIGKILL)
	PostgresRestarts int           // alternately immediate (crash) and fast
	RefreshFaults    int           // token expiries (of the three planned, from the second on) whose refresh is answered 503 (tokens.go)
	Days             int           // of simulated history
	PerDay           [2]int        // about how many statement items a day, for each of the two businesses
	LiveItems        int           // items each business gets while the chaos runs (live.go)
	LiveSpan         time.Duration // over which they are created, from the chaos's start
	ApplyWorkers     int           // MIZAN_APPLY_WORKERS of every reconciler
	Timeout          time.Duration // for the whole run
}

// Settings are the named settings: ci for every CI run (a few minutes), long for a soak.
var Settings = map[string]Setting{
	"ci": {Name: "ci", Reconcilers: 3, Pollers: 2, PointKills: 1, ReconcilerKills: 10, PollerKills: 8, BrokerRestarts: 2, PostgresRestarts: 2, RefreshFaults: 1,
		Days: 30, PerDay: [2]int{120, 60}, LiveItems: 40, LiveSpan: 45 * time.Second, ApplyWorkers: 3, Timeout: 12 * time.Minute},
	"long": {Name: "long", Reconcilers: 3, Pollers: 2, PointKills: 3, ReconcilerKills: 100, PollerKills: 50, BrokerRestarts: 6, PostgresRestarts: 6, RefreshFaults: 2,
		Days: 30, PerDay: [2]int{250, 125}, LiveItems: 300, LiveSpan: 15 * time.Minute, ApplyWorkers: 3, Timeout: 80 * time.Minute},
}

// SettingNames lists the settings, for usage messages.
func SettingNames() string {
	var names []string
	for n := range Settings {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (s Setting) String() string {
	return fmt.Sprintf("%s: %d reconcilers and %d pollers at once, %d reconciler kills, %d poller kills, %d at each test point, "+
		"%d broker and %d PostgreSQL restarts, %d faulted token refreshes, %d days of about %d+%d items a day and %d live items each over %s, %d apply workers",
		s.Name, s.Reconcilers, s.Pollers, s.ReconcilerKills, s.PollerKills, s.PointKills, s.BrokerRestarts, s.PostgresRestarts, s.RefreshFaults,
		s.Days, s.PerDay[0], s.PerDay[1], s.LiveItems, s.LiveSpan, s.ApplyWorkers)
}
