package poller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/pollstate"
	"github.com/mizanhq/mizan/internal/sources"
)

// Probe opens src as a poll would — its credentials in PostgreSQL, sealed with secretKey, refreshed and
// stored again if they are due — and asks it to describe what each of its endpoints answers: `poller probe`,
// for onboarding a real account. It publishes nothing and saves no cursor. rec, if not nil, keeps each
// answer, redacted, as a test fixture.
func Probe(ctx context.Context, src config.Source, pool *pgxpool.Pool, secretKey config.Secret, now func() time.Time,
	log *slog.Logger, rec sources.Recorder) (sources.Report, error) {
	sealer, err := pollstate.NewSealer(secretKey.Reveal())
	if err != nil {
		return sources.Report{}, err
	}
	if now == nil {
		now = time.Now
	}
	s, err := src.Settings.Open(sources.Env{Name: src.Name, Credentials: pollstate.NewCredentials(pool, sealer, src.Name),
		Log: log.With("source", src.Name), Now: now})
	if err != nil {
		return sources.Report{}, fmt.Errorf("source %s: %w", src.Name, err)
	}
	p, ok := s.(sources.Prober)
	if !ok {
		return sources.Report{}, fmt.Errorf("source %s: provider %s offers no probe", src.Name, src.Provider)
	}
	r, err := p.Probe(ctx, rec)
	if err != nil {
		return r, fmt.Errorf("source %s: %w", src.Name, err)
	}
	return r, nil
}

// WriteReport prints a probe's report for a person: per endpoint, what it answered and what mizan understood
// of it, each problem marked PROBLEM; then a last line saying whether the poller handles everything seen.
func WriteReport(w io.Writer, src config.Source, r sources.Report) {
	fmt.Fprintf(w, "source %s (provider %s, account %s)\n", src.Name, src.Provider, src.Account())
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	problems := 0
	for _, e := range r.Endpoints {
		fmt.Fprintf(w, "\n%s\n", e.Endpoint)
		status := "no answer"
		if e.Status != 0 {
			status = fmt.Sprintf("HTTP %d", e.Status)
		}
		fmt.Fprintf(w, "  status:   %s\n", status)
		if e.Shape != "" {
			fmt.Fprintf(w, "  shape:    %s\n", e.Shape)
		}
		if e.Status == 200 {
			fmt.Fprintf(w, "  items:    %d\n", e.Count)
		}
		if e.Paging != "" {
			fmt.Fprintf(w, "  paging:   %s\n", e.Paging)
		}
		if e.First != "" {
			fmt.Fprintf(w, "  first:    %s\n", e.First)
		}
		for _, n := range e.Notes {
			fmt.Fprintf(w, "  note:     %s\n", n)
		}
		for _, p := range e.Problems {
			fmt.Fprintf(w, "  PROBLEM:  %s\n", strings.ReplaceAll(p, "\n", " "))
			problems++
		}
	}
	fmt.Fprintln(w)
	if problems == 0 {
		fmt.Fprintf(w, "probe: the poller handles every endpoint of %s as answered\n", src.Name)
		return
	}
	fmt.Fprintf(w, "probe: %d problem(s) above: the poller would refuse or quarantine what they name\n", problems)
}
