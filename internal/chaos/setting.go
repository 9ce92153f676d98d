// Package chaos is mizan's fault suite (`make chaos`, `make chaos-long`): it runs the whole pipeline — the
// real bin/poller and bin/reconciler as processes, a Kafka-protocol broker in a process of its own, a
// throwaway PostgreSQL cluster, the Vandar and YabandPay simulators and a Slack sink — on a simulated month
// of many thousands of items while it crashes every part of it:
//
//   - the reconciler is SIGKILLed at random points of its stream and started again (KAFKA_SESSION_TIMEOUT=6s,
//     so the group gives the restarted member its partitions back quickly), with a different batch size each
//     time; the last one is stopped with SIGTERM, as Kubernetes stops a pod;
//   - the poller is SIGKILLed mid-page: the simulator kills it a few milliseconds after one of its requests
//     arrives, between the answer, the publish and the cursor save;
//   - the broker is restarted on the same port and data directory, once cleanly and once by SIGKILL;
//   - PostgreSQL is restarted, once by an immediate shutdown (a crash: the next start replays the WAL) and
//     once by a fast one that disconnects every client;
//   - the simulators inject every fault kind they have (5xx in JSON and HTML, 429 with Retry-After, slow,
//     truncated and HTML-200 answers, connection resets), Slack answers 429 and 500 before it accepts, and a
//     few poison messages sit on the statement topic.
//
// Then it lets the pipeline finish (`poller once` until a clean run, `reconciler run --until-idle`) and
// proves that nothing was lost and nothing counted twice: each wallet, the money in transit and each bank
// account equal what the simulator's data implies, to the last unit, with exactly one entry per item that
// moved the wallet and per payout paid; every event id read from the topics was applied exactly once; every
// ledger invariant holds (postings sum to zero, the balance chains recompute); every poison message is one
// dead letter; and the one planted discrepancy (a drifting balance) is one alert, delivered to Slack once —
// or again only where a reconciler logged that Slack took a message PostgreSQL could not record (the outbox is
// at least once), which the summary counts and shows. It prints a summary line and returns an error naming
// every violation.
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
	ReconcilerKills  int           // SIGKILLs of the reconciler
	PollerKills      int           // SIGKILLs of the poller, mid-page
	BrokerRestarts   int           // alternately clean (SIGTERM) and crashed (SIGKILL)
	PostgresRestarts int           // alternately immediate (crash) and fast
	Days             int           // of simulated history
	PerDay           [2]int        // about how many statement items a day, for each of the two businesses
	Timeout          time.Duration // for the whole run
}

// Settings are the named settings: ci for every CI run (a few minutes), long for a soak.
var Settings = map[string]Setting{
	"ci": {Name: "ci", ReconcilerKills: 10, PollerKills: 8, BrokerRestarts: 2, PostgresRestarts: 2,
		Days: 30, PerDay: [2]int{120, 60}, Timeout: 12 * time.Minute},
	"long": {Name: "long", ReconcilerKills: 100, PollerKills: 50, BrokerRestarts: 6, PostgresRestarts: 6,
		Days: 30, PerDay: [2]int{250, 125}, Timeout: 80 * time.Minute},
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
	return fmt.Sprintf("%s: %d reconciler kills, %d poller kills, %d broker and %d PostgreSQL restarts, %d days of about %d+%d items a day",
		s.Name, s.ReconcilerKills, s.PollerKills, s.BrokerRestarts, s.PostgresRestarts, s.Days, s.PerDay[0], s.PerDay[1])
}
