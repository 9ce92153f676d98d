// Package clitest holds what the commands' tests share about running a command in-process.
package clitest

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeAddr returns a loopback address nothing listens on now.
func FreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// FirstAnswer asks url until the command running beside the test answers it, and returns the status and
// body. The command ending first (done) fails the test: it was meant to keep running.
func FirstAnswer(t *testing.T, url string, done <-chan error) (int, string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a safety net only: it answers in well under a second
	for {
		if resp, err := http.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(body)
		}
		select {
		case err := <-done:
			t.Fatalf("the command ended before it answered %s: %v", url, err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing answered %s", url)
		}
	}
}
