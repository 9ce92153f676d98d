package testpoint

import (
	"context"
	"sync"
	"testing"
	"time"
)

// arm resets the package's state to what a process started with these variables would have.
func arm(t *testing.T, points, dir string) {
	t.Setenv(EnvPauseAt, points)
	t.Setenv(EnvPauseDir, dir)
	once = sync.Once{}
}

func TestOffByDefaultReachReturnsAtOnce(t *testing.T) {
	arm(t, "", "")
	Reach(t.Context(), ReconcilerApplied) // would hang the test if it paused
}

// An armed point pauses the first time only, says where it is, and goes on when told; other points pass.
func TestAnArmedPointPausesOnceUntilResumed(t *testing.T) {
	dir := t.TempDir()
	arm(t, PollerPublished+", "+SlackSent, dir)
	Reach(t.Context(), ReconcilerApplied) // not armed: passes

	returned := make(chan struct{})
	go func() { Reach(context.Background(), PollerPublished); close(returned) }()
	for !Paused(dir, PollerPublished) {
		select {
		case <-returned:
			t.Fatal("Reach returned before it was resumed")
		case <-time.After(time.Millisecond):
		}
	}
	select {
	case <-returned:
		t.Fatal("Reach returned before it was resumed")
	default:
	}
	if err := Resume(dir, PollerPublished); err != nil {
		t.Fatal(err)
	}
	<-returned
	Reach(t.Context(), PollerPublished) // the second time passes
}

// Without a directory an armed point waits until the context ends (the process is killed there).
func TestAnArmedPointWithoutADirectoryWaitsForItsContext(t *testing.T) {
	arm(t, SlackSent, "")
	ctx, cancel := context.WithCancel(t.Context())
	returned := make(chan struct{})
	go func() { Reach(ctx, SlackSent); close(returned) }()
	cancel()
	<-returned
}
