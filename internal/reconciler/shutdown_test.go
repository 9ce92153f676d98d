package reconciler_test

import (
	"context"
	"testing"

	"github.com/mizanhq/mizan/internal/reconciler"
)

// A stop that arrives while the reconciler is still starting (Kubernetes sends SIGTERM whenever it likes) is
// a clean stop, as it is once the reconciler runs: Run returns nil, so the process exits 0. It used to return
// the schema check's "context canceled", and the fault suite saw a reconciler stopped just after it logged
// "reconciler started" exit 1.
func TestAStopWhileStartingIsACleanStop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r, _ := b.reconciler(reconciler.Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx, false); err != nil {
		t.Fatalf("run stopped while starting: %v, want a clean stop", err)
	}
}
