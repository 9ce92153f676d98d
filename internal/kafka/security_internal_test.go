package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeSelfSigned writes a new self-signed client certificate named cn and its key to certFile and keyFile.
func writeSelfSigned(t *testing.T, cn, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed into place, as a rotating secret mount does.
	for path, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path+".new", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
}

// clientName returns the common name of the certificate the TLS config presents on a new handshake.
func clientName(t *testing.T, c *tls.Config) string {
	t.Helper()
	cert, err := c.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// A client certificate rotated on disk is presented on the next handshake by the same client; a rotation
// caught half written falls back to the last pair that loaded; a pair that never loaded fails at build time.
func TestClientCertificateFollowsRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")
	writeSelfSigned(t, "first", certFile, keyFile)

	c, err := TLS{Enabled: true, CertFile: certFile, KeyFile: keyFile}.config()
	if err != nil {
		t.Fatal(err)
	}
	if got := clientName(t, c); got != "first" {
		t.Fatalf("presents %q, want first", got)
	}

	writeSelfSigned(t, "second", certFile, keyFile)
	if got := clientName(t, c); got != "second" {
		t.Fatalf("after rotation presents %q, want second", got)
	}

	// Half written: a new certificate file beside the old key does not match it.
	other := filepath.Join(dir, "other")
	writeSelfSigned(t, "third", other+".pem", other+"-key.pem")
	if err := os.Rename(other+".pem", certFile); err != nil {
		t.Fatal(err)
	}
	if got := clientName(t, c); got != "second" {
		t.Fatalf("during a half-written rotation presents %q, want the last good one (second)", got)
	}

	// The same files for a client built now: nothing good was ever loaded, so the build fails.
	if _, err := (TLS{Enabled: true, CertFile: certFile, KeyFile: keyFile}).config(); err == nil {
		t.Fatal("a mismatched pair at build time was accepted")
	}
}
