package reconciler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxWorkers bounds MIZAN_APPLY_WORKERS: each worker holds a database connection while it applies.
const maxWorkers = 64

// ReadEnv fills the Config fields the environment sets: MIZAN_APPLY_WORKERS (Workers, 1 to 64) and
// MIZAN_STALL_AFTER (StallAfter, a Go duration such as 2m). Unset variables leave the defaults.
func ReadEnv(cfg Config, getenv func(string) string) (Config, error) {
	var errs []error
	if v := strings.TrimSpace(getenv("MIZAN_APPLY_WORKERS")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWorkers {
			errs = append(errs, fmt.Errorf("MIZAN_APPLY_WORKERS: %q is not a whole number from 1 to %d", v, maxWorkers))
		}
		cfg.Workers = n
	}
	if v := strings.TrimSpace(getenv("MIZAN_STALL_AFTER")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("MIZAN_STALL_AFTER: %q is not a positive duration such as 2m", v))
		}
		cfg.StallAfter = d
	}
	return cfg, errors.Join(errs...)
}
