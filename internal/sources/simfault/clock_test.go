package simfault_test

import (
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/sources/simfault"
)

func TestClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	base := t0
	c := simfault.NewClock(func() time.Time { return base })

	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %s, want the base clock's %s", got, t0)
	}
	c.Advance(time.Hour)
	base = base.Add(time.Minute)
	if got, want := c.Now(), t0.Add(time.Hour+time.Minute); !got.Equal(want) {
		t.Fatalf("a running clock advanced: %s, want %s", got, want)
	}
	stop := t0.Add(24 * time.Hour)
	c.Set(stop)
	base = base.Add(time.Minute)
	if got := c.Now(); !got.Equal(stop) {
		t.Fatalf("a stopped clock moved: %s, want %s", got, stop)
	}
	c.Advance(-time.Hour)
	if got, want := c.Now(), stop.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("a stopped clock advanced: %s, want %s", got, want)
	}

	onReal := simfault.NewClock(nil)
	if d := time.Since(onReal.Now()); d < 0 || d > time.Minute {
		t.Fatalf("a clock on no base is %s off the real one", d)
	}
	if simfault.OrNow(nil) == nil {
		t.Fatal("OrNow(nil) is nil")
	}
}
