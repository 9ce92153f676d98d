package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/mizanhq/mizan/internal/matching"
)

const expectUsage = `usage: reconciler expect import FILE.csv   (FILE "-" reads standard input)

Loads the business's expectations (orders to be paid, payouts and refunds requested) from CSV, one column per
field of mizan.expected.v1 (docs/matching.md): ` + "expectation_id,kind,provider,account,factor_number,track_id," +
	"payment_number,payment_item_id,amount,currency,expected_by,status" + `.
Idempotent by expectation_id: importing a file again changes nothing; an edited row replaces the expectation.
A file with any bad row is refused whole, naming each. Needs DATABASE_URL; MIZAN_MATCHING_FILE as the reconciler.`

// expect runs `reconciler expect import FILE.csv`.
func expect(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	if len(args) != 2 || args[0] != "import" {
		return errors.New(expectUsage)
	}
	in := io.Reader(os.Stdin)
	if args[1] != "-" {
		f, err := os.Open(args[1])
		if err != nil {
			return fmt.Errorf("expect import: %w", err)
		}
		defer f.Close()
		in = f
	}
	exps, err := matching.ReadCSV(in)
	if err != nil {
		return fmt.Errorf("expect import %s: %w", args[1], err)
	}
	cfg, err := matching.ReadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.Disabled {
		return fmt.Errorf("expect import: matching is disabled (%s says disabled: true): the expectations would be ignored",
			matching.FileEnv)
	}
	pool, err := connect(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	st, err := matching.New(cfg).Import(ctx, pool, exps, time.Now)
	if err != nil {
		return err
	}
	log.Info("expectations imported", "file", args[1], "rows", st.Rows, "changed", st.Changed, "alerts_opened", st.Opened)
	fmt.Fprintf(stdout, "expectations: %d rows, %d new or changed, %d unchanged, %d alerts opened\n",
		st.Rows, st.Changed, st.Rows-st.Changed, st.Opened)
	return nil
}
