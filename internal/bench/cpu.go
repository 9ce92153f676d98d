package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux mizan runs on.
const clockTicks = 100

// CPUMeter splits the machine's CPU time over a phase between the benchmark's own process (the reconciler
// or the poller, running in it), the broker child, the PostgreSQL processes serving the phase's database
// (its backends, autovacuum workers on it, and the server's shared background processes: WAL writer,
// checkpointer, background writer) and everything else on the machine — other people's tests included,
// which is how a noisy measurement shows itself.
type CPUMeter struct {
	admin     string
	database  string
	brokerPid int

	start    time.Time
	machine  machineTicks
	self     int64
	broker   int64
	postgres map[int]int64 // at the start
	pids     []int
}

// CPUSplit is a phase's CPU use, in cores (1.0 = one core busy for the whole phase).
type CPUSplit struct {
	Cores                           int
	Machine, Self, Broker, Postgres float64
	Other                           float64 // Machine − the rest: processes that are not part of the benchmark
}

func (c CPUSplit) String() string {
	return fmt.Sprintf("machine %.0f%% of %d cores: PostgreSQL %.2f, this process %.2f, broker %.2f, other processes %.2f cores",
		100*c.Machine/float64(c.Cores), c.Cores, c.Postgres, c.Self, c.Broker, c.Other)
}

type machineTicks struct{ busy, total int64 }

// StartCPU starts measuring; database is the phase's database (its backends count as PostgreSQL).
func StartCPU(ctx context.Context, admin, database string, brokerPid int) *CPUMeter {
	m := &CPUMeter{admin: admin, database: database, brokerPid: brokerPid}
	m.start = time.Now()
	m.machine = readMachine()
	m.self = procTicks(os.Getpid())
	m.broker = procTicks(brokerPid)
	m.postgres = map[int]int64{}
	for _, pid := range postgresPids(ctx, admin, database) {
		m.postgres[pid] = procTicks(pid)
	}
	m.pids = slices.Collect(maps.Keys(m.postgres))
	return m
}

// Refresh looks up the database's server processes again: connections opened since start count from then
// on (a backend born in the phase counts from zero).
func (m *CPUMeter) Refresh(ctx context.Context) {
	m.pids = postgresPids(ctx, m.admin, m.database)
}

// Stop ends the measurement. Call it before the phase's connections close: a backend gone is not counted.
func (m *CPUMeter) Stop(ctx context.Context) CPUSplit {
	m.Refresh(ctx)
	return m.Split()
}

// Split is the CPU use from the start until now, over the processes known at the last Refresh.
func (m *CPUMeter) Split() CPUSplit {
	secs := time.Since(m.start).Seconds() * clockTicks
	mach := readMachine()
	s := CPUSplit{Cores: runtime.NumCPU()}
	if total := mach.total - m.machine.total; total > 0 {
		s.Machine = float64(mach.busy-m.machine.busy) / float64(total) * float64(s.Cores)
	}
	s.Self = float64(procTicks(os.Getpid())-m.self) / secs
	if m.brokerPid != 0 {
		s.Broker = float64(procTicks(m.brokerPid)-m.broker) / secs
	}
	var pg int64
	for _, pid := range m.pids {
		if t := procTicks(pid); t > 0 { // a backend gone since counts nothing
			pg += t - m.postgres[pid] // a backend born in the phase started at 0
		}
	}
	s.Postgres = float64(pg) / secs
	s.Other = max(s.Machine-s.Self-s.Broker-s.Postgres, 0)
	return s
}

// postgresPids are the server processes working for database, and the shared background ones.
func postgresPids(ctx context.Context, admin, database string) []int {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = $1 OR backend_type IN ('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher')`,
		database)
	if err != nil {
		return nil
	}
	pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// procTicks is a process's user + system CPU time in clock ticks, 0 if it cannot be read.
func procTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14, stime 15
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// readMachine reads the machine's busy and total CPU ticks from /proc/stat (idle and iowait are not busy).
func readMachine() machineTicks {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineTicks{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t machineTicks
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		t.total += n
		if i != 3 && i != 4 {
			t.busy += n
		}
	}
	return t
}
