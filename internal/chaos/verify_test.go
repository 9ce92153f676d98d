package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pollLine is a poller's "poll complete" log line for a poll that ended at end after d.
func pollLine(feed string, end time.Time, d time.Duration) string {
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"poll complete","cmd":"poller","source":"vandar-acme","feed":%q,"items":1,"duration":%d}`,
		end.Format(time.RFC3339Nano), feed, d.Round(time.Millisecond))
}

func writeLogs(t *testing.T, logs map[string][]string) *suite {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, lines := range logs {
		if err := os.WriteFile(filepath.Join(dir, "logs", name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &suite{dir: dir}
}

// Two processes' polls of one feed that overlap in time are a broken lock; back-to-back polls, polls of
// other feeds and one process's own polls are not.
func TestPollOverlapsFindsTwoPollersHoldingOneFeed(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	s := writeLogs(t, map[string][]string{
		"poller-001.log": {"# poller once", pollLine("statement", t0.Add(time.Second), time.Second),
			pollLine("balance", t0.Add(3*time.Second), time.Second)},
		"poller-002.log": {pollLine("statement", t0.Add(2*time.Second), time.Second), // starts as 001's ends
			pollLine("balance", t0.Add(2500*time.Millisecond), 2*time.Second)}, // inside 001's balance poll
	})
	overlaps, polls, err := s.pollOverlaps()
	if err != nil {
		t.Fatal(err)
	}
	if polls != 4 || len(overlaps) != 1 || !strings.Contains(overlaps[0], "vandar-acme/balance") {
		t.Fatalf("%d polls, overlaps %v; want 4 polls and one overlap of the balance feed", polls, overlaps)
	}
}
