package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Security says how every client of this package — publisher, consumer and admin calls alike — protects and
// authenticates its connections to the brokers. The zero value is plain TCP without authentication, which is
// right for the embedded broker and a local cluster; a production cluster (Strimzi, MSK, Confluent) wants TLS
// and SASL.
//
// Security is built into a kafka-go Dialer (consumer) and Transport (publisher, EnsureTopics, Lag, Ping) from
// the same settings, so no client can connect with weaker settings than the others.
type Security struct {
	// TLS encrypts connections and authenticates the brokers (and, with a client certificate, this client).
	TLS TLS

	// SASL authenticates this client to the brokers with a username and password.
	SASL SASL

	// AllowPlaintextSASL accepts SASL PLAIN without TLS, which sends the password across the network in clear
	// text. Default false: such a configuration is refused. Only for a broker on a trusted loopback or a
	// throw-away test cluster. SCRAM never sends the password itself and needs no such permission.
	AllowPlaintextSASL bool
}

// TLS configures TLS for connections to the brokers. Every field but Enabled is optional.
type TLS struct {
	// Enabled turns TLS on. Default false: plain TCP. Setting any other field without Enabled is refused, so
	// that a half-written configuration never silently falls back to plain TCP.
	Enabled bool

	// CAFile is a PEM file of the certificate authorities that sign the brokers' certificates (a Strimzi
	// cluster CA, a private PKI). When set, only these are trusted. Default "": the system's roots, right for
	// MSK and Confluent Cloud. Read once, when a client is built; a new CA needs a restart.
	CAFile string

	// CertFile and KeyFile are a PEM client certificate and its private key, for brokers that require mutual
	// TLS. Both or neither. They are read again on every new connection, so that a certificate rotated on disk
	// (cert-manager, a Strimzi KafkaUser) is picked up without a restart; while a rotation is half written
	// the last pair that loaded is used.
	CertFile string
	KeyFile  string

	// ServerName is the name the brokers' certificates must carry. Default "": the host of each broker
	// address that is dialled. Set it only when that host is not in the certificates (a tunnel, an IP
	// address); it then applies to every broker.
	ServerName string

	// InsecureSkipVerify accepts any certificate the brokers present, which lets anyone on the path read and
	// change the traffic, SASL credentials included. Default false. Never in production.
	InsecureSkipVerify bool
}

// SASL mechanisms (Config.Security.SASL.Mechanism).
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// SASL configures SASL authentication.
type SASL struct {
	// Mechanism is "" (no SASL, the default), SASLPlain, SASLScramSHA256 or SASLScramSHA512.
	Mechanism string

	// Username and Password are the credentials; both required with a mechanism, refused without one.
	Username string
	Password Password
}

// Password is a SASL password. It never prints, logs or marshals as itself — every fmt verb, slog and JSON
// show "[redacted]" — so that a Config can be logged whole. Reveal gives the password to the one place that
// sends it.
type Password string

const redacted = "[redacted]"

// String redacts the password.
func (Password) String() string { return redacted }

// GoString redacts the password for %#v.
func (Password) GoString() string { return redacted }

// Format redacts the password for every verb, including those (%d, %x) that would otherwise print a string's
// bytes without calling String.
func (Password) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue redacts the password in slog output.
func (Password) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText redacts the password in JSON and any other text encoding.
func (Password) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the password itself.
func (p Password) Reveal() string { return string(p) }

// check reports what makes the settings unusable or unsafe, naming the field. It reads no files.
func (s Security) check() error {
	t := s.TLS
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		return errors.New("kafka: security: TLS settings are given but TLS.Enabled is false")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("kafka: security: TLS.CertFile and TLS.KeyFile go together: set both or neither")
	}
	a := s.SASL
	switch a.Mechanism {
	case "":
		if a.Username != "" || a.Password != "" {
			return errors.New("kafka: security: SASL credentials are given but SASL.Mechanism is empty")
		}
		return nil
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		return fmt.Errorf("kafka: security: unknown SASL.Mechanism %q (known: %s, %s, %s)", a.Mechanism,
			SASLPlain, SASLScramSHA256, SASLScramSHA512)
	}
	if a.Username == "" || a.Password == "" {
		return fmt.Errorf("kafka: security: SASL %s needs SASL.Username and SASL.Password", a.Mechanism)
	}
	if a.Mechanism == SASLPlain && !t.Enabled && !s.AllowPlaintextSASL {
		return errors.New("kafka: security: SASL PLAIN without TLS would send the password in clear text: " +
			"enable TLS, or set AllowPlaintextSASL to accept that")
	}
	return nil
}

// build checks the settings and returns what kafka-go needs: a TLS config (nil without TLS) and a SASL
// mechanism (nil without SASL). Both may be shared by any number of connections.
func (s Security) build() (*tls.Config, sasl.Mechanism, error) {
	if err := s.check(); err != nil {
		return nil, nil, err
	}
	tlsConfig, err := s.TLS.config()
	if err != nil {
		return nil, nil, err
	}
	mech, err := s.SASL.mechanism()
	if err != nil {
		return nil, nil, err
	}
	return tlsConfig, mech, nil
}

// config builds the TLS client config, reading the CA file and checking that the client pair loads.
func (t TLS) config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{
		// Kafka has spoken TLS 1.2 since 2.x and every managed service does; nothing older is safe.
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // only when explicitly configured
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: security: TLS.CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: security: TLS.CAFile %s holds no PEM certificate", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		kp := &keyPair{certFile: t.CertFile, keyFile: t.KeyFile}
		// Load once now, so that a wrong path or a mismatched pair fails at start-up, not at the first dial.
		if _, err := kp.load(); err != nil {
			return nil, err
		}
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.load() }
	}
	return c, nil
}

// keyPair loads a client certificate from disk on every handshake and remembers the last one that loaded.
type keyPair struct {
	certFile, keyFile string

	mu   sync.Mutex
	last *tls.Certificate
}

// load reads the pair again. While a rotation is half written (the new certificate beside the old key) the
// pair does not match: the last good pair is used, and the next connection tries again.
func (k *keyPair) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if k.last != nil {
			return k.last, nil
		}
		// The error names the files and what is wrong with them, never their contents.
		return nil, fmt.Errorf("kafka: security: TLS client certificate %s / key %s: %w", k.certFile, k.keyFile, err)
	}
	k.last = &cert
	return k.last, nil
}

// mechanism builds the SASL mechanism, or nil without one.
func (a SASL) mechanism() (sasl.Mechanism, error) {
	var algo scram.Algorithm
	switch a.Mechanism {
	case "":
		return nil, nil
	case SASLPlain:
		return plain.Mechanism{Username: a.Username, Password: a.Password.Reveal()}, nil
	case SASLScramSHA256:
		algo = scram.SHA256
	case SASLScramSHA512:
		algo = scram.SHA512
	}
	m, err := scram.Mechanism(algo, a.Username, a.Password.Reveal())
	if err != nil {
		// Not wrapped: the SASLprep error of the SCRAM library can quote the character of the password it
		// refused.
		return nil, fmt.Errorf("kafka: security: SASL %s: the username or password is not valid SASLprep "+
			"(RFC 4013) text", a.Mechanism)
	}
	return m, nil
}
