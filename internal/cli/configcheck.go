package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/matching"
	"github.com/mizanhq/mizan/internal/reconciler"
	"github.com/mizanhq/mizan/internal/sources"
)

// CheckConfig prints the configuration program ("poller" or "reconciler") would start with — each of its
// environment variables, secrets masked, and for the poller the sources file, each source checked by its
// provider in providers — and returns an error naming every problem it finds, as the program would at
// start-up. It connects to nothing.
func CheckConfig(w io.Writer, program string, getenv func(string) string, providers sources.Registry) error {
	var errs []error
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s: the environment (secrets masked)\n", program)
	for _, v := range Vars(program, "config") {
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, shown(v, getenv(v.Name)))
	}
	tw.Flush()

	switch program {
	case "poller":
		env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS", "MIZAN_SOURCES", "MIZAN_SECRET_KEY")
		errs = append(errs, err)
		if env.DatabaseURL != "" {
			_, err := PoolConfig(env.DatabaseURL)
			errs = append(errs, err)
		}
		if v := getenv("MIZAN_SETTLE_DELAY"); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("environment: MIZAN_SETTLE_DELAY=%q is not a duration such as 10s", v))
			}
		}
		if _, err := Pushgateway(getenv); err != nil {
			errs = append(errs, err)
		}
		if env.SourcesPath != "" {
			sources, err := config.LoadSources(env.SourcesPath, getenv, providers)
			errs = append(errs, err)
			if err == nil {
				printSources(w, env.SourcesPath, sources)
			}
		}
	case "reconciler":
		env, err := config.ReadEnv(getenv, "DATABASE_URL", "KAFKA_BROKERS")
		errs = append(errs, err)
		if env.DatabaseURL != "" {
			_, err := PoolConfig(env.DatabaseURL)
			errs = append(errs, err)
		}
		_, err = config.ReadChecks(getenv)
		errs = append(errs, err)
		_, err = reconciler.ReadEnv(reconciler.Config{}, getenv) // MIZAN_APPLY_WORKERS, MIZAN_STALL_AFTER
		errs = append(errs, err)
		_, err = matching.ReadKeys(getenv)
		errs = append(errs, err)
	default:
		return fmt.Errorf("no configuration to check for %s", program)
	}
	_, err := config.ReadKafka(getenv)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("the configuration is not valid:\n%w", err)
	}
	fmt.Fprintln(w, "the configuration is valid")
	return nil
}

// shown is how config check prints a variable's value: secrets only as set or not, connection strings
// without their password.
func shown(v Var, value string) string {
	switch {
	case value == "" && v.Default != "":
		return "(not set: " + v.Default + ")"
	case value == "":
		return "(not set)"
	case v.Secret:
		return "(set, masked)"
	case v.Name == "DATABASE_URL":
		cfg, err := pgx.ParseConfig(value)
		if err != nil {
			return "(set, but not a valid PostgreSQL connection string)"
		}
		s := fmt.Sprintf("user=%s host=%s port=%d database=%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
		if cfg.Password != "" {
			s += " password=(set, masked)"
		}
		return s
	case v.Name == matching.KeysEnv:
		// The ids, not the keys: public keys are no secret, but what is pasted here by mistake may be a private one.
		keys, err := matching.ParseKeys(value)
		if err != nil {
			return "(set, but not id=base64key,…)"
		}
		return "key ids " + strings.Join(slices.Sorted(maps.Keys(keys)), ", ")
	case v.Name == "MIZAN_PUSHGATEWAY_URL":
		u, err := url.Parse(value)
		if err != nil {
			return "(set, but not a URL)"
		}
		return u.Redacted()
	}
	return value
}

func printSources(w io.Writer, path string, s config.Sources) {
	fmt.Fprintf(w, "%s: %d source(s)\n", path, len(s.Sources))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, src := range s.Sources {
		var feeds []string
		for feed, spec := range src.Feeds {
			feeds = append(feeds, feed+" "+spec)
		}
		slices.Sort(feeds)
		fmt.Fprintf(tw, "  %s\t%s %s\t%s\n", src.Name, src.Provider, src.Account(), strings.Join(feeds, ", "))
	}
	tw.Flush()
}
