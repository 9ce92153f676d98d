package bench

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// WaitSampler samples what a database's client backends are doing, every few milliseconds, from
// pg_stat_activity: running (on CPU, or at least not waiting on anything PostgreSQL names), waiting for
// their client inside a transaction (the round trip and the client's own work between statements), or
// waiting on a lock, the WAL flush, a disk read… The shares say where a writer's time goes on the server's
// side, and so what more connections would queue on.
type WaitSampler struct {
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	counts  map[string]int
	samples int
}

// WaitShares are a sampler's findings: per state, the share of backend-samples in it.
type WaitShares struct {
	Backends float64 // mean client backends busy (not idle) per sample
	Shares   map[string]float64
}

func (w WaitShares) String() string {
	if len(w.Shares) == 0 {
		return "(no samples)"
	}
	keys := slices.SortedFunc(maps.Keys(w.Shares), func(a, b string) int {
		return cmp.Or(cmp.Compare(w.Shares[b], w.Shares[a]), strings.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		if w.Shares[k] >= 0.005 {
			parts = append(parts, fmt.Sprintf("%s %.0f%%", k, 100*w.Shares[k]))
		}
	}
	return fmt.Sprintf("%.2f backends busy on average: %s", w.Backends, strings.Join(parts, ", "))
}

// StartWaits starts sampling the backends of database every interval, over a connection of its own.
func StartWaits(ctx context.Context, admin, database string, interval time.Duration) *WaitSampler {
	s := &WaitSampler{stop: make(chan struct{}), done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(s.done)
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, `SELECT CASE
					WHEN state = 'idle in transaction' THEN 'waiting for the client in a transaction'
					WHEN wait_event IS NULL THEN 'running'
					ELSE wait_event_type || ':' || wait_event END
				FROM pg_stat_activity
				WHERE datname = $1 AND backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()`, database)
			if err != nil {
				return
			}
			states, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return
			}
			s.mu.Lock()
			s.samples++
			for _, st := range states {
				s.counts[st]++
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// Stop ends the sampling and returns the shares.
func (s *WaitSampler) Stop() WaitShares {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	var total int
	for _, c := range s.counts {
		total += c
	}
	w := WaitShares{Shares: map[string]float64{}}
	if s.samples == 0 || total == 0 {
		return w
	}
	w.Backends = float64(total) / float64(s.samples)
	for k, c := range s.counts {
		w.Shares[k] = float64(c) / float64(total)
	}
	return w
}
