package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mizanhq/mizan/internal/apply"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/ledger"
)

// Class is what kind of failure an error is, and so what the reconciler does about it. Every error that
// applying a batch can return is exactly one of these; Classify is the one place that decides which.
type Class int

const (
	// Infrastructure: the database or the broker is away, busy or in the way (connection lost, failover,
	// serialization failure, deadlock, lock timeout, too many connections, a timeout). The same batch will
	// apply once it clears: retry with backoff and jitter; past Config.StallAfter, /readyz fails and a
	// `stalled` alert is raised. It is also the class of an error nobody recognises: retrying something
	// unknown stalls loudly, where dead-lettering it could throw good data away.
	Infrastructure Class = iota
	// Message: the message's own content fails, the same way every time (it cannot be decoded, breaks a
	// ledger invariant, holds text PostgreSQL cannot store). The batch is bisected until the message is alone,
	// which is then dead-lettered; the rest applies.
	Message
	// Environment: the database is not the one this binary was built for (a missing table, column or
	// function, a missing privilege, a schema at another migration version). Every message would fail the same
	// way, so none is dead-lettered and no offset is committed: the reconciler stops consuming, /readyz fails,
	// an --until-idle run exits with ExitEnvironment.
	Environment
)

func (c Class) String() string {
	switch c {
	case Message:
		return "message"
	case Environment:
		return "environment"
	}
	return "infrastructure"
}

// Classify says what kind of failure err is.
func Classify(err error) Class {
	if err == nil {
		return Infrastructure
	}
	var env *EnvironmentError
	if errors.As(err, &env) {
		return Environment
	}
	var unjudged *unjudgedError
	if errors.As(err, &unjudged) {
		// The trust gate could not ask its database: whatever the database said, the message is not at
		// fault. A missing table or grant is the environment's problem; anything else is retried.
		if c := classifyPg(err); c != nil && *c == Environment {
			return Environment
		}
		return Infrastructure
	}
	var fe *apply.FactError
	if errors.As(err, &fe) {
		// A fact's own content, unless what failed inside it was the database's (a dropped connection while
		// applying that fact still says FactError only if apply wrapped it; look at the cause too).
		if c := classifyPg(err); c != nil && *c != Message {
			return *c
		}
		return Message
	}
	if ledger.Retryable(err) { // a concurrent transaction posted the same key, a deadlock, a serialization failure
		return Infrastructure
	}
	if c := classifyPg(err); c != nil {
		return *c
	}
	for _, sentinel := range []error{events.ErrMalformed, ledger.ErrInvalid, ledger.ErrUnbalanced,
		ledger.ErrAccountMismatch, ledger.ErrImmutable, ledger.ErrConflict, ledger.ErrReversal, ledger.ErrBalanceChain} {
		if errors.Is(err, sentinel) {
			return Message
		}
	}
	var refused *refusal
	if errors.As(err, &refused) {
		return Message
	}
	return Infrastructure
}

// classifyPg classifies a PostgreSQL error by its SQLSTATE class, or returns nil if err holds none.
func classifyPg(err error) *Class {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isNetwork(err) {
			c := Infrastructure
			return &c
		}
		return nil
	}
	c := pgClass(pgErr.Code)
	return &c
}

// pgClass maps a SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html) to a Class.
func pgClass(code string) Class {
	if len(code) < 2 {
		return Infrastructure
	}
	switch code[:2] {
	case "42", // syntax error or access rule violation: undefined table/column/function (42P01, 42703, 42883),
		// insufficient privilege (42501) — the schema or the grants are not what this binary needs
		"3D", // invalid catalog name: the database does not exist
		"3F", // invalid schema name
		"28": // invalid authorization specification
		return Environment
	case "21", // cardinality violation
		"22", // data exception: bad number, NUL byte (22021), untranslatable character in jsonb (22P05)
		"23", // integrity constraint violation, and the ledger's own triggers (restrict_violation 23001)
		"P0", // raised by a PL/pgSQL trigger
		"54": // program limit exceeded: a value too long for an index row (an item id of kilobytes)
		return Message
	}
	// 08 connection, 40 serialization/deadlock, 53 resources, 55 lock not available, 57 shutdown/cancel,
	// 58 system, XX internal, and anything else: the same batch may well apply next time.
	return Infrastructure
}

func isNetwork(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// refusal is why one message is refused before it reaches the database: it cannot be decoded, is of a type
// this reconciler does not know, or is not admitted (a fact missing what every fact must have, or refused by
// the trust gate). Code is a short, fixed word for the alert's dedup key and the metrics; Err the details.
type refusal struct {
	Code string
	Err  error
}

func (r *refusal) Error() string { return r.Err.Error() }
func (r *refusal) Unwrap() error { return r.Err }

// Refusal codes: what kind of fault a dead letter is (recon.dead_letters.reason_code, and the `dead_letter`
// alert's dedup key, one alert per source and code).
const (
	CodeMalformed   = "malformed"    // not a CloudEvents envelope mizan can read, or its data is not the type's
	CodeUnknownType = "unknown_type" // a type this reconciler does not apply
	CodeVersion     = "unsupported_version"
	CodeInvalid     = "invalid_fact" // a fact without what every fact of its type must have
	CodeUntrusted   = "untrusted"    // refused by the trust gate (signature, source, bounds)
	CodeRefused     = "refused"      // the ledger or the database refused it: an invariant, a value it cannot store
)

// reasonCode is the refusal code of a message's fault.
func reasonCode(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if errors.Is(err, events.ErrMalformed) {
		return CodeMalformed
	}
	return CodeRefused
}

// EnvironmentError is an Environment failure: the database is not what this binary needs. It names the
// migration version the binary expects and the one the database is at, where it could read them.
type EnvironmentError struct {
	Expected, Found int64 // migration versions; Found is -1 when it could not be read
	Err             error
}

func (e *EnvironmentError) Error() string {
	found := "unknown"
	if e.Found >= 0 {
		found = fmt.Sprint(e.Found)
	}
	return fmt.Sprintf("environment problem (not the data's fault: nothing was dead-lettered and no offset committed): %v "+
		"(schema: this binary expects migration version %d, the database is at %s)", e.Err, e.Expected, found)
}

func (e *EnvironmentError) Unwrap() error { return e.Err }

// ExitCode is the exit status of an --until-idle run that stopped on it.
func (e *EnvironmentError) ExitCode() int { return ExitEnvironment }

// Exit codes of `reconciler run --until-idle` (and of `reconciler dlq replay`) beyond 0 (done) and 1 (any
// other error). They are documented in docs/operations.md.
const (
	// ExitEnvironment: the database is not what this binary needs (schema version, missing table or privilege).
	ExitEnvironment = 3
	// ExitUndelivered: every message was applied, but some alerts could not be delivered to Slack.
	ExitUndelivered = 4
	// ExitStalled: an infrastructure failure outlasted Config.StallAfter.
	ExitStalled = 5
	// ExitDeadLetters: `dlq replay` left some dead letters that still fail.
	ExitDeadLetters = 6
)

// UndeliveredError ends an --until-idle run whose alerts Slack has not all accepted.
type UndeliveredError struct{ Undelivered int }

func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("%d alerts could not be delivered to Slack; they stay in recon.alerts and the next run retries them",
		e.Undelivered)
}

// ExitCode is ExitUndelivered.
func (e *UndeliveredError) ExitCode() int { return ExitUndelivered }

// StalledError ends an --until-idle run that could not make progress for Config.StallAfter.
type StalledError struct{ Err error }

func (e *StalledError) Error() string { return fmt.Sprintf("stalled: %v", e.Err) }
func (e *StalledError) Unwrap() error { return e.Err }

// ExitCode is ExitStalled.
func (e *StalledError) ExitCode() int { return ExitStalled }
