// Package testpoint lets the fault suite and the end-to-end tests stop a running poller or reconciler at a
// named point of its work — after a page is published and before its cursor is saved, after a batch is in
// PostgreSQL and before its offsets are committed, after Slack has taken an alert and before the outbox says
// so — and then kill it there, or let it go on. A kill at such a point is then a fact the test asserts, not a
// timing it hopes for.
//
// It is for tests only and off by default: unless MIZAN_TEST_PAUSE_AT names a point, Reach does nothing but
// read that variable once. Production deployments never set it.
//
//	MIZAN_TEST_PAUSE_AT=reconciler-applied,slack-sent   the points to pause at, each once per process
//	MIZAN_TEST_PAUSE_DIR=/some/dir                      where the process says where it is, and is let go
//
// At a named point the process logs "testpoint: at <point>" to stderr, writes <dir>/<point>.at (holding its
// pid), and waits until <dir>/<point>.resume exists or its ctx ends; without a directory it waits until it
// is killed. It pauses at the first time it reaches each named point, and passes every later time.
package testpoint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The points the code passes. Each is one line at the place named.
const (
	// PollerPublished: the poller has published a page (Kafka acknowledged it) and not yet saved the cursor
	// past it. A crash here publishes the page again.
	PollerPublished = "poller-published"
	// ReconcilerApplied: a batch is committed in PostgreSQL and its offsets are not yet committed in Kafka. A
	// crash here delivers the batch again, which the event ids make harmless.
	ReconcilerApplied = "reconciler-applied"
	// SlackSent: Slack has accepted an alert and the outbox does not record it yet. A crash here sends the
	// alert again (the outbox is at least once).
	SlackSent = "slack-sent"
)

// Environment variables (see the package comment).
const (
	EnvPauseAt  = "MIZAN_TEST_PAUSE_AT"
	EnvPauseDir = "MIZAN_TEST_PAUSE_DIR"
)

var (
	once   sync.Once
	armed  map[string]bool // points still to pause at
	dir    string
	mu     sync.Mutex
	logger = func(point string) { fmt.Fprintf(os.Stderr, "testpoint: at %s (pid %d)\n", point, os.Getpid()) }
)

func load() {
	armed = map[string]bool{}
	for _, p := range strings.Split(os.Getenv(EnvPauseAt), ",") {
		if p = strings.TrimSpace(p); p != "" {
			armed[p] = true
		}
	}
	dir = os.Getenv(EnvPauseDir)
}

// Reach marks that the process is at point. Off (the default), it returns at once. Armed, the first call for
// the point pauses as the package comment says.
func Reach(ctx context.Context, point string) {
	once.Do(load)
	if len(armed) == 0 {
		return
	}
	mu.Lock()
	pause := armed[point]
	delete(armed, point)
	mu.Unlock()
	if !pause {
		return
	}
	logger(point)
	if dir == "" {
		<-ctx.Done()
		return
	}
	at := filepath.Join(dir, point+".at")
	_ = os.WriteFile(at, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644)
	resume := filepath.Join(dir, point+".resume")
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(resume); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Paused reports whether the process told to pause in dir is waiting at point now (or was, and has not been
// let go). For the test's side.
func Paused(dir, point string) bool {
	_, err := os.Stat(filepath.Join(dir, point+".at"))
	return err == nil
}

// Resume lets the process waiting at point in dir go on. For the test's side.
func Resume(dir, point string) error {
	return os.WriteFile(filepath.Join(dir, point+".resume"), nil, 0o644)
}
