package chaos

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// groupWatch follows the reconcilers' consumer group as its coordinator describes it, a few times a second:
// how many members it had at most, how often its membership changed (a rebalance), and how often a partition
// moved from one member to another that was already a member — partitions moving between live members, which
// is what a kill in a group of several must cause.
type groupWatch struct {
	mu         sync.Mutex
	maxMembers int
	rebalances int
	moves      int
	errors     int
	stable     int // Stable descriptions seen with a new member set
	size       int // members of the last Stable description

	// How long the group went without being Stable (rebalancing: nobody consumes), at most.
	unstableSince time.Time
	longest       time.Duration
}

// mark returns how many Stable member sets have been seen.
func (g *groupWatch) mark() (seq int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stable
}

// waitShrunk waits until the group is Stable again, after the member set seq, with no more members than the
// live processes: a killed member's session has expired and the live members have taken its partitions. It
// gives up after limit (a safety net: the chaos goes on either way).
func (g *groupWatch) waitShrunk(ctx context.Context, seq, live int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		g.mu.Lock()
		done := g.stable > seq && g.size <= live
		g.mu.Unlock()
		if done {
			return true
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return false
}

// waitSettled waits until the group is Stable with exactly live members, at least two: every live member
// holds partitions, so a member killed now leaves its partitions to members that were there before. It gives
// up after limit (a safety net).
func (g *groupWatch) waitSettled(ctx context.Context, live int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		g.mu.Lock()
		done := live >= 2 && g.stable > 0 && g.unstableSince.IsZero() && g.size == live
		g.mu.Unlock()
		if done {
			return true
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return false
}

// moved reports whether a partition has moved between live members yet.
func (g *groupWatch) moved() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.moves > 0
}

// watch polls the group until ctx ends, writing each change it sees to logPath.
func (g *groupWatch) watch(ctx context.Context, addr, group, logPath string) {
	logf, err := os.Create(logPath)
	if err != nil {
		return
	}
	defer logf.Close()
	client := &kafkago.Client{Addr: kafkago.TCP(addr), Timeout: 2 * time.Second}
	lastLine := ""
	var members map[string]bool
	owner := map[string]string{} // topic/partition → member id
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		resp, err := client.DescribeGroups(ctx, &kafkago.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].Error != nil {
			g.mu.Lock()
			g.errors++ // the broker restarting, the coordinator moving
			g.mu.Unlock()
			continue
		}
		grp := resp.Groups[0]
		line := grp.GroupState
		for _, m := range grp.Members {
			line += fmt.Sprintf(" %s(%s)=%v", shortID(m.MemberID), m.ClientHost, m.MemberAssignments.Topics)
		}
		if line != lastLine {
			fmt.Fprintf(logf, "%s %s\n", time.Now().Format("15:04:05.000"), line)
			lastLine = line
		}
		if grp.GroupState != "Stable" {
			g.mu.Lock()
			if g.unstableSince.IsZero() {
				g.unstableSince = time.Now()
			}
			g.mu.Unlock()
			continue // mid-rebalance: assignments are not settled
		}
		now := map[string]bool{}
		for _, m := range grp.Members {
			now[m.MemberID] = true
		}
		g.mu.Lock()
		if !g.unstableSince.IsZero() {
			g.longest = max(g.longest, time.Since(g.unstableSince))
			g.unstableSince = time.Time{}
		}
		g.maxMembers = max(g.maxMembers, len(now))
		if members == nil || !sameSet(members, now) {
			if members != nil {
				g.rebalances++
			}
			g.stable++
			g.size = len(now)
		}
		for _, m := range grp.Members {
			for _, t := range m.MemberAssignments.Topics {
				for _, p := range t.Partitions {
					key := fmt.Sprintf("%s/%d", t.Topic, p)
					if prev, ok := owner[key]; ok && prev != m.MemberID && members[m.MemberID] {
						g.moves++
					}
					owner[key] = m.MemberID
				}
			}
		}
		g.mu.Unlock()
		members = now
	}
}

func (g *groupWatch) counts() (maxMembers, rebalances, moves int, longest time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxMembers, g.rebalances, g.moves, g.longest
}

// shortID is the tail of a member id (kafka-go's are the client id, a dash and a UUID).
func shortID(id string) string { return id[max(0, len(id)-6):] }

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
