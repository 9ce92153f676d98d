package pgurl

import (
	"strings"
	"testing"
)

func TestWithDatabaseKeepsEverythingButTheDatabase(t *testing.T) {
	got, err := WithDatabase("postgres://u:pw@db:5433/postgres?sslmode=disable", "mizan_x")
	if err != nil || got != "postgres://u:pw@db:5433/mizan_x?sslmode=disable" {
		t.Fatalf("WithDatabase = %q, %v", got, err)
	}
	if _, err := WithDatabase("host=db dbname=postgres", "x"); err == nil {
		t.Error("a keyword/value string was accepted")
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	if got := Redact("postgres://u:s3cret@db/postgres"); strings.Contains(got, "s3cret") || !strings.Contains(got, "db") {
		t.Errorf("Redact = %q", got)
	}
}
