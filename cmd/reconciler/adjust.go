package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/adjust"
	"github.com/mizanhq/mizan/internal/cli"
	"github.com/mizanhq/mizan/internal/config"
)

const adjustUsage = `usage:
  reconciler adjust --reason TEXT --post ACCOUNT=AMOUNT --post ACCOUNT=AMOUNT [flags]
                                     post an adjustment entry (e.g. clear suspense); amounts signed, debit positive
  reconciler adjust reverse ENTRY_ID --reason TEXT
                                     post the entry that negates an adjustment
  reconciler ack ALERT_ID --note TEXT
                                     acknowledge an open alert (shown in analytics.open_alerts, announced in Slack)

DATABASE_URL names your own login role, a member of mizan_accountant: it is recorded as the author.
See docs/analysts.md, "Clearing suspense".`

// accountantCommand runs `reconciler adjust …` and `reconciler ack …`: what an accountant does by hand,
// through the audited SQL functions (internal/adjust). args[0] is the command's name.
func accountantCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	run := adjustPost
	switch {
	case args[0] == "ack":
		run = acknowledge
	case len(args) > 1 && args[1] == "reverse":
		run, args = adjustReverse, args[1:]
	}
	if err := run(ctx, args[1:], getenv, stdout); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil // -h printed the usage
}

func adjustPost(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlags("adjust")
	var a adjust.Adjustment
	fs.StringVar(&a.Reason, "reason", "", "why: which ticket, statement line or decision (required)")
	fs.Func("post", "ACCOUNT=AMOUNT, signed, debit positive; at least two, summing to zero per currency", func(s string) error {
		p, err := adjust.ParsePosting(s)
		if err == nil {
			a.Postings = append(a.Postings, p)
		}
		return err
	})
	fs.Func("clears", "comma-separated entry ids of the suspense lines it settles (analytics.suspense.entry_id)", func(s string) error {
		ids, err := adjust.ParseIDs(s)
		a.Clears = append(a.Clears, ids...)
		return err
	})
	fs.Func("effective-at", "when it takes effect, RFC 3339 (default: now; never in the future)", func(s string) error {
		t, err := time.Parse(time.RFC3339, s)
		a.EffectiveAt = t
		return err
	})
	fs.BoolVar(&a.CreateAccounts, "create-accounts", false, "open accounts that do not exist yet (in the others' currency)")
	fs.StringVar(&a.Key, "key", "", "idempotency key: run again with the same key, it posts once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("adjust: unexpected %q\n%s", fs.Arg(0), adjustUsage)
	}
	if err := a.Validate(); err != nil {
		return err
	}
	return withAccountant(ctx, getenv, func(pool *pgxpool.Pool, who string) error {
		id, err := adjust.Post(ctx, pool, a)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "posted adjustment entry %d by %s: %s\n", id, who, a.Reason)
		for _, p := range a.Postings {
			fmt.Fprintf(stdout, "  %-48s %s\n", p.Account, p.Amount)
		}
		fmt.Fprintf(stdout, "see: SELECT * FROM analytics.adjustments WHERE entry_id = %d;\n", id)
		return nil
	})
}

func adjustReverse(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	id, args, err := leadingID(args, "adjust reverse", "ENTRY_ID")
	if err != nil {
		return err
	}
	fs := newFlags("adjust reverse")
	reason := fs.String("reason", "", "why it is reversed (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withAccountant(ctx, getenv, func(pool *pgxpool.Pool, who string) error {
		rid, err := adjust.Reverse(ctx, pool, id, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "posted entry %d by %s reversing adjustment %d: %s\n", rid, who, id, *reason)
		return nil
	})
}

func acknowledge(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	id, args, err := leadingID(args, "ack", "ALERT_ID")
	if err != nil {
		return err
	}
	fs := newFlags("ack")
	note := fs.String("note", "", "what you found or are doing about it (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withAccountant(ctx, getenv, func(pool *pgxpool.Pool, who string) error {
		at, err := adjust.Acknowledge(ctx, pool, id, *note)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "alert %d acknowledged by %s at %s: %s\n", id, who, at.UTC().Format(time.RFC3339), *note)
		return nil
	})
}

// newFlags is a flag set whose -h prints the accountant commands' usage, without touching the database.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), adjustUsage)
		fmt.Fprintln(fs.Output(), "\nflags of "+name+":")
		fs.PrintDefaults()
	}
	return fs
}

// leadingID reads the id that comes first, as in `reconciler ack 42 --note …` (the flag package stops at
// the first argument that is not a flag).
func leadingID(args []string, name, what string) (int64, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			newFlags(name).Usage()
			return 0, nil, flag.ErrHelp
		}
		return 0, nil, fmt.Errorf("%s: %s first\n%s", name, what, adjustUsage)
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, fmt.Errorf("%s: %s %q is not a number", name, what, args[0])
	}
	return id, args[1:], nil
}

// withAccountant connects to DATABASE_URL — the accountant's own login, recorded as the author — and runs fn
// with the pool and the login role's name.
func withAccountant(ctx context.Context, getenv func(string) string, fn func(pool *pgxpool.Pool, who string) error) error {
	env, err := config.ReadEnv(getenv, "DATABASE_URL")
	if err != nil {
		return err
	}
	cfg, err := cli.PoolConfig(env.DatabaseURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["application_name"] = "reconciler-adjust"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	defer pool.Close()
	var who string
	if err := pool.QueryRow(ctx, `SELECT session_user::text`).Scan(&who); err != nil {
		return fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	err = fn(pool, who)
	if errors.Is(err, adjust.ErrInvalid) {
		return fmt.Errorf("%w\n%s", err, adjustUsage)
	}
	return err
}
