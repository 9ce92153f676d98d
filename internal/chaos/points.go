package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/testpoint"
)

// The kills that must land at a named point of the work, not at a moment hoped to be one (internal/testpoint):
// a process is started with the points still owed armed, pauses at the first it reaches, and the watcher kills
// it there — or lets it go on once that point has had its kills. Each kill is confirmed by the process's own
// log line "testpoint: at <point>".
var (
	pollerPoints     = []string{testpoint.PollerPublished}
	reconcilerPoints = []string{testpoint.ReconcilerApplied, testpoint.SlackSent}
	allPoints        = append(append([]string(nil), pollerPoints...), reconcilerPoints...)
)

// pointsToArm returns the points a new process of command should pause at: those still owed kills.
func (s *suite) pointsToArm(command string) []string {
	var candidates []string
	switch command {
	case "poller":
		candidates = pollerPoints
	case "reconciler":
		candidates = reconcilerPoints
	}
	s.pointsMu.Lock()
	defer s.pointsMu.Unlock()
	var out []string
	for _, p := range candidates {
		if s.pointKills[p] < s.o.Setting.PointKills {
			out = append(out, p)
		}
	}
	return out
}

// pointsDone reports whether each of points has had its kills.
func (s *suite) pointsDone(points ...string) bool {
	s.pointsMu.Lock()
	defer s.pointsMu.Unlock()
	for _, p := range points {
		if s.pointKills[p] < s.o.Setting.PointKills {
			return false
		}
	}
	return true
}

// pointCounts is "point=kills" for each point, for messages.
func (s *suite) pointCounts() string {
	s.pointsMu.Lock()
	defer s.pointsMu.Unlock()
	var parts []string
	for _, p := range allPoints {
		parts = append(parts, fmt.Sprintf("%s=%d", p, s.pointKills[p]))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// watchPoints acts on every process that says it waits at a test point: kills it while that point is owed
// kills, lets it go on otherwise.
func (s *suite) watchPoints(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, p := range s.procs.list() {
			for _, point := range allPoints {
				if p.handled[point] || !testpoint.Paused(p.pauseDir, point) {
					continue
				}
				p.handled[point] = true
				s.pointsMu.Lock()
				owed := s.pointKills[point] < s.o.Setting.PointKills
				s.pointsMu.Unlock()
				if !owed {
					_ = testpoint.Resume(p.pauseDir, point)
					s.pointsMu.Lock()
					s.pointResume[point]++
					s.pointsMu.Unlock()
					continue
				}
				if strings.HasPrefix(p.name, "poller") {
					// Not while a poller stores a rotated token pair (live.go, refreshGate).
					s.w.live.refresh.wait(ctx, 20*time.Second)
				}
				if !p.kill() {
					continue // killed by a random kill in the same instant: it counts there
				}
				confirmed := logHas(p.log, "testpoint: at "+point)
				if confirmed {
					s.pointsMu.Lock()
					s.pointKills[point]++
					s.pointsMu.Unlock()
				}
				s.logf("kill at %s: %s, %s after it started (its log says so: %v)", point, p.name,
					time.Since(p.started).Round(time.Millisecond), confirmed)
			}
		}
	}
}
