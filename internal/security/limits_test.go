package security_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mizanhq/mizan/internal/config"
	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
	"github.com/mizanhq/mizan/internal/sources/sourcetest"
	"github.com/mizanhq/mizan/internal/sources/vandar"
	"github.com/mizanhq/mizan/internal/sources/yabandpay"
)

func TestKafkaSASLPlainWithoutTLSIsRefusedUnlessExplicitlyAllowed(t *testing.T) {
	t.Parallel()
	password := random("kafka-password")
	env := func(kv ...string) func(string) string {
		m := map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "mizan", "KAFKA_SASL_PASSWORD": password}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	pwFile := t.TempDir() + "/password"
	if err := writeFile(pwFile, password+"\n"); err != nil {
		t.Fatal(err)
	}
	refused := map[string]func(string) string{
		"PLAIN without TLS":                   env(),
		"plain, in lower case":                env("KAFKA_SASL_MECHANISM", "plain"),
		"PLAIN with the password from a file": env("KAFKA_SASL_PASSWORD", "", "KAFKA_SASL_PASSWORD_FILE", pwFile),
		"PLAIN with KAFKA_TLS=false":          env("KAFKA_TLS", "false"),
		"PLAIN allowed by a malformed value":  env("KAFKA_ALLOW_PLAINTEXT_SASL", "yes please"),
	}
	for name, getenv := range refused {
		_, err := config.ReadKafka(getenv)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", name)
		case strings.Contains(err.Error(), password):
			t.Errorf("%s: the error shows the password", name)
		case !strings.Contains(err.Error(), "KAFKA_TLS") && !strings.Contains(err.Error(), "KAFKA_ALLOW_PLAINTEXT_SASL"):
			t.Errorf("%s: the error does not say what to set: %v", name, err)
		}
	}
	allowed := map[string]func(string) string{
		"PLAIN over TLS":                 env("KAFKA_TLS", "true"),
		"PLAIN explicitly allowed":       env("KAFKA_ALLOW_PLAINTEXT_SASL", "true"),
		"SCRAM, which never sends it":    env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
		"SCRAM-SHA-256 without TLS (ok)": env("KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"),
	}
	for name, getenv := range allowed {
		k, err := config.ReadKafka(getenv)
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		for _, printed := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k),
			fmt.Sprintf("%+v", k.Config(config.Env{KafkaBrokers: []string{"127.0.0.1:9"}}))} {
			if strings.Contains(printed, password) {
				t.Errorf("%s: printing the settings shows the password", name)
			}
		}
	}

	// Below the configuration, the Kafka clients refuse it too — before they connect, so the password never
	// goes on the wire.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var connections atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	cfg := kafka.Config{Brokers: []string{ln.Addr().String()}, Security: kafka.Security{
		SASL: kafka.SASL{Mechanism: kafka.SASLPlain, Username: "mizan", Password: kafka.Password(password)}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pub := kafka.NewPublisher(cfg)
	defer pub.Close()
	ev, err := events.Watermark{Provider: "vandar", Account: "acme", Feed: "statement", Through: time.Now(), PolledAt: time.Now()}.Event()
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"publish": pub.Publish(ctx, events.TopicWatermark, []events.Event{ev}),
		"ping":    kafka.Ping(ctx, cfg),
		"topics":  kafka.EnsureTopics(ctx, cfg, 1, 1, events.TopicWatermark),
	} {
		if err == nil || !strings.Contains(err.Error(), "PLAIN") {
			t.Errorf("%s with SASL PLAIN and no TLS: %v, want a refusal", name, err)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password", name)
		}
	}
	if n := connections.Load(); n != 0 {
		t.Errorf("%d connections reached the broker's address", n)
	}
}

// streamer is a provider that answers every request with an endless body (or one that announces a huge
// Content-Length), counting what it managed to write to each request before the client hung up.
type streamer struct {
	announce bool
	mu       sync.Mutex
	written  []int64
}

func (s *streamer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.announce {
		w.Header().Set("Content-Length", strconv.FormatInt(1<<40, 10)) // a terabyte, it says
	}
	w.WriteHeader(http.StatusOK)
	chunk := []byte(`{"data":"` + strings.Repeat("x", 32<<10-10) + `"`)
	var n int64
	for n < 512<<20 { // stop on our own after 512 MiB: enough to prove the client stopped first
		m, err := w.Write(chunk)
		n += int64(m)
		if err != nil {
			break
		}
	}
	s.mu.Lock()
	s.written = append(s.written, n)
	s.mu.Unlock()
}

func (s *streamer) most() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var most int64
	for _, n := range s.written {
		most = max(most, n)
	}
	return most
}

// slack is what loopback's socket buffers can hold beyond what the client read.
const slack = 32 << 20

func TestOversizedProviderResponsesAreRefusedUnread(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		limit int64 // the client's MaxBodyBytes; 0: its default
		max   int64 // the default it must have, when limit is 0
		call  func(ctx context.Context, url string, limit int64) error
	}{
		{"vandar", 0, vandar.DefaultMaxBodyBytes, vandarBalance},
		{"vandar, limit 64 KiB", 64 << 10, 0, vandarBalance},
		{"yabandpay", 0, yabandpay.DefaultMaxBodyBytes, yabandpayBalance},
		{"yabandpay, limit 64 KiB", 64 << 10, 0, yabandpayBalance},
	}
	for _, tc := range cases {
		for _, announce := range []bool{false, true} {
			name := tc.name + ", streamed"
			if announce {
				name = tc.name + ", announced"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				if tc.limit == 0 && tc.max > 16<<20 {
					t.Fatalf("the default limit, %d bytes, is not a sane bound", tc.max)
				}
				limit := max(tc.limit, tc.max)
				srv := &streamer{announce: announce}
				hs := httptest.NewServer(srv)
				defer hs.Close()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				err := tc.call(ctx, hs.URL, tc.limit)
				if !errors.Is(err, vandar.ErrTooLarge) && !errors.Is(err, yabandpay.ErrTooLarge) {
					t.Fatalf("err = %v, want ErrTooLarge", err)
				}
				hs.CloseClientConnections()
				hs.Close() // waits for the handlers: their counts are in
				if w := srv.most(); w > limit+slack {
					t.Fatalf("the provider wrote %d bytes to one request before the client stopped reading; limit %d", w, limit)
				}
			})
		}
	}
}

func vandarBalance(ctx context.Context, url string, limit int64) error {
	// A stored pair that needs no refresh.
	far := time.Now().Add(72 * time.Hour)
	store := sourcetest.NewCredentials().Put(vandar.CredentialAccess, "access", far).Put(vandar.CredentialRefresh, "refresh", far)
	c, err := vandar.New(vandar.Config{APIURL: url, BatchURL: url, Business: "acme", Credentials: store,
		MaxBodyBytes: limit, MaxRetries: -1})
	if err != nil {
		return err
	}
	_, err = c.Balance(ctx)
	return err
}

func yabandpayBalance(ctx context.Context, url string, limit int64) error {
	c, err := yabandpay.New(yabandpay.Config{APIURL: url, User: "036870", SecretKey: random("key"),
		MaxBodyBytes: limit, MaxRetries: -1})
	if err != nil {
		return err
	}
	_, err = c.Balance(ctx, "EUR")
	return err
}
