package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
)

// RSSOptions describe the memory run: the built poller binary backfilling Items statement items, split over
// Sources businesses.
type RSSOptions struct {
	PollerBin string
	DB        *Database
	Kafka     kafka.Config
	Items     int
	Sources   int
	Dir       string // for the sources file and the poller's log
	// FirstItems: the run notes when this many items had been served (the rate of a backfill of that size),
	// and then calls OnFirstItems, if set, in a goroutine of its own.
	FirstItems   int
	OnFirstItems func()
}

// RSSResult is the poller process's memory over the backfill.
type RSSResult struct {
	Items   int
	Sources int
	Command string
	Elapsed time.Duration
	// Peak is the process's peak resident set: its VmHWM, sampled from /proc every 100 ms until it exits (a
	// high-water mark, so a sample sees every peak before it).
	Peak int64 // bytes
	// Timeline is the resident set at fractions of the backfill (by items served), for seeing growth.
	Timeline []RSSPoint
	// PoolMaxConns is set when the database URL had to raise the poller's pool size for Sources concurrent
	// polls (see the report).
	PoolMaxConns int
	// FirstItems were served FirstElapsed after the start.
	FirstItems   int
	FirstElapsed time.Duration
	// CPU is the poller process's user and system time.
	CPU time.Duration
}

// FirstRate is the rate over the first FirstItems items.
func (r RSSResult) FirstRate() float64 { return float64(r.FirstItems) / r.FirstElapsed.Seconds() }

// RSSPoint is the resident set when a share of the items had been served.
type RSSPoint struct {
	Done float64 // 0–1
	RSS  int64   // bytes
}

// Rate is items per second.
func (r RSSResult) Rate() float64 { return float64(r.Items) / r.Elapsed.Seconds() }

// PollerRSS runs the poller binary as a child process against a simulator of about o.Items items over
// o.Sources businesses, unthrottled, and samples its memory until every item is published. One source runs
// `poller once`; several run `poller run` with every statement feed due each second, so the polls run at
// once, as a deployment's do — and o.Sources times faster than one source behind the client's rate limiter.
func PollerRSS(ctx context.Context, o RSSOptions) (RSSResult, error) {
	res := RSSResult{Items: o.Items, Sources: o.Sources}
	if _, err := os.Stat(o.PollerBin); err != nil {
		return res, fmt.Errorf("poller binary: %w (make bench builds it)", err)
	}
	businesses := slugs("mem", o.Sources)
	var histories []vandartest.BusinessOptions
	for i, slug := range businesses {
		histories = append(histories, history(slug, 17+int64(i)*7919, o.Items/o.Sources))
	}
	sim, err := newSimulator(false, histories...)
	if err != nil {
		return res, err
	}
	defer sim.Close()
	var names, last []string
	res.Items = 0
	for _, slug := range businesses {
		n, id := statementSize(sim, slug)
		res.Items += n
		names = append(names, "vandar-"+slug)
		last = append(last, id)
	}
	total := int64(res.Items)

	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return res, err
	}
	sourcesFile := filepath.Join(o.Dir, "rss-sources.yaml")
	if err := os.WriteFile(sourcesFile, []byte(sourcesYAML(sim, businesses)), 0o644); err != nil {
		return res, err
	}
	dbURL := o.DB.URL
	if o.Sources > 1 {
		// Each running poll holds a pooled connection for its advisory lock while it saves cursors through
		// another: pgxpool's default of max(4, cores) connections deadlocks at four concurrent polls.
		res.PoolMaxConns = 2*o.Sources + 2
		u, err := url.Parse(dbURL)
		if err != nil {
			return res, err
		}
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(res.PoolMaxConns))
		u.RawQuery = q.Encode()
		dbURL = u.String()
	}
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL, "KAFKA_BROKERS="+strings.Join(o.Kafka.Brokers, ","),
		"MIZAN_TOPIC_PREFIX="+o.Kafka.TopicPrefix, "MIZAN_SOURCES="+sourcesFile, "MIZAN_SECRET_KEY="+benchSecret,
		"MIZAN_SIGNING_KEYS=bench:bench-signing-key-not-for-production-0123456789",
		"MIZAN_HTTP_ADDR=off", "MIZAN_LOG_LEVEL=warn")
	for _, slug := range businesses {
		access, refresh, _ := sim.IssueTokens(slug)
		env = append(env, "VANDAR_"+strings.ToUpper(slug)+"_ACCESS_TOKEN="+access,
			"VANDAR_"+strings.ToUpper(slug)+"_REFRESH_TOKEN="+refresh)
	}
	args := []string{"once"}
	if o.Sources > 1 {
		args = []string{"run"}
	}
	res.Command = "poller " + strings.Join(args, " ")
	cmd := exec.CommandContext(ctx, o.PollerBin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	conn, err := pgx.Connect(ctx, o.DB.URL)
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return res, err
	}
	defer conn.Close(context.Background())
	marks := []float64{0.1, 0.25, 0.5, 0.75, 0.9}
	var peak int64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var waitErr error
	finished := false
	for !finished {
		select {
		case waitErr = <-exited:
			finished = true
			continue
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return res, ctx.Err()
		case <-tick.C:
		}
		rss, hwm := procMemory(cmd.Process.Pid)
		peak = max(peak, hwm)
		pages, _ := sim.PageCost()
		done := float64(pages*100) / float64(total)
		if o.FirstItems > 0 && res.FirstElapsed == 0 && int64(pages)*100 >= int64(o.FirstItems) {
			res.FirstItems, res.FirstElapsed = o.FirstItems, time.Since(start)
			if o.OnFirstItems != nil {
				go o.OnFirstItems()
			}
		}
		for len(marks) > 0 && done >= marks[0] {
			res.Timeline = append(res.Timeline, RSSPoint{Done: marks[0], RSS: rss})
			marks = marks[1:]
		}
		if time.Since(start) > 30*time.Minute {
			_ = cmd.Process.Kill()
			<-exited
			return res, errors.New("poller did not finish within 30 minutes")
		}
		if o.Sources == 1 {
			continue
		}
		// `poller run` never ends by itself: it is done when every cursor has reached its business's last item.
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM poller.cursors c
			JOIN unnest($1::text[], $2::text[]) AS w(source, last_id) ON w.source = c.source
			WHERE c.feed = 'statement' AND c.cursor->>'last_id' = w.last_id`, names, last).Scan(&n); err == nil && n == len(names) {
			res.Elapsed = time.Since(start)
			rss, hwm := procMemory(cmd.Process.Pid)
			peak = max(peak, hwm)
			res.Timeline = append(res.Timeline, RSSPoint{Done: 1, RSS: rss})
			_ = cmd.Process.Signal(syscall.SIGTERM)
			waitErr = <-exited
			finished = true
			if waitErr != nil && strings.Contains(waitErr.Error(), "signal") {
				waitErr = nil
			}
		}
	}
	if res.Elapsed == 0 {
		res.Elapsed = time.Since(start)
	}
	// Not the child's rusage maxrss: Go starts children with vfork, and Linux carries the parent's high-water
	// mark from before the exec into the child's maxrss, so it reports the benchmark's own size.
	if cmd.ProcessState != nil {
		res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	res.Peak = peak
	if waitErr != nil {
		return res, fmt.Errorf("%s: %v: %s", res.Command, waitErr, lastLines(stderr.String(), 5))
	}
	return res, nil
}

// procMemory reads a process's current and peak resident set (VmRSS, VmHWM) in bytes.
func procMemory(pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n * 1024
		case "VmHWM":
			hwm = n * 1024
		}
	}
	return rss, hwm
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
