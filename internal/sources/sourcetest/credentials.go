package sourcetest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mizanhq/mizan/internal/sources"
)

// Credentials is a sources.Credentials in memory: the one credential (token) store every source's tests
// share. It remembers every save, can be told to fail saves, and its lock is a real one (a second Lock waits
// for the first's release), so tests of concurrent refreshes mean something. It is safe for concurrent use.
type Credentials struct {
	mu        sync.Mutex
	cur       map[string]sources.Credential
	saves     []map[string]sources.Credential
	failSaves int
	failNames []string // only saves that store one of these fail; none: any save
	now       func() time.Time
	lock      chan struct{}
}

// NewCredentials returns an empty store.
func NewCredentials() *Credentials {
	return &Credentials{cur: map[string]sources.Credential{}, now: time.Now, lock: make(chan struct{}, 1)}
}

// SetClock makes the store stamp what it saves (UpdatedAt) with now's time instead of the wall clock's.
func (c *Credentials) SetClock(now func() time.Time) *Credentials {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
	return c
}

// Put stores one credential directly, as if saved long ago, without counting as a save.
func (c *Credentials) Put(name, value string, expires time.Time) *Credentials {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur[name] = sources.Credential{Value: []byte(value), ExpiresAt: expires, UpdatedAt: c.now()}
	return c
}

// FailSaves makes the next n saves fail, as a database that is down would — or, with names, the next n
// saves that store any of those names.
func (c *Credentials) FailSaves(n int, names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failSaves, c.failNames = n, names
}

// Load returns a copy of what is stored.
func (c *Credentials) Load(context.Context) (map[string]sources.Credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]sources.Credential, len(c.cur))
	for k, v := range c.cur {
		v.Value = slices.Clone(v.Value)
		out[k] = v
	}
	return out, nil
}

// Save stores creds at once; a nil Value deletes its name.
func (c *Credentials) Save(_ context.Context, creds map[string]sources.Credential) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failSaves > 0 && (len(c.failNames) == 0 || slices.ContainsFunc(c.failNames, func(n string) bool {
		_, ok := creds[n]
		return ok
	})) {
		c.failSaves--
		return errors.New("database is down")
	}
	saved := map[string]sources.Credential{}
	for k, v := range creds {
		v.Value = slices.Clone(v.Value)
		v.UpdatedAt = c.now()
		saved[k] = v
		if v.Value == nil {
			delete(c.cur, k)
			continue
		}
		c.cur[k] = v
	}
	c.saves = append(c.saves, saved)
	return nil
}

// Lock takes the store's lock, waiting for it up to ctx.
func (c *Credentials) Lock(ctx context.Context) (func(), error) {
	select {
	case c.lock <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-c.lock }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Value returns the stored value of name ("" if none).
func (c *Credentials) Value(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.cur[name].Value)
}

// Get returns the stored credential called name.
func (c *Credentials) Get(name string) (sources.Credential, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.cur[name]
	return v, ok
}

// Saves returns every successful save so far, in order: each the credentials it stored (nil Value: deleted).
func (c *Credentials) Saves() []map[string]sources.Credential {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]map[string]sources.Credential, len(c.saves))
	for i, s := range c.saves {
		out[i] = maps.Clone(s)
	}
	return out
}

// Held says whether value is, or was ever, stored under name.
func (c *Credentials) Held(name, value string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if string(c.cur[name].Value) == value {
		return true
	}
	return slices.ContainsFunc(c.saves, func(s map[string]sources.Credential) bool {
		v, ok := s[name]
		return ok && string(v.Value) == value
	})
}

// Values lists every value ever stored, for tests that check none leaked.
func (c *Credentials) Values() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, v := range c.cur {
		out = append(out, string(v.Value))
	}
	for _, s := range c.saves {
		for _, v := range s {
			if v.Value != nil {
				out = append(out, string(v.Value))
			}
		}
	}
	return out
}
