package simfault_test

import (
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const window = 3 * time.Second

	t.Run("no window holds more than the limit", func(t *testing.T) {
		t.Parallel()
		var l simfault.Limiter
		for i, at := range []time.Duration{0, time.Second, 2 * time.Second} {
			if ok, _ := l.Allow("k", 3, window, t0.Add(at)); !ok {
				t.Fatalf("request %d refused", i)
			}
		}
		ok, wait := l.Allow("k", 3, window, t0.Add(2500*time.Millisecond))
		if ok || wait != 500*time.Millisecond {
			t.Fatalf("fourth request in the window: ok %t wait %s, want refused for 500ms", ok, wait)
		}
		// The window slides: at 3 s the first request has left it, and only it.
		if ok, _ := l.Allow("k", 3, window, t0.Add(window)); !ok {
			t.Fatal("a request after the first left the window was refused")
		}
		if ok, wait := l.Allow("k", 3, window, t0.Add(window)); ok || wait != time.Second {
			t.Fatalf("ok %t wait %s, want refused for 1s", ok, wait)
		}
	})

	t.Run("a refused request is not counted", func(t *testing.T) {
		t.Parallel()
		var l simfault.Limiter
		l.Allow("k", 1, window, t0)
		for range 10 {
			l.Allow("k", 1, window, t0.Add(time.Second))
		}
		if ok, _ := l.Allow("k", 1, window, t0.Add(window)); !ok {
			t.Fatal("refused requests filled the window")
		}
	})

	t.Run("keys are limited apart", func(t *testing.T) {
		t.Parallel()
		var l simfault.Limiter
		if ok, _ := l.Allow("a", 1, window, t0); !ok {
			t.Fatal("a refused")
		}
		if ok, _ := l.Allow("b", 1, window, t0); !ok {
			t.Fatal("b refused because of a")
		}
		if ok, _ := l.Allow("a", 1, window, t0); ok {
			t.Fatal("a allowed twice")
		}
	})

	t.Run("a key that has gone quiet starts afresh", func(t *testing.T) {
		t.Parallel()
		var l simfault.Limiter
		l.Allow("old", 1, window, t0)
		later := t0.Add(2 * time.Minute) // past the sweep of quiet keys
		if ok, _ := l.Allow("new", 1, window, later); !ok {
			t.Fatal("new refused")
		}
		if ok, _ := l.Allow("old", 1, window, later); !ok {
			t.Fatal("old refused after going quiet")
		}
	})
}
