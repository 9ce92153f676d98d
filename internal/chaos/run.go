package chaos

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/testpoint"
)

// Options configure a run.
type Options struct {
	Setting Setting
	// BinDir holds the poller and reconciler binaries (`make build` puts them in bin/).
	BinDir string
	// Self is this program's executable, started again as `broker` for the broker's process.
	Self string
	// Dir is the work directory (PostgreSQL's and the broker's data, every process's log). Default: a new
	// temporary directory, removed after a run that passed.
	Dir string
	// Seed drives every random choice of the run (which request, how long, which batch size) and the
	// simulated histories; the same seed replays the same plan, if not the same timing.
	Seed uint64
	// Out receives the progress lines and the summary.
	Out io.Writer
	// Broker is BrokerFake (kfake, in a process of this program) or BrokerReal (Apache Kafka). Default fake.
	Broker string
	// NoBigPoison leaves out the poison message of the broker's maximum size (only the small ones are
	// published): a reconciler that cannot dead-letter it stalls its partition.
	NoBigPoison bool
}

// suite is one run.
type suite struct {
	o     Options
	dir   string
	start time.Time

	rngMu sync.Mutex
	rng   *rand.Rand

	pg     *postgres
	broker broker
	w      *world
	procs  *procs
	pool   *pgxpool.Pool // the suite's own connections: progress and verification
	dbURL  string

	reconcilerKills  atomic.Int64
	reconcilerStarts atomic.Int64
	reconcilerExits  atomic.Int64 // exits the suite did not cause (the loop starts it again, as Kubernetes would)
	pollerKills      atomic.Int64
	pollerRuns       atomic.Int64
	pollerFailed     atomic.Int64 // runs that exited non-zero: faults beyond the retries, broker or PostgreSQL down
	brokerRestarts   atomic.Int64
	pgRestarts       atomic.Int64
	disruptionsDone  atomic.Bool
	faultArms        int
	poison           [][]byte
	poisonFaults     int // distinct faults among the poison messages: one dead_letter alert each
	maxMessage       int // the broker's message.max.bytes

	pointsMu    sync.Mutex
	pointKills  map[string]int // SIGKILLs at each test point, each confirmed by the process's own log
	pointResume map[string]int // pauses at a point whose kills were done: let go

	group  groupWatch
	killMu sync.Mutex // held by the reconciler loop whose member is dead, until it starts it again

	tokens   tokenWatch // the token expiries and what the pollers did at them (tokens.go)
	replicas sync.Map   // poller process name → the pollerLoop replica that started it

	outMu sync.Mutex
}

// Run runs the suite and returns its summary, and an error naming every violation it found.
func Run(ctx context.Context, o Options) (*Summary, error) {
	s := &suite{o: o, start: time.Now(), rng: rand.New(rand.NewPCG(o.Seed, 0x6368616f73)),
		pointKills: map[string]int{}, pointResume: map[string]int{}}
	s.o.Broker = cmp.Or(s.o.Broker, BrokerFake)
	if s.o.Broker != BrokerFake && s.o.Broker != BrokerReal {
		return nil, fmt.Errorf("unknown broker %q: %s or %s", s.o.Broker, BrokerFake, BrokerReal)
	}
	s.dir = o.Dir
	if s.dir == "" {
		d, err := os.MkdirTemp("", "mizan-chaos-")
		if err != nil {
			return nil, err
		}
		s.dir = d
	}
	// The server runs as postgres: it must be able to reach its data directory inside ours.
	if err := os.MkdirAll(filepath.Join(s.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, err
	}
	s.logf("setting %s; broker %s; seed %d; work directory %s", o.Setting, s.o.Broker, o.Seed, s.dir)
	sum, err := s.run(ctx)
	if err != nil {
		s.logf("FAILED; the logs are in %s", filepath.Join(s.dir, "logs"))
		return sum, err
	}
	if o.Dir == "" {
		_ = os.RemoveAll(s.dir)
	}
	return sum, nil
}

func (s *suite) run(ctx context.Context) (*Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Setting.Timeout)
	defer cancel()

	// PostgreSQL of our own.
	pg, err := startPostgres(ctx, s.dir)
	if err != nil {
		return nil, err
	}
	s.pg = pg
	defer func() { _ = pg.stop(context.Background(), "fast") }()
	if s.dbURL, err = pg.createDatabase(ctx, "mizan_chaos"); err != nil {
		return nil, err
	}
	s.logf("PostgreSQL %s: a throwaway cluster on 127.0.0.1:%d", filepath.Join(s.dir, "pg"), pg.port)

	// The broker in a process of its own.
	logDir := filepath.Join(s.dir, "logs")
	if s.o.Broker == BrokerReal {
		s.broker = &realBroker{dir: filepath.Join(s.dir, "kafka"), logDir: logDir}
	} else {
		kport, err := freePort()
		if err != nil {
			return nil, err
		}
		s.broker = &fakeBroker{self: s.o.Self, dir: filepath.Join(s.dir, "kafka"), port: kport, logDir: logDir}
	}
	brokerUp := time.Now()
	if err := s.broker.start(ctx); err != nil {
		return nil, err
	}
	defer s.broker.kill(syscall.SIGTERM)
	s.logf("broker: %s, data in %s, ready in %s", s.broker, filepath.Join(s.dir, "kafka"), time.Since(brokerUp).Round(time.Millisecond))

	// The simulators and Slack.
	// The live items start a few seconds on, about when the chaos does (after the migrations and topics).
	w, err := newWorld(s.o.Setting, time.Now(), time.Now().Add(10*time.Second), s.o.Seed)
	if err != nil {
		return nil, err
	}
	s.w = w
	defer w.close()
	w.kill.delay = s.pollerKillDelay
	w.kill.killed = func(p *proc) {
		n := s.pollerKills.Add(1)
		s.logf("poller kill %d/%d: %s mid-page, %s after it started", n, s.o.Setting.PollerKills, p.name,
			time.Since(p.started).Round(time.Millisecond))
	}
	for _, b := range w.vsim.Businesses() {
		s.logf("vandar %s: %d items over %d days", b, len(w.vsim.Items(b)), s.o.Setting.Days)
	}
	s.logf("world: %d live items from %s to %s, %d token expiries planned (%d refreshes faulted), a restatement of %v",
		len(w.live.items), w.live.start.Format("15:04:05"), w.live.end.Format("15:04:05"), len(w.live.expiries),
		s.o.Setting.RefreshFaults, w.live.restate != nil)
	if err := w.writeSources(filepath.Join(s.dir, "sources.yaml")); err != nil {
		return nil, err
	}
	s.procs = &procs{bin: s.o.BinDir, logDir: logDir, env: w.env(s.dir, s.dbURL, s.broker.addr(), s.o.Setting.ApplyWorkers),
		seq: map[string]int{}, running: map[*proc]bool{}, points: s.pointsToArm}
	defer s.procs.killAll()
	// Test points are watched from the first process to the last: a kill at Slack's acceptance can only land
	// once the alert is raised, which may be as late as the final run.
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	go s.watchPoints(watchCtx)

	if _, err := s.procs.run(ctx, 2*time.Minute, "reconciler", nil, "migrate"); err != nil {
		return nil, err
	}
	if _, err := s.procs.run(ctx, 2*time.Minute, "reconciler", nil, "topics", "--partitions", strconv.Itoa(partitions),
		"--replication", "1"); err != nil {
		return nil, err
	}
	if s.pool, err = pgxpool.New(ctx, s.dbURL); err != nil {
		return nil, err
	}
	defer s.pool.Close()
	if err := s.publishPoison(ctx); err != nil {
		return nil, fmt.Errorf("publish the poison messages: %w", err)
	}
	s.faultArms = w.armFaults()

	// Chaos.
	go s.group.watch(watchCtx, s.broker.addr(), config.DefaultConsumerGroup, filepath.Join(logDir, "group.log")) // who owns which partition, as the coordinator says
	chaosStart := time.Now()
	moveCtx, stopMoving := context.WithCancel(ctx)
	var moving sync.WaitGroup
	moving.Go(func() { s.expireTokens(moveCtx) })
	moving.Go(func() { w.live.restateMidChaos(moveCtx, w.vsim, s.posted, s.logf) })
	err = s.chaos(ctx)
	stopMoving()
	moving.Wait()
	if err != nil {
		return nil, err
	}
	chaosTook := time.Since(chaosStart)

	// Let the pipeline finish, with nothing misbehaving any more.
	w.clearFaults()
	s.logf("chaos over after %s; letting the pipeline finish", chaosTook.Round(time.Second))
	if err := s.finish(ctx); err != nil {
		return nil, err
	}
	stopWatching()
	sum, err := s.verify(ctx)
	if sum != nil {
		sum.Took, sum.ChaosTook = time.Since(s.start), chaosTook
		s.logf("%s", sum.Line(s.o.Setting.Name, err == nil))
	}
	return sum, err
}

// chaos runs the poller and the reconciler under every disruption until the setting's counts are reached.
func (s *suite) chaos(ctx context.Context) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	set := s.o.Setting
	loops := []func(context.Context) error{s.disrupt}
	for i := range max(1, set.Pollers) {
		loops = append(loops, func(ctx context.Context) error { return s.pollerLoop(ctx, i) })
	}
	for range max(1, set.Reconcilers) {
		loops = append(loops, s.reconcilerLoop)
	}
	errs := make(chan error, len(loops))
	for _, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loop(ctx); err != nil {
				errs <- err
				stop()
			}
		}()
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			done = s.reconcilerKills.Load() >= int64(set.ReconcilerKills) && s.pollerKills.Load() >= int64(set.PollerKills) &&
				s.disruptionsDone.Load() && s.pointsDone(testpoint.PollerPublished, testpoint.ReconcilerApplied) &&
				s.w.live.restated() && s.tokensDone()
		}
	}
	stop()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	if s.reconcilerKills.Load() < int64(set.ReconcilerKills) || s.pollerKills.Load() < int64(set.PollerKills) ||
		!s.disruptionsDone.Load() || !s.pointsDone(testpoint.PollerPublished, testpoint.ReconcilerApplied) ||
		!s.w.live.restated() || !s.tokensDone() {
		rotated, failed, recovered := s.w.live.refresh.counts()
		return fmt.Errorf("the chaos did not reach its counts within %s: %d of %d reconciler kills, %d of %d poller kills, disruptions done %v, "+
			"kills at test points %v, restated %v, tokens: %s, %d refreshes rotated, %d failed, %d after a failure",
			set.Timeout, s.reconcilerKills.Load(), set.ReconcilerKills, s.pollerKills.Load(), set.PollerKills, s.disruptionsDone.Load(),
			s.pointCounts(), s.w.live.restated(), &s.tokens, rotated, failed, recovered)
	}
	return nil
}

// pollerLoop runs `poller once` again and again, as a CronJob would. Loop 0's runs, until the setting's poller
// kills are done, are each armed to be killed at a random request; the other loops are replicas polling the
// same sources at the same time, which the advisory locks must keep apart (the simulator checks).
func (s *suite) pollerLoop(ctx context.Context, replica int) error {
	if replica > 0 {
		for ctx.Err() == nil {
			p, err := s.procs.start("poller", nil, "once")
			if err != nil {
				return err
			}
			s.replicas.Store(p.name, replica)
			s.pollerRuns.Add(1)
			select {
			case <-p.done:
			case <-ctx.Done():
				p.stop(time.Minute)
			}
			if p.err != nil && !p.killed.Load() && !p.stopped.Load() {
				s.pollerFailed.Add(1)
			}
			sleep(ctx, time.Duration(200+s.intN(500))*time.Millisecond)
		}
		return nil
	}
	// How many requests (of each counting) the last run that was not killed made: once the backfill is done
	// runs are short, and the kill is armed within them.
	lastRun := map[bool]int{true: 12, false: 12}
	for ctx.Err() == nil {
		// Two runs in three are killed on a statement page, the others on any request (balance, settlements,
		// batches, their items).
		at, statement := 0, s.intN(3) > 0
		if s.pollerKills.Load() < int64(s.o.Setting.PollerKills) {
			at = 1 + s.intN(max(1, min(12, lastRun[statement])))
		}
		s.w.kill.begin(at, statement)
		p, err := s.procs.start("poller", nil, "once")
		if err != nil {
			return err
		}
		s.w.kill.attach(p)
		s.replicas.Store(p.name, replica)
		s.pollerRuns.Add(1)
		select {
		case <-p.done:
		case <-ctx.Done():
			// The chaos is over: the run in flight finishes (or is stopped, as a CronJob's pod would be).
			select {
			case <-p.done:
			case <-time.After(time.Minute):
				p.stop(30 * time.Second)
			}
		}
		requests := s.w.kill.end()
		if p.err != nil && !p.killed.Load() && !p.stopped.Load() {
			s.pollerFailed.Add(1)
		}
		if p.err == nil {
			lastRun[statement] = requests
		}
		sleep(ctx, time.Duration(200+s.intN(500))*time.Millisecond)
	}
	return nil
}

// reconcilerLoop keeps one `reconciler run` going — one member of the group; the suite runs Setting.Reconcilers
// loops at once — and kills it at random points of its stream: once a run
// has applied something (it holds partitions and is mid-stream), after a random delay — often at once, so
// that kills land between a batch's commit in PostgreSQL and its offset commit in Kafka. Once the kills are
// done the last run goes on until the chaos is over and is then stopped with SIGTERM.
func (s *suite) reconcilerLoop(ctx context.Context) error {
	set := s.o.Setting
	for ctx.Err() == nil {
		batch := s.batchSize()
		p, err := s.procs.start("reconciler", []string{"KAFKA_MAX_BATCH=" + strconv.Itoa(batch)}, "run")
		if err != nil {
			return err
		}
		s.reconcilerStarts.Add(1)
		if s.reconcilerKills.Load() >= int64(set.ReconcilerKills) {
			select {
			case <-ctx.Done():
				// A graceful stop of a running reconciler, not of one still starting (a stop then exits 1
				// with "context canceled", which says nothing about shutdown).
				for i := 0; i < 300 && !p.exited() && !logHas(p.log, "reconciler started"); i++ {
					time.Sleep(100 * time.Millisecond)
				}
				p.stop(time.Minute)
				if p.err != nil && !p.killed.Load() {
					return fmt.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", p.name, p.err, tail(p.log, 20))
				}
				return nil
			case <-p.done:
				s.exited(p)
				sleep(ctx, 500*time.Millisecond) // as a Deployment backs off a crashing pod
				continue
			}
		}
		base := s.processed(ctx)
		deadline := time.Now().Add(90 * time.Second)
		for ctx.Err() == nil && !p.exited() && !deadline.IsZero() && time.Now().Before(deadline) {
			switch n := s.processed(ctx); {
			case n < 0: // PostgreSQL is down: wait
			case base < 0:
				base = n
			case n > base:
				deadline = time.Time{} // progress: it is mid-stream
			}
			sleep(ctx, 20*time.Millisecond)
		}
		if ctx.Err() != nil {
			p.stop(time.Minute)
			return nil
		}
		if !p.exited() {
			sleep(ctx, s.killDelay())
		}
		if p.exited() {
			s.exited(p)
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		// One member dies at a time: the others stay live and take its partitions, which is what a group of
		// several is for (kills all at once would only show a group starting over).
		s.killMu.Lock()
		// Half of the kills (and every one until a partition has moved between live members) wait for the
		// live members to take the dead one's partitions. Such a kill lands only on a settled group — Stable,
		// every live member in it — else the members it leaves may all be new ones, joined since the other
		// loops' kills, and nothing moves between live members (a run on Apache Kafka saw 0 moves so).
		waitForLive := s.intN(2) == 1 || !s.group.moved()
		if waitForLive {
			s.group.waitSettled(ctx, s.running("reconciler"), 30*time.Second)
		}
		seq := s.group.mark()
		if !p.kill() {
			s.killMu.Unlock()
			continue // killed at a test point meanwhile, or exited
		}
		n := s.reconcilerKills.Add(1)
		s.logf("reconciler kill %d/%d: %s (batches of %d) after %s, %d events applied", n, set.ReconcilerKills, p.name,
			batch, time.Since(p.started).Round(time.Millisecond), s.processed(ctx))
		if !waitForLive {
			// Back at once: the new member joins the rebalance the dead one causes.
			sleep(ctx, time.Duration(s.intN(300))*time.Millisecond)
		} else if s.group.waitShrunk(ctx, seq, s.running("reconciler"), 30*time.Second) {
			// Back only once the live members have taken the dead one's partitions (after its session timeout).
			s.logf("%s's partitions went to the live members; starting it again", p.name)
		}
		s.killMu.Unlock()
	}
	return nil
}

// running counts the processes of command running now.
func (s *suite) running(command string) int {
	n := 0
	for _, p := range s.procs.list() {
		if strings.HasPrefix(p.name, command+"-") {
			n++
		}
	}
	return n
}

// exited notes a reconciler that exited without being killed: the loop starts it again, as a Deployment would.
func (s *suite) exited(p *proc) {
	if p.killed.Load() {
		return // killed at a test point (watchPoints counts and logs it)
	}
	s.reconcilerExits.Add(1)
	s.logf("%s exited by itself (%v); starting it again. Its last lines:\n%s", p.name, p.err, indent(tail(p.log, 3)))
}

// disrupt restarts the broker and PostgreSQL mid-stream, spread over the reconciler's kills, alternating
// clean and crash stops.
func (s *suite) disrupt(ctx context.Context) error {
	defer s.disruptionsDone.Store(true)
	set := s.o.Setting
	type disruption struct {
		broker bool
		crash  bool
	}
	var plan []disruption
	for i := 0; i < max(set.BrokerRestarts, set.PostgresRestarts); i++ {
		if i < set.BrokerRestarts {
			plan = append(plan, disruption{broker: true, crash: i%2 == 1})
		}
		if i < set.PostgresRestarts {
			plan = append(plan, disruption{crash: i%2 == 0})
		}
	}
	for i, d := range plan {
		at := int64((i + 1) * set.ReconcilerKills / (len(plan) + 1))
		for ctx.Err() == nil && s.reconcilerKills.Load() < at {
			sleep(ctx, 50*time.Millisecond)
		}
		if ctx.Err() != nil {
			return nil
		}
		sleep(ctx, time.Duration(s.intN(1500))*time.Millisecond) // somewhere in the next run's stream
		down := time.Duration(300+s.intN(2500)) * time.Millisecond
		// The restart completes even when the chaos ends meanwhile: the pipeline must finish against them.
		bg := context.WithoutCancel(ctx)
		if d.broker {
			sig, how := syscall.SIGTERM, "cleanly (SIGTERM)"
			if d.crash {
				sig, how = syscall.SIGKILL, "by a crash (SIGKILL)"
			}
			s.broker.kill(sig)
			time.Sleep(down)
			if err := s.broker.start(bg); err != nil {
				return fmt.Errorf("restart the broker: %w", err)
			}
			s.logf("broker restarted %s, down %s", how, down.Round(time.Millisecond))
			s.brokerRestarts.Add(1)
			continue
		}
		mode := "fast"
		if d.crash {
			mode = "immediate"
		}
		// Not while a poller stores a rotated token pair (live.go, refreshGate).
		s.w.live.refresh.wait(ctx, 20*time.Second)
		if err := s.pg.stop(bg, mode); err != nil {
			return err
		}
		time.Sleep(down)
		if err := s.pg.start(bg); err != nil {
			return fmt.Errorf("restart PostgreSQL: %w", err)
		}
		s.logf("PostgreSQL restarted (%s shutdown), down %s", mode, down.Round(time.Millisecond))
		s.pgRestarts.Add(1)
	}
	return nil
}

// finish lets the pipeline complete: once the world has stopped moving, the poller until one run is clean,
// then the reconciler until idle.
func (s *suite) finish(ctx context.Context) error {
	if wait := time.Until(s.w.live.end.Add(time.Second)); wait > 0 {
		s.logf("waiting %s for the world's last live change", wait.Round(time.Second))
		sleep(ctx, wait)
	}
	return s.finishOnce(ctx)
}

// posted reports whether the ledger has an entry of the key (false while PostgreSQL does not answer).
func (s *suite) posted(ctx context.Context, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger.entries WHERE idempotency_key = $1)`, key).Scan(&ok)
	return err == nil && ok
}

func (s *suite) finishOnce(ctx context.Context) error {
	var err error
	for i := 0; i < 10; i++ {
		if _, err = s.procs.run(ctx, 5*time.Minute, "poller", nil, "once"); err == nil {
			break
		}
		s.logf("final poll %d failed: %v", i+1, err)
		sleep(ctx, 2*time.Second)
	}
	if err != nil {
		return fmt.Errorf("the poller never completed a clean run after the chaos: %w", err)
	}
	return s.reconcileIdle(ctx)
}

// reconcileIdle runs `reconciler run --until-idle` until one run succeeds.
func (s *suite) reconcileIdle(ctx context.Context) error {
	var err error
	for i := 0; i < 5; i++ {
		var p *proc
		if p, err = s.procs.start("reconciler", nil, "run", "--until-idle"); err != nil {
			return err
		}
		if err = s.untilIdle(ctx, p); err == nil {
			return nil
		}
		if errors.Is(err, errStalled) {
			return err
		}
		s.logf("reconciler --until-idle %d failed: %v", i+1, err)
	}
	return fmt.Errorf("the reconciler never caught up after the chaos: %w", err)
}

// errStalled is a reconciler that has work and applies none of it.
var errStalled = errors.New("stalled")

// stallAfter is how long a final reconciler may apply nothing before the suite calls it stalled: a safety net
// far beyond any retry or rebalance, so that a stall fails the run in minutes instead of at its timeout.
const stallAfter = 3 * time.Minute

// untilIdle waits for a `reconciler run --until-idle` to exit, and kills it when it has applied nothing for
// stallAfter (PostgreSQL answering all along).
func (s *suite) untilIdle(ctx context.Context, p *proc) error {
	last, since := s.processed(ctx), time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			if p.err != nil {
				return fmt.Errorf("%s: %v (log %s)", p.name, p.err, p.log)
			}
			return nil
		case <-ctx.Done():
			p.kill()
			return ctx.Err()
		case <-tick.C:
		}
		switch n := s.processed(ctx); {
		case n < 0 || n != last:
			last, since = n, time.Now()
		case time.Since(since) > stallAfter:
			p.kill()
			return fmt.Errorf("%w: %s applied nothing for %s with work left; its last lines:\n%s", errStalled, p.name,
				stallAfter, indent(tail(p.log, 4)))
		}
	}
}

// publishPoison writes messages the reconciler must refuse to the statement topic, on acme's key, so they sit
// between good events of the partition the chaos hits: bytes that are not an event, an unknown type and a
// newer schema version. Each must become exactly one dead letter, whatever the kills replay.
func (s *suite) publishPoison(ctx context.Context) error {
	good := func(typ string) []byte {
		return []byte(fmt.Sprintf(`{"specversion":"1.0","id":"chaos-poison-%s","source":"/chaos","type":%q,`+
			`"time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{"provider":"vandar","account":"acme"}}`,
			strings.ReplaceAll(typ, ".", "-"), typ))
	}
	// Three faults: not an event (malformed), an unknown type, a newer version of a known one.
	s.poison = [][]byte{[]byte(`{"specversion":"1.0","id":`), good("io.mizan.something.v1"), good("io.mizan.statement.item.v9")}
	s.poisonFaults = 3
	limit, err := kafka.MaxMessageBytes(ctx, kafka.Config{Brokers: []string{s.broker.addr()}})
	if err != nil {
		return err
	}
	s.maxMessage = limit
	if !s.o.NoBigPoison {
		// As big as the broker takes: its limit is on the record batch, which adds about 70 bytes to a record of
		// one value and an 11-byte key; 200 leaves room for kafka-go's own accounting. Cut off, it is malformed
		// like the first: a dead letter of its own, under the same alert.
		big := []byte(`{"specversion":"1.0","id":"chaos-poison-big","data":"`)
		big = append(big, bytes.Repeat([]byte("x"), limit-200-len(big))...)
		s.poison = append(s.poison, big)
		s.logf("poison: %d messages, the biggest %d bytes (the broker's message.max.bytes is %d)", len(s.poison), len(big), limit)
	}
	wr := &kafkago.Writer{Addr: kafkago.TCP(s.broker.addr()), Topic: events.TopicStatement,
		Balancer: &kafkago.Murmur2Balancer{Consistent: true}, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafkago.RequireAll,
		BatchBytes: int64(limit)}
	defer wr.Close()
	var msgs []kafkago.Message
	for _, p := range s.poison {
		msgs = append(msgs, kafkago.Message{Key: []byte(events.Key(events.ProviderVandar, clean)), Value: p})
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return wr.WriteMessages(ctx, msgs...)
}

// processed counts the events applied so far; -1 when PostgreSQL does not answer.
func (s *suite) processed(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recon.processed_events`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// batchSize draws the reconciler's KAFKA_MAX_BATCH: from 1 to 1000, most of them small.
func (s *suite) batchSize() int {
	return []int{1, 3, 10, 25, 50, 100, 200, 500, 1000}[s.intN(9)]
}

// killDelay draws how long after a run's first applied batch it is killed: half at once, the rest within 3s.
func (s *suite) killDelay() time.Duration {
	if s.intN(2) == 0 {
		return time.Duration(s.intN(30)) * time.Millisecond
	}
	return time.Duration(s.intN(3000)) * time.Millisecond
}

// pollerKillDelay draws how long after the armed request arrives the poller is killed: while the simulator
// answers, while the poller decodes and publishes the page, or while it saves the cursor.
func (s *suite) pollerKillDelay() time.Duration {
	switch s.intN(3) {
	case 0:
		return time.Duration(s.intN(5000)) * time.Microsecond
	case 1:
		return time.Duration(5+s.intN(45)) * time.Millisecond
	}
	return time.Duration(50+s.intN(250)) * time.Millisecond
}

func (s *suite) intN(n int) int {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.IntN(n)
}

func (s *suite) logf(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	fmt.Fprintf(s.o.Out, "chaos %6.1fs  %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// logHas reports whether a process's log holds text.
func logHas(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), text)
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
