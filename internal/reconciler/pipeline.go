package reconciler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/testpoint"
)

// pipeline is one Run's moving parts:
//
//   - the fetcher (the goroutine that calls run) fetches and decodes batches, splits each into parts by key —
//     every message of one key (provider/account) goes to the same lane — and queues each part on its lane;
//   - one worker per lane applies its parts in order, each in a transaction of its own on a connection of its
//     own, merging the parts that queued while it was busy into one transaction;
//   - the committer commits the offsets of fetched batches in the order they were fetched, each once all of
//     its parts have committed: so an offset of a partition is committed only after every message before it
//     has been applied, whichever worker applied it.
//
// Order matters only within a key (a wallet's running balance, a settlement's lifecycle); accounts are
// per key, so workers of different keys never wait for each other's balance rows, and when they share one
// the ledger locks balance rows in account order, so they queue instead of deadlocking.
type pipeline struct {
	r         *Reconciler
	untilIdle bool

	lanes   []chan *job
	commitQ chan *inflight
	// inflight counts batches fetched and not yet committed (or given up).
	inflight atomic.Int64

	// stopCtx ends fetching and the taking of new parts: on shutdown, on a fatal error, or once caught up.
	stopCtx context.Context
	stop    context.CancelFunc
	// workCtx bounds database and Kafka work in hand: it outlives stopCtx by Config.SoftStop on shutdown.
	workCtx     context.Context
	workersGone chan struct{}

	fatalMu sync.Mutex
	fatal   error
}

// inflight is one fetched batch on its way through the workers.
type inflight struct {
	msgs      []kafka.Message
	remaining atomic.Int32 // parts not yet applied
	done      chan struct{}
}

func (b *inflight) partDone() {
	if b.remaining.Add(-1) == 0 {
		close(b.done)
	}
}

// job is the part of a fetched batch that one lane applies, decoded.
type job struct {
	b     *inflight
	batch []*decoded
}

func newPipeline(r *Reconciler, untilIdle bool) *pipeline {
	n := r.cfg.Workers
	p := &pipeline{r: r, untilIdle: untilIdle, lanes: make([]chan *job, n),
		// Bounded look-ahead: every worker can have a part in hand and one waiting, and the fetcher one more
		// batch; beyond that the fetcher waits, so memory stays bounded however far behind the group is.
		commitQ:     make(chan *inflight, 2*n+2),
		workersGone: make(chan struct{})}
	for i := range p.lanes {
		p.lanes[i] = make(chan *job, 2)
	}
	return p
}

// run runs the pipeline until ctx ends, a fatal error, or (untilIdle) the group has caught up.
func (p *pipeline) run(ctx context.Context) error {
	r := p.r
	p.stopCtx, p.stop = context.WithCancel(ctx)
	defer p.stop()
	var cancelWork context.CancelFunc
	p.workCtx, cancelWork = context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() { // soft stop: what is in hand gets SoftStop to finish once shutdown is asked for
		select {
		case <-ctx.Done():
			t := time.NewTimer(r.cfg.SoftStop)
			defer t.Stop()
			select {
			case <-t.C:
				cancelWork()
			case <-p.workCtx.Done():
			}
		case <-p.workCtx.Done():
		}
	}()

	var workers sync.WaitGroup
	for i, lane := range p.lanes {
		workers.Go(func() { p.worker(i, lane) })
	}
	committed := make(chan struct{})
	go func() { p.committer(); close(committed) }()

	err := p.fetch()
	for _, lane := range p.lanes {
		close(lane)
	}
	workers.Wait()
	close(p.workersGone)
	close(p.commitQ)
	<-committed
	p.fatalMu.Lock()
	defer p.fatalMu.Unlock()
	if p.fatal != nil {
		return p.fatal
	}
	return err
}

// fail ends the run with err (the first one wins).
func (p *pipeline) fail(err error) {
	p.fatalMu.Lock()
	if p.fatal == nil {
		p.fatal = err
	}
	p.fatalMu.Unlock()
	p.stop()
}

// fetch is the fetcher's loop; it returns when stopCtx ends or, untilIdle, once the group has caught up.
func (p *pipeline) fetch() error {
	r, ctx := p.r, p.stopCtx
	// The time-driven checks judge the data the reconciler has applied, so they run when it has caught up
	// (a fetch found nothing), or — under constant load — at least every other interval. Running them before
	// consuming what is waiting would call a source stale whose polls are sitting in the topic.
	lastPeriodic, idle := time.Now(), false
	for ctx.Err() == nil {
		if !p.untilIdle && ((idle && time.Since(lastPeriodic) >= r.cfg.Checks.Interval) ||
			time.Since(lastPeriodic) >= 2*r.cfg.Checks.Interval) {
			if err := r.periodic(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("time-driven checks failed; they run again next interval", "err", err)
			}
			lastPeriodic = time.Now()
		}
		waitCtx, cancel := context.WithTimeout(ctx, r.cfg.IdleAfter)
		msgs, err := r.consumer.FetchBatch(waitCtx)
		cancel()
		idle = len(msgs) == 0
		if !idle {
			p.dispatch(msgs)
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			// The reader retries on its own (a broker restarting, a rebalance): say so and fetch again.
			r.log.Warn("fetch failed; fetching again", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if p.inflight.Load() > 0 {
			continue // what was fetched is still being applied or committed
		}
		if r.health.progress() {
			r.resolveStalled(ctx) // nothing to do and nothing failing: not stalled
		}
		if p.untilIdle {
			_, total, err := r.consumer.Lag(ctx)
			if err != nil {
				return fmt.Errorf("check consumer lag: %w", err)
			}
			if total == 0 {
				return nil
			}
		}
	}
	return nil
}

// dispatch decodes a fetched batch, splits it by key into the lanes' parts and queues it for the committer.
// Decoding here, in the fetcher, keeps it off the workers' critical path: the workers' transactions run
// while the next batch is decoded (about 30 µs an event, docs/performance.md), on every core, so that a
// replay — all duplicates, little for PostgreSQL to do — is not bound by one goroutine's decoding.
func (p *pipeline) dispatch(msgs []kafka.Message) {
	parts := make([][]*decoded, len(p.lanes))
	all := decodeAll(p.stopCtx, msgs, p.r.cfg.Trust, p.r.cfg.ExpectationKeys, runtime.GOMAXPROCS(0))
	for k, m := range msgs {
		i := laneOf(m.Key, len(p.lanes))
		parts[i] = append(parts[i], &all[k])
	}
	b := &inflight{msgs: msgs, done: make(chan struct{})}
	for _, part := range parts {
		if len(part) > 0 {
			b.remaining.Add(1)
		}
	}
	select {
	case p.commitQ <- b:
	case <-p.stopCtx.Done():
		return
	}
	p.inflight.Add(1)
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		select {
		case p.lanes[i] <- &job{b: b, batch: part}:
		case <-p.stopCtx.Done():
			return // the batch stays incomplete: never committed, delivered again to the next consumer
		}
	}
}

// laneOf is the lane of a message key: the same key, the same lane, so a key's messages stay in order.
func laneOf(key []byte, n int) int {
	if n == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write(key)
	return int(h.Sum32() % uint32(n))
}

// worker applies the parts of one lane, in order.
func (p *pipeline) worker(i int, lane chan *job) {
	actor := fmt.Sprintf("worker %d", i)
	for {
		var j *job
		var ok bool
		select {
		case <-p.stopCtx.Done():
			return
		case j, ok = <-lane:
			if !ok {
				return
			}
		}
		if p.stopCtx.Err() != nil {
			return
		}
		jobs := []*job{j}
		batch := j.batch
	merge: // parts that queued while the last one was applied go into one transaction
		for len(batch) < p.r.cfg.MaxApply {
			select {
			case next, ok := <-lane:
				if !ok {
					break merge
				}
				jobs = append(jobs, next)
				if len(jobs) == 2 {
					batch = append(make([]*decoded, 0, p.r.cfg.MaxApply+len(next.batch)), batch...)
				}
				batch = append(batch, next.batch...)
			default:
				break merge
			}
		}
		if !p.applyWithRetry(actor, batch) {
			return
		}
		for _, j := range jobs {
			j.b.partDone()
		}
	}
}

// applyWithRetry applies one worker's batch, retrying what is not the messages' fault, and reports whether
// it did (false: the run is stopping).
func (p *pipeline) applyWithRetry(actor string, batch []*decoded) bool {
	r := p.r
	bo := newBackoff(r.cfg.RetryMax)
	for {
		err := r.applyJob(p.workCtx, batch)
		if err == nil {
			if r.health.recovered(actor) {
				r.resolveStalled(p.workCtx)
			}
			return true
		}
		if p.workCtx.Err() != nil {
			return false
		}
		class := Classify(err)
		r.cfg.Metrics.ApplyFailures.WithLabelValues(class.String()).Inc()
		if class == Environment {
			envErr := r.environmentError(p.workCtx, err)
			r.health.envProblem(envErr)
			r.raiseStalled(p.workCtx, Environment, envErr)
			if p.untilIdle {
				p.fail(envErr)
				return false
			}
			r.log.Error("environment problem: not consuming until it is fixed; nothing is dead-lettered and no offset committed",
				"err", envErr, "retry_in", r.cfg.EnvRetry)
			if !sleep(p.stopCtx, r.cfg.EnvRetry) {
				return false
			}
			continue
		}
		// Infrastructure (or a message fault only a commit revealed, which splitting takes care of).
		if class == Message {
			if err := r.applySplit(p.workCtx, batch); err == nil {
				if r.health.recovered(actor) {
					r.resolveStalled(p.workCtx)
				}
				return true
			} else if p.workCtx.Err() != nil {
				return false
			}
		}
		failing := r.health.failed(actor, class, err)
		wait := bo.NextBackOff()
		r.log.Warn("apply failed; retrying", "actor", actor, "class", class.String(), "err", err,
			"retry_in", wait.Round(time.Millisecond), "messages", len(batch), "failing_for", failing.Round(time.Millisecond))
		if failing >= r.cfg.StallAfter {
			r.raiseStalled(p.workCtx, class, err)
			if p.untilIdle {
				p.fail(&StalledError{Err: err})
				return false
			}
		}
		r.recordPendingStalled(p.workCtx)
		if !sleep(p.stopCtx, wait) {
			return false
		}
	}
}

// committer commits the offsets of fetched batches in fetch order, each once all its parts are applied.
// Once the workers are gone, it commits the batches that completed and stops at the first that did not:
// committing a later one would skip it.
func (p *pipeline) committer() {
	broken := false
	for b := range p.commitQ {
		if broken {
			p.inflight.Add(-1)
			continue
		}
		select {
		case <-b.done:
		case <-p.workersGone:
			select {
			case <-b.done:
			default:
				broken = true
				p.inflight.Add(-1)
				continue
			}
		}
		if !p.commit(b) {
			broken = true
		}
		p.inflight.Add(-1)
	}
}

// commit commits one applied batch's offsets, retrying while Kafka is away; false if it gave up.
func (p *pipeline) commit(b *inflight) bool {
	r := p.r
	// Every part of the batch is committed in PostgreSQL; its offsets are not yet. A crash here delivers the
	// batch again, which the event ids make harmless.
	testpoint.Reach(p.workCtx, testpoint.ReconcilerApplied) // tests only: off unless MIZAN_TEST_PAUSE_AT names it
	bo := newBackoff(r.cfg.RetryMax)
	for {
		err := r.consumer.Commit(p.workCtx, b.msgs)
		if err == nil {
			break
		}
		if p.workCtx.Err() != nil {
			return false // the ledger has the batch; a replay after this is skipped by event id
		}
		r.cfg.Metrics.ApplyFailures.WithLabelValues(Infrastructure.String()).Inc()
		failing := r.health.failed("offset committer", Infrastructure, err)
		wait := bo.NextBackOff()
		r.log.Warn("commit offsets failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if failing >= r.cfg.StallAfter {
			r.raiseStalled(p.workCtx, Infrastructure, err)
			if p.untilIdle {
				p.fail(&StalledError{Err: fmt.Errorf("commit offsets: %w", err)})
				return false
			}
		}
		if !sleep(p.workCtx, wait) {
			return false
		}
	}
	if r.health.recovered("offset committer") {
		r.resolveStalled(p.workCtx)
	}
	r.addStats(func(s *Stats) { s.Messages += len(b.msgs); s.Batches++ })
	r.cfg.Metrics.BatchSize.Observe(float64(len(b.msgs)))
	return true
}

// newBackoff is the retry schedule of infrastructure failures: exponential from 100ms, with ±50% jitter so
// that replicas retrying the same failure spread out, capped at max.
func newBackoff(max time.Duration) *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: 100 * time.Millisecond, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: max}
}

// sleep waits d or until ctx ends; it reports whether it waited the whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
