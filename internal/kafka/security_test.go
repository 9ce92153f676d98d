package kafka_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/kafka"
)

// pki is a certificate authority made for one test, with its certificate in a PEM file.
type pki struct {
	dir    string
	CAFile string
	ca     *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	serial int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.key = newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mizan test CA " + t.Name()},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.serial = 1
	p.CAFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *pki) write(t testing.TB, name, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a certificate for name — a server certificate for 127.0.0.1, localhost and name, or a client
// certificate — writes it and its key to name.pem and name-key.pem, and returns it.
func (p *pki) issue(t testing.TB, name string, server bool) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key := newKey(t)
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost", name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile = p.write(t, name+"-key.pem", "PRIVATE KEY", keyDER)
	cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// user is a SASL account on a test broker.
type user struct{ mechanism, name, password string }

// secureBroker is a kfake broker with TLS (when pki is set) and SASL (when users are given), and the common
// names of the client certificates it has seen.
type secureBroker struct {
	addrs []string

	mu      sync.Mutex
	clients []string
}

// startSecureBroker starts a broker for one test. requireClientCert asks for mutual TLS.
func startSecureBroker(t testing.TB, p *pki, requireClientCert bool, users ...user) *secureBroker {
	t.Helper()
	b := &secureBroker{}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(3)}
	if p != nil {
		_, _, serverCert := p.issue(t, "broker.test", true)
		tc := &tls.Config{
			Certificates: []tls.Certificate{serverCert},
			MinVersion:   tls.VersionTLS12,
			ClientCAs:    p.pool,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					b.mu.Lock()
					b.clients = append(b.clients, cs.PeerCertificates[0].Subject.CommonName)
					b.mu.Unlock()
				}
				return nil
			},
		}
		if requireClientCert {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
		opts = append(opts, kfake.TLS(tc))
	}
	if len(users) > 0 {
		opts = append(opts, kfake.EnableSASL())
		for _, u := range users {
			opts = append(opts, kfake.Superuser(u.mechanism, u.name, u.password))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	b.addrs = c.ListenAddrs()
	return b
}

// clientNames returns the common names of the client certificates the broker has verified so far.
func (b *secureBroker) clientNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.clients)
}

// Every client of the package — EnsureTopics, Publish, a consumer group with commits, Lag and Ping — works
// over each combination of TLS and SASL a production cluster may ask for.
func TestClientsWorkOverTLSAndSASL(t *testing.T) {
	t.Parallel()
	users := []user{
		{kafka.SASLPlain, "mizan-plain", "plain-pw-7Qx"},
		{kafka.SASLScramSHA256, "mizan-256", "scram256-pw-9Rz"},
		{kafka.SASLScramSHA512, "mizan-512", "scram512-pw-3Kd"},
	}
	sasl := func(u user) kafka.SASL {
		return kafka.SASL{Mechanism: u.mechanism, Username: u.name, Password: kafka.Password(u.password)}
	}
	for _, tc := range []struct {
		name       string
		tls        bool
		clientCert bool
		sasl       kafka.SASL
		plaintext  bool
	}{
		{name: "TLS alone", tls: true},
		{name: "mutual TLS", tls: true, clientCert: true},
		{name: "SASL PLAIN over TLS", tls: true, sasl: sasl(users[0])},
		{name: "SASL SCRAM-SHA-256 over TLS", tls: true, sasl: sasl(users[1])},
		{name: "SASL SCRAM-SHA-512 over TLS", tls: true, sasl: sasl(users[2])},
		{name: "SASL SCRAM-SHA-512 over mutual TLS", tls: true, clientCert: true, sasl: sasl(users[2])},
		{name: "SASL SCRAM-SHA-256 without TLS", sasl: sasl(users[1])},
		{name: "SASL PLAIN without TLS when explicitly allowed", sasl: sasl(users[0]), plaintext: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			var p *pki
			var sec kafka.Security
			if tc.tls {
				p = newPKI(t)
				sec.TLS = kafka.TLS{Enabled: true, CAFile: p.CAFile}
				if tc.clientCert {
					sec.TLS.CertFile, sec.TLS.KeyFile, _ = p.issue(t, "mizan-client", false)
				}
			}
			var brokerUsers []user
			if tc.sasl.Mechanism != "" {
				brokerUsers = users
			}
			b := startSecureBroker(t, p, tc.clientCert, brokerUsers...)
			sec.SASL = tc.sasl
			sec.AllowPlaintextSASL = tc.plaintext
			cfg := kafka.Config{Brokers: b.addrs, ClientID: "mizan-test", Security: sec}

			if err := kafka.EnsureTopics(ctx, cfg, 2, 0, events.TopicStatement); err != nil {
				t.Fatalf("EnsureTopics: %v", err)
			}
			if err := kafka.Ping(ctx, cfg, events.TopicStatement); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			pub := kafka.NewPublisher(cfg)
			t.Cleanup(func() { _ = pub.Close() })
			evs := makeEvents(t, "secure", 10, 3)
			if err := pub.Publish(ctx, events.TopicStatement, evs); err != nil {
				t.Fatalf("Publish: %v", err)
			}

			c := newConsumer(t, cfg, "g-secure", []string{events.TopicStatement}, kafka.ConsumerOptions{})
			got, _ := consume(ctx, t, c, len(evs))
			gotIDs, want := ids(t, got), eventIDs(evs)
			slices.Sort(gotIDs)
			slices.Sort(want)
			if !slices.Equal(gotIDs, want) {
				t.Fatalf("consumed %v, published %v", gotIDs, want)
			}
			if err := c.Commit(ctx, got); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if n := lag(ctx, t, c); n != 0 {
				t.Fatalf("lag after committing everything = %d", n)
			}
			if tc.clientCert {
				names := b.clientNames()
				if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return n != "mizan-client" }) {
					t.Fatalf("broker saw client certificates %v, want only mizan-client", names)
				}
			}
		})
	}
}

// SASL PLAIN without TLS is refused by every entry point, with an error that names the setting that allows it
// and never the password; nothing is sent.
func TestPlaintextSASLPlainIsRefused(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	const password = "hunter2-do-not-print"
	cfg := kafka.Config{
		// Nothing listens here: a refusal must come before any dial.
		Brokers:  []string{"127.0.0.1:1"},
		Security: kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLPlain, Username: "u", Password: password}},
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "AllowPlaintextSASL") || !strings.Contains(err.Error(), "TLS") {
			t.Errorf("%s: got %v, want a refusal naming AllowPlaintextSASL and TLS", what, err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", what, err)
		}
	}
	check("EnsureTopics", kafka.EnsureTopics(ctx, cfg, 1, 0, "t"))
	check("Ping", kafka.Ping(ctx, cfg))
	pub := kafka.NewPublisher(cfg)
	check("Publish", pub.Publish(ctx, "t", makeEvents(t, "refused", 1, 1)))
	if err := pub.Close(); err != nil {
		t.Errorf("Close of a refused publisher: %v", err)
	}
	c := newConsumer(t, cfg, "g", []string{"t"}, kafka.ConsumerOptions{})
	_, err := c.FetchBatch(ctx)
	check("FetchBatch", err)
	_, _, err = c.Lag(ctx)
	check("Lag", err)
}

// Settings that cannot work, or that would silently be ignored, are refused and the error names the field.
func TestSecuritySettingsAreChecked(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	p := newPKI(t)
	certFile, keyFile, _ := p.issue(t, "client", false)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("no pem here"), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "s3cret-pw"
	for _, tc := range []struct {
		name string
		sec  kafka.Security
		want string
	}{
		{"a CA file without TLS enabled", kafka.Security{TLS: kafka.TLS{CAFile: p.CAFile}}, "TLS.Enabled"},
		{"skipping verification without TLS enabled", kafka.Security{TLS: kafka.TLS{InsecureSkipVerify: true}}, "TLS.Enabled"},
		{"a certificate without its key", kafka.Security{TLS: kafka.TLS{Enabled: true, CertFile: certFile}}, "TLS.KeyFile"},
		{"a key without its certificate", kafka.Security{TLS: kafka.TLS{Enabled: true, KeyFile: keyFile}}, "TLS.CertFile"},
		{"a missing CA file", kafka.Security{TLS: kafka.TLS{Enabled: true, CAFile: filepath.Join(p.dir, "nope.pem")}}, "TLS.CAFile"},
		{"a CA file with no certificate", kafka.Security{TLS: kafka.TLS{Enabled: true, CAFile: garbage}}, "TLS.CAFile"},
		{"a client pair that does not match", kafka.Security{TLS: kafka.TLS{Enabled: true, CertFile: certFile, KeyFile: p.CAFile}}, "TLS client certificate"},
		{"an unknown mechanism", kafka.Security{SASL: kafka.SASL{Mechanism: "GSSAPI", Username: "u", Password: password}}, `"GSSAPI"`},
		{"a lower-case mechanism", kafka.Security{SASL: kafka.SASL{Mechanism: "scram-sha-256", Username: "u", Password: password}}, "SASL.Mechanism"},
		{"SCRAM without a username", kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA256, Password: password}}, "SASL.Username"},
		{"SCRAM without a password", kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA512, Username: "u"}}, "SASL.Password"},
		{"credentials without a mechanism", kafka.Security{SASL: kafka.SASL{Username: "u", Password: password}}, "SASL.Mechanism"},
		{"a password SASLprep refuses", kafka.Security{SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: "u", Password: "bad\u0007" + password}}, "SASLprep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := kafka.Ping(ctx, kafka.Config{Brokers: []string{"127.0.0.1:1"}, Security: tc.sec})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// A broker that refuses the credentials or whose certificate is not trusted fails the client; the error does
// not show the password.
func TestBrokerRefusalsFailTheClient(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	p := newPKI(t)
	const password = "right-password-1"
	b := startSecureBroker(t, p, false, user{kafka.SASLScramSHA256, "mizan", password})
	tlsOn := kafka.TLS{Enabled: true, CAFile: p.CAFile}
	scram := func(pw string) kafka.SASL {
		return kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: "mizan", Password: kafka.Password(pw)}
	}
	other := newPKI(t)

	for _, tc := range []struct {
		name string
		sec  kafka.Security
	}{
		{"a wrong password", kafka.Security{TLS: tlsOn, SASL: scram("wrong-password-2")}},
		{"an unknown user", kafka.Security{TLS: tlsOn, SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA256, Username: "nobody", Password: password}}},
		{"a mechanism the user does not have", kafka.Security{TLS: tlsOn, SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA512, Username: "mizan", Password: password}}},
		{"no SASL at all", kafka.Security{TLS: tlsOn}},
		{"a CA that did not sign the broker", kafka.Security{TLS: kafka.TLS{Enabled: true, CAFile: other.CAFile}, SASL: scram(password)}},
		{"a server name the certificate lacks", kafka.Security{TLS: kafka.TLS{Enabled: true, CAFile: p.CAFile, ServerName: "kafka.example"}, SASL: scram(password)}},
		{"the system roots", kafka.Security{TLS: kafka.TLS{Enabled: true}, SASL: scram(password)}},
		{"plain TCP to a TLS listener", kafka.Security{SASL: scram(password)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := kafka.Ping(ctx, kafka.Config{Brokers: b.addrs, DialTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, Security: tc.sec})
			if err == nil {
				t.Fatal("Ping worked")
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "wrong-password-2") {
				t.Fatalf("the error shows a password: %v", err)
			}
			t.Logf("as expected: %v", err)
		})
	}

	// The control: the right settings, including a ServerName the certificate does carry, work.
	ok := kafka.Security{TLS: kafka.TLS{Enabled: true, CAFile: p.CAFile, ServerName: "broker.test"}, SASL: scram(password)}
	if err := kafka.Ping(ctx, kafka.Config{Brokers: b.addrs, Security: ok}); err != nil {
		t.Fatal(err)
	}
	// InsecureSkipVerify, when set, does accept the untrusted certificate.
	insecure := kafka.Security{TLS: kafka.TLS{Enabled: true, InsecureSkipVerify: true}, SASL: scram(password)}
	if err := kafka.Ping(ctx, kafka.Config{Brokers: b.addrs, Security: insecure}); err != nil {
		t.Fatal(err)
	}
}

// The password never shows when a Config is printed, logged or marshalled, in any of the ways code does that.
func TestPasswordNeverPrints(t *testing.T) {
	t.Parallel()
	const password = "pw-Zq81-never-print"
	cfg := kafka.Config{Brokers: []string{"b:9093"}, Security: kafka.Security{
		TLS:  kafka.TLS{Enabled: true},
		SASL: kafka.SASL{Mechanism: kafka.SASLScramSHA512, Username: "mizan", Password: password},
	}}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
		outputs = append(outputs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, cfg.Security),
			fmt.Sprintf(verb, cfg.Security.SASL.Password))
	}
	js, err := json.Marshal(cfg.Security)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	var text, jsonLog strings.Builder
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "kafka", cfg, "security", cfg.Security,
		"password", cfg.Security.SASL.Password)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "security", cfg.Security,
		"password", cfg.Security.SASL.Password)
	outputs = append(outputs, text.String(), jsonLog.String())
	for _, out := range outputs {
		if strings.Contains(out, password) || strings.Contains(out, fmt.Sprintf("%x", password)) {
			t.Errorf("password printed: %s", out)
		}
	}
	if !strings.Contains(jsonLog.String(), "[redacted]") {
		t.Errorf("JSON log does not show the password as redacted: %s", jsonLog.String())
	}
	if cfg.Security.SASL.Password.Reveal() != password {
		t.Error("Reveal does not return the password")
	}
}
