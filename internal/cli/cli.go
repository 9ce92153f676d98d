// Package cli holds what both of mizan's commands set up the same way: logging, the database pool and the
// Kafka configuration from the environment.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/kafka"
)

// Logger returns the JSON logger both commands write to stderr. MIZAN_LOG_LEVEL picks the level
// (debug, info, warn, error; default info).
func Logger(w io.Writer, getenv func(string) string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.TrimSpace(getenv("MIZAN_LOG_LEVEL")))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Pool connects to DATABASE_URL and checks the connection, so that a wrong URL fails at start-up.
func Pool(ctx context.Context, env config.Env) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, env.DatabaseURL)
	if err != nil {
		// pgx's parse errors can quote the URL, password included: say only which variable is wrong.
		return nil, fmt.Errorf("DATABASE_URL is not a valid PostgreSQL connection string")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL (DATABASE_URL): %w", err)
	}
	return pool, nil
}

// Kafka returns the Kafka configuration from the environment.
func Kafka(env config.Env, log *slog.Logger) kafka.Config {
	return kafka.Config{Brokers: env.KafkaBrokers, TopicPrefix: env.TopicPrefix, Logger: log}
}
