package sourcetest

import (
	"bytes"
	"log/slog"
	"sync"
)

// LogBuffer collects log output from concurrent goroutines: the one log buffer mizan's tests share (the
// sources', the poller's, the reconciler's, the end-to-end and the security tests), to check what was logged
// (and that no secret was).
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Logger returns a text logger writing into the buffer, debug messages included.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
