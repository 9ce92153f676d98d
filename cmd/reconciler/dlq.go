package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/reconciler"
)

// deadLetters runs `reconciler dlq list` and `reconciler dlq replay`.
func deadLetters(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return cli.Usagef(usage, "reconciler dlq: the commands are `dlq list` and `dlq replay`")
	}
	fs := flag.NewFlagSet("dlq "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sinceFlag := fs.String("since", "", "only dead letters refused at or after TIME (RFC 3339, or a duration back from now: 24h)")
	idsFlag := fs.String("id", "", "replay: only these dead letters (comma-separated ids)")
	if err := fs.Parse(args[1:]); err != nil {
		return cli.Usagef(usage, "reconciler dlq %s: %v", args[0], err)
	}
	if fs.NArg() > 0 {
		return cli.Usagef(usage, "reconciler dlq %s takes no arguments, only flags: %q", args[0], fs.Args())
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return cli.Usagef(usage, "reconciler dlq %s: %v", args[0], err)
	}
	var ids []int64
	for _, f := range strings.FieldsFunc(*idsFlag, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return cli.Usagef(usage, "reconciler dlq replay: --id: %q is not a dead letter id", f)
		}
		ids = append(ids, id)
	}
	if args[0] == "list" && len(ids) > 0 {
		return cli.Usagef(usage, "reconciler dlq list takes --since, not --id")
	}
	env, err := config.ReadEnv(getenv, "DATABASE_URL")
	if err != nil {
		return err
	}
	var (
		gate    *lazyGate
		expKeys matching.Keys
	)
	if args[0] == "replay" { // before connecting: a missing key is a configuration error, not a database one
		if gate, err = readGate(env, getenv); err != nil {
			return err
		}
		if expKeys, err = matching.ReadKeys(getenv); err != nil {
			return err
		}
	}
	pool, err := cli.Pool(ctx, env)
	if err != nil {
		return err
	}
	defer pool.Close()
	if args[0] == "list" {
		n, err := reconciler.ListDeadLetters(ctx, pool, since, stdout)
		if err == nil {
			fmt.Fprintf(stdout, "%d dead letters\n", n)
		}
		return err
	}
	chk, err := config.ReadChecks(getenv)
	if err != nil {
		return err
	}
	match, err := matching.ReadConfig(getenv)
	if err != nil {
		return err
	}
	kenv, err := config.ReadKafka(getenv)
	if err != nil {
		return err
	}
	// A replayed letter passes the same trust gate as a consumed message: a letter refused as untrusted
	// applies only once its source is registered or its signature checks out. An expectation, where they must
	// be signed, never does: a dead letter keeps no headers, so no signature (reconciler.Replay).
	gate.pool = pool
	r := reconciler.New(reconciler.Config{Group: kenv.ConsumerGroup, Checks: chk, Matching: match, Trust: gate,
		ExpectationKeys: expKeys}, pool, nil, nil, log)
	_, err = r.Replay(ctx, ids, since, stdout)
	return err
}

// parseSince reads --since: an RFC 3339 time, or a duration back from now ("24h").
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since: %q is neither an RFC 3339 time nor a duration such as 24h", s)
}
