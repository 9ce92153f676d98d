package pollstate

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer encrypts credentials at rest with AES-256-GCM. The key is derived from MIZAN_SECRET_KEY with
// HKDF-SHA256, so an operator can use any long random string, and the source name is bound into each
// ciphertext as additional data, so a row copied onto another source fails to open instead of lending it
// another business's credentials.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the sealing key from secret.
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < 16 {
		return nil, errors.New("token encryption: MIZAN_SECRET_KEY must be at least 16 characters")
	}
	// The info string predates the generic credential store: rows sealed by earlier versions still open.
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "mizan provider tokens v1", 32)
	if err != nil {
		return nil, fmt.Errorf("token encryption: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token encryption: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token encryption: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for source: nonce || ciphertext.
func (s *Sealer) Seal(source, plaintext string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("token encryption: %w", err)
	}
	return s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(source)), nil
}

// Open decrypts what Seal produced for source.
func (s *Sealer) Open(source string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return "", errors.New("token decryption: stored value is too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(source))
	if err != nil {
		// Wrong MIZAN_SECRET_KEY, or a row that belongs to another source.
		return "", errors.New("token decryption failed: MIZAN_SECRET_KEY differs from the one the tokens were stored with, or the row was tampered with")
	}
	return string(plain), nil
}
