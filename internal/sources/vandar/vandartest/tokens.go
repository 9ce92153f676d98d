package vandartest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// grant is one token pair: what the dashboard hands out, and what every refresh replaces. Refreshing
// revokes the whole pair — the old refresh token and the old access token both stop working — which is the
// rotation Vandar's SDKs and a public test rely on (facts.md §2.3): a client that loses the new refresh
// token is locked out, and the simulator makes sure a client notices.
type grant struct {
	business       string
	access         string
	refresh        string
	accessExpires  time.Time
	refreshExpires time.Time
	revoked        bool
	next           *grant // the pair this one's refresh token was exchanged for
}

// tokens holds every grant by both of its tokens.
type tokens struct {
	byAccess  map[string]*grant
	byRefresh map[string]*grant
	reuses    int // refresh tokens presented again after they were exchanged
}

func newTokens() tokens {
	return tokens{byAccess: map[string]*grant{}, byRefresh: map[string]*grant{}}
}

// issue makes a new pair. Tokens are random (crypto/rand): unlike the history they need not be reproducible,
// and a test must not be able to guess one.
func (ts *tokens) issue(business string, now time.Time, accessTTL, refreshTTL time.Duration) *grant {
	g := &grant{
		business:       business,
		access:         randomToken(30),
		refresh:        "def50200" + hex.EncodeToString(randomBytes(64)), // the shape of the documents' example
		accessExpires:  now.Add(accessTTL),
		refreshExpires: now.Add(refreshTTL),
	}
	ts.byAccess[g.access] = g
	ts.byRefresh[g.refresh] = g
	return g
}

// rotate exchanges a refresh token for a new pair, or returns nil if it is unknown, used or expired.
//
// A refresh token presented again after it was exchanged is taken for a stolen one, as OAuth servers that
// rotate refresh tokens do (RFC 6819 5.2.2.3, OAuth 2.0 Security BCP 4.14.2): every pair issued from it since
// is revoked too, and the business is locked out until someone issues a new pair. A client that retries a
// refresh whose answer it lost, or two clients refreshing one pair at once, lose the pair this way.
func (ts *tokens) rotate(refresh string, now time.Time, accessTTL, refreshTTL time.Duration) *grant {
	g := ts.byRefresh[refresh]
	if g == nil || !now.Before(g.refreshExpires) {
		return nil
	}
	if g.revoked {
		if g.next != nil {
			ts.reuses++
			for d := g.next; d != nil; d = d.next {
				d.revoked = true
			}
		}
		return nil
	}
	g.revoked = true
	g.next = ts.issue(g.business, now, accessTTL, refreshTTL)
	return g.next
}

// check returns the grant of a live access token, or nil.
func (ts *tokens) check(access string, now time.Time) *grant {
	g := ts.byAccess[access]
	if g == nil || g.revoked || !now.Before(g.accessExpires) {
		return nil
	}
	return g
}

// expireAccess ends every access token's life at now; refresh tokens keep working.
func (ts *tokens) expireAccess(now time.Time) {
	for _, g := range ts.byAccess {
		if g.accessExpires.After(now) {
			g.accessExpires = now
		}
	}
}

func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
