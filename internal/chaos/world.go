package chaos

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mizanhq/mizan/internal/alerts/slacktest"
	"github.com/mizanhq/mizan/internal/sources/vandar/vandartest"
	"github.com/mizanhq/mizan/internal/sources/yabandpay/yabandpaytest"
)

// The simulated world: two Vandar businesses (acme clean, globex with a drifting balance), one quiet
// YabandPay merchant in EUR and CHF, and a Slack sink.
const (
	clean       = "acme"
	drifted     = "globex"
	driftAmount = 25_000
	merchant    = "036870"
	secretKey   = "mizan-chaos-secret-key-not-for-production"
)

var openings = map[string]int64{clean: 12_500_000, drifted: 4_000_000}

type world struct {
	vsim   *vandartest.Server
	vURL   string
	ysim   *yabandpaytest.Server
	yURL   string
	sink   *slacktest.Sink
	tokens map[string][2]string
	ykey   string
	ycurs  []string
	closes []func()

	kill *pollerKill
	live *live
}

// newWorld builds the simulators. The Vandar history ends five days before now: every item, settlement and
// batch of it has reached its final state, and no payout of it is late on the reconciler's clock. The live
// items (live.go) start at liveStart. Both simulators keep the real clock (live.go says why; YabandPay
// refuses requests signed more than five minutes from its own time); the merchant is quiet, so its balances
// do not move.
func newWorld(s Setting, now, liveStart time.Time, seed uint64) (*world, error) {
	w := &world{tokens: map[string][2]string{}, kill: &pollerKill{}}
	start := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(s.Days + 5))
	vsim, err := vandartest.New(vandartest.Options{
		Seed: int64(seed),
		Businesses: []vandartest.BusinessOptions{
			{Slug: clean, Seed: int64(seed) + 1, Start: start, Days: s.Days, PerDay: s.PerDay[0], OpeningWallet: openings[clean]},
			{Slug: drifted, Seed: int64(seed) + 2, Start: start, Days: s.Days, PerDay: s.PerDay[1], OpeningWallet: openings[drifted]},
		}})
	if err != nil {
		return nil, err
	}
	if err := vsim.DriftBalance(drifted, driftAmount); err != nil {
		return nil, err
	}
	w.vsim = vsim
	if w.live, err = planLive(vsim, seed, liveStart, s.LiveSpan, s.LiveItems, s.RefreshFaults); err != nil {
		return nil, err
	}
	w.kill.gate = w.live.refresh
	for _, b := range vsim.Businesses() {
		access, refresh, _ := vsim.IssueTokens(b)
		w.tokens[b] = [2]string{access, refresh}
	}
	balances := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/balance") {
			w.live.holdBalance()
		}
		vsim.ServeHTTP(rw, r)
	})
	if w.vURL, err = w.serve(w.kill.hook(w.live.refresh.hook(balances))); err != nil {
		return nil, err
	}

	ysim, err := yabandpaytest.New(yabandpaytest.Options{Seed: int64(seed),
		Merchants: []yabandpaytest.MerchantOptions{{User: merchant, Seed: int64(seed) + 3, Quiet: true}}})
	if err != nil {
		return nil, err
	}
	w.ysim = ysim
	if w.ykey, err = ysim.SecretKey(merchant); err != nil {
		return nil, err
	}
	w.ycurs, _ = ysim.Currencies(merchant)
	if w.yURL, err = w.serve(ysim); err != nil {
		return nil, err
	}
	w.sink = slacktest.New(nil)
	w.closes = append(w.closes, w.sink.Close)
	return w, nil
}

func (w *world) close() {
	for _, c := range w.closes {
		c()
	}
}

// serve serves h on a loopback port.
func (w *world) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	w.closes = append(w.closes, func() { srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

// writeSources writes the sources file: every feed of both businesses, and the merchant's balance.
func (w *world) writeSources(path string) error {
	var b strings.Builder
	b.WriteString("# Written by the chaos suite: the simulators stand in for Vandar and YabandPay.\nsources:\n")
	for _, biz := range w.vsim.Businesses() {
		up := strings.ToUpper(biz)
		fmt.Fprintf(&b, `  - name: vandar-%s
    provider: vandar
    business: %s
    api_url: %s
    batch_url: %s
    access_token_env: VANDAR_%s_ACCESS_TOKEN
    refresh_token_env: VANDAR_%s_REFRESH_TOKEN
    feeds: { statement: "@every 1m", balance: "@every 1m", settlements: "@every 1m", batches: "@every 1m" }
`, biz, biz, w.vURL, w.vURL, up, up)
	}
	fmt.Fprintf(&b, `  - name: yabandpay-%s
    provider: yabandpay
    user: "%s"
    api_url: %s
    secret_key_env: YABANDPAY_SECRET_KEY
    currencies: [%s]
    feeds: { balance: "@every 1m" }
`, merchant, merchant, w.yURL, strings.Join(w.ycurs, ", "))
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// env is the environment every command runs with: nothing of the suite's own environment but PATH and HOME,
// so that a DATABASE_URL or KAFKA_BROKERS of the machine can never point a killed process at real data.
func (w *world) env(dir, dbURL, brokers string, workers int) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL,
		"KAFKA_BROKERS=" + brokers,
		"MIZAN_SOURCES=" + filepath.Join(dir, "sources.yaml"),
		"MIZAN_SECRET_KEY=" + secretKey,
		"MIZAN_SIGNING_KEYS=chaos:chaos-signing-key-not-for-production-0123456789", // the poller signs, the reconciler verifies
		"SLACK_WEBHOOK_URL=" + w.sink.URL,
		"MIZAN_SETTLE_DELAY=0s", // the simulator's items are whole: nothing to wait for
		"MIZAN_LOG_LEVEL=info",
		"MIZAN_HTTP_ADDR=off",
		"KAFKA_SESSION_TIMEOUT=6s", // a killed member holds its partitions this long (kfake's minimum)
		"MIZAN_SETTLEMENT_GRACE=24h",
		"MIZAN_APPLY_WORKERS=" + strconv.Itoa(max(1, workers)),
		"YABANDPAY_SECRET_KEY=" + w.ykey,
	}
	for biz, pair := range w.tokens {
		up := strings.ToUpper(biz)
		env = append(env, "VANDAR_"+up+"_ACCESS_TOKEN="+pair[0], "VANDAR_"+up+"_REFRESH_TOKEN="+pair[1])
	}
	return env
}

// armFaults arms every fault kind of both simulators: a few of each at once, and each at a small rate for
// the rest of the chaos. None of these hits Vandar's token refresh: Vandar rotates the refresh token when it
// answers, so an answer lost on the way (truncated, too slow) loses the pair for good — a property of the
// provider, not something a client can recover from. The refresh's own faults, 503s that come before Vandar
// rotates, are armed at planned expiries (tokens.go). It returns how many fault arms it set.
func (w *world) armFaults() int {
	vkinds := []vandartest.Fault{
		{Kind: vandartest.FaultStatus, Status: 503},
		{Kind: vandartest.FaultStatus, Status: 502, HTML: true},
		{Kind: vandartest.FaultTooManyRequests, RetryAfter: time.Second},
		{Kind: vandartest.FaultSlow, Delay: 300 * time.Millisecond},
		{Kind: vandartest.FaultTruncated},
		{Kind: vandartest.FaultHTML200},
		{Kind: vandartest.FaultReset},
	}
	endpoints := []vandartest.Endpoint{vandartest.EndpointTransactions, vandartest.EndpointBalance,
		vandartest.EndpointSettlements, vandartest.EndpointBatches, vandartest.EndpointBatchItems}
	n := 0
	for _, f := range vkinds {
		for _, ep := range endpoints {
			f.Endpoint = ep
			if ep == vandartest.EndpointTransactions {
				w.vsim.Inject(f, 2)
			}
			w.vsim.InjectRate(f, 0.008)
			n++
		}
	}
	ykinds := []yabandpaytest.Fault{
		{Kind: yabandpaytest.FaultStatus, Status: 503},
		{Kind: yabandpaytest.FaultStatus, Status: 502, HTML: true},
		{Kind: yabandpaytest.FaultTooManyRequests, RetryAfter: time.Second},
		{Kind: yabandpaytest.FaultSlow, Delay: 300 * time.Millisecond},
		{Kind: yabandpaytest.FaultTruncated},
		{Kind: yabandpaytest.FaultHTML200},
		{Kind: yabandpaytest.FaultReset},
	}
	for _, f := range ykinds {
		w.ysim.Inject(f, 1)
		w.ysim.InjectRate(f, 0.01)
		n++
	}
	// Slack is rate limited, then fails, before it accepts the first alert.
	w.sink.Fail(slacktest.Fault{Status: 429, RetryAfter: 1}, slacktest.Fault{Status: 500})
	return n + 2
}

func (w *world) clearFaults() {
	w.vsim.ClearFaults()
	w.ysim.ClearFaults()
}

// pollerKill kills the running poller from inside the Vandar simulator: when the armed request of the
// current run arrives, a few milliseconds later — while the page is being answered, published or its cursor
// saved.
type pollerKill struct {
	mu        sync.Mutex
	cur       *proc
	at        int  // the request of the current run to kill at; 0: not armed
	statement bool // count only statement pages (else every request but token refreshes)
	requests  int
	delay     func() time.Duration
	killed    func(*proc)
	gate      *refreshGate
}

// begin starts counting a new poller run's requests — every request, or only statement pages — armed to
// kill at request at (0: not at all).
func (k *pollerKill) begin(at int, statement bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur, k.at, k.statement, k.requests = nil, at, statement, 0
}

func (k *pollerKill) attach(p *proc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur = p
}

// end stops counting and returns how many requests the run made.
func (k *pollerKill) end() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cur, k.at = nil, 0
	return k.requests
}

// hook wraps the simulator. Token refreshes are neither counted nor killed at (see armFaults).
func (k *pollerKill) hook(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "refreshtoken") {
			k.mu.Lock()
			if !k.statement || strings.HasSuffix(r.URL.Path, "/transaction") {
				k.requests++
			}
			if k.at > 0 && k.requests >= k.at && k.cur != nil {
				p, d := k.cur, k.delay()
				k.at = 0
				go func() {
					time.Sleep(d)
					k.gate.wait(context.Background(), 20*time.Second)
					if !p.exited() {
						p.kill()
						k.killed(p)
					}
				}()
			}
			k.mu.Unlock()
		}
		next.ServeHTTP(rw, r)
	})
}
