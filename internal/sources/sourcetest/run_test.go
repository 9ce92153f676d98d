package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder is a reporter that keeps what the checks report.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestSameFacts(t *testing.T) {
	t.Parallel()
	a, b, b2 := Fact{"1", "amount=10"}, Fact{"2", "amount=20"}, Fact{"2", "amount=21"}
	for _, tc := range []struct {
		name      string
		got, want []Fact
		complaint string // "" if none
	}{
		{"the same facts in another order", []Fact{b, a}, []Fact{a, b}, ""},
		{"nothing of nothing", nil, []Fact{}, ""},
		{"a fact read twice", []Fact{a, b, a}, []Fact{a, b}, "fact 1 fetched more than once"},
		{"a fact missing", []Fact{a}, []Fact{a, b}, "differ from the simulator's"},
		{"a fact with another value", []Fact{a, b2}, []Fact{a, b}, "amount=21"},
		{"a fact too many", []Fact{a, b}, []Fact{a}, "differ from the simulator's"},
	} {
		var r recorder
		sameFacts(&r, tc.got, tc.want)
		joined := strings.Join(r.errs, "\n")
		switch {
		case tc.complaint == "" && len(r.errs) > 0:
			t.Errorf("%s: complained %s", tc.name, joined)
		case tc.complaint != "" && !strings.Contains(joined, tc.complaint):
			t.Errorf("%s: complained %q, want %q", tc.name, joined, tc.complaint)
		}
	}
}

func TestClearError(t *testing.T) {
	t.Parallel()
	st := State{Endpoints: []string{"GET /v1/things", "POST /token"}, Secrets: []string{"s3cr3t-token", ""}}
	for _, tc := range []struct {
		err       string
		complaint string
	}{
		{"provider GET /v1/things: HTTP 503: maintenance", ""},
		{"after a 401: provider POST /token: HTTP 401: Unauthenticated", ""},
		{"HTTP 503: maintenance", "names none of the endpoints"},
		{"provider GET /v1/things: token s3cr3t-token refused", "leaks a credential"},
		{"provider GET /v1/things: body starts: <html>\n<body>", "not one short line"},
		{"provider GET /v1/things: " + strings.Repeat("x", maxErrorLen), "not one short line"},
	} {
		var r recorder
		clearError(&r, errors.New(tc.err), st)
		joined := strings.Join(r.errs, "\n")
		switch {
		case tc.complaint == "" && len(r.errs) > 0:
			t.Errorf("%.60q: complained %s", tc.err, joined)
		case tc.complaint != "" && !strings.Contains(joined, tc.complaint):
			t.Errorf("%.60q: complained %q, want %q", tc.err, joined, tc.complaint)
		}
	}
}

// panicky is a Source whose Fetch panics, as a decoder might on a body it did not expect.
type panicky struct{ Source }

func (panicky) Fetch(context.Context) ([]Fact, error) { panic("index out of range") }

func TestSafeFetchTurnsAPanicIntoAnError(t *testing.T) {
	t.Parallel()
	_, err := safeFetch(t.Context(), panicky{})
	if err == nil || !strings.Contains(err.Error(), "Fetch panicked: index out of range") {
		t.Errorf("err = %v", err)
	}
}

func TestFaultNames(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, f := range Faults() {
		name := f.String()
		if seen[name] || strings.HasPrefix(name, "Fault(") {
			t.Errorf("fault %d: name %q", int(f), name)
		}
		seen[name] = true
	}
	if len(seen) != 6 {
		t.Errorf("%d faults", len(seen))
	}
}
