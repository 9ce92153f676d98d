package pollstate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mizanhq/mizan/internal/sources/vandar"
)

// Sealer encrypts provider tokens at rest with AES-256-GCM. The key is derived from MIZAN_SECRET_KEY with
// HKDF-SHA256, so an operator can use any long random string, and the source name is bound into each
// ciphertext as additional data, so a row copied onto another source fails to open instead of lending it
// another business's tokens.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the token key from secret.
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < 16 {
		return nil, errors.New("token encryption: MIZAN_SECRET_KEY must be at least 16 characters")
	}
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

// Tokens is the Vandar token store of one source: the encrypted pair in poller.tokens, seeded from the
// environment the first time. Once a refresh has rotated the pair, the stored pair wins over the environment's
// copy, which the provider has already invalidated.
type Tokens struct {
	pool   *pgxpool.Pool
	sealer *Sealer
	source string
	seed   vandar.Tokens
}

// NewTokens returns the token store of source, seeded with the dashboard-issued pair from the environment.
// The seed's expiry is unknown, so it is treated as already due for a refresh: the first call refreshes and
// stores a pair whose lifetime is known.
func NewTokens(pool *pgxpool.Pool, sealer *Sealer, source, access, refresh string) *Tokens {
	return &Tokens{pool: pool, sealer: sealer, source: source, seed: vandar.Tokens{Access: access, Refresh: refresh}}
}

// Load returns the stored pair, or the seed when nothing is stored yet.
func (t *Tokens) Load(ctx context.Context) (vandar.Tokens, error) {
	var access, refresh []byte
	var accessExp, refreshExp *time.Time
	err := t.pool.QueryRow(ctx, `
		SELECT access_token, refresh_token, access_expires_at, refresh_expires_at
		FROM poller.tokens WHERE source = $1`, t.source).Scan(&access, &refresh, &accessExp, &refreshExp)
	if errors.Is(err, pgx.ErrNoRows) {
		return t.seed, nil
	}
	if err != nil {
		return vandar.Tokens{}, fmt.Errorf("load tokens of %s: %w", t.source, err)
	}
	var tok vandar.Tokens
	if tok.Access, err = t.sealer.Open(t.source, access); err != nil {
		return vandar.Tokens{}, fmt.Errorf("load tokens of %s: %w", t.source, err)
	}
	if tok.Refresh, err = t.sealer.Open(t.source, refresh); err != nil {
		return vandar.Tokens{}, fmt.Errorf("load tokens of %s: %w", t.source, err)
	}
	if accessExp != nil {
		tok.AccessExpiresAt = *accessExp
	}
	if refreshExp != nil {
		tok.RefreshExpiresAt = *refreshExp
	}
	return tok, nil
}

// Save stores a freshly rotated pair. It returns only after the row is committed: the client must not use
// the new refresh token before it is durable, or a crash would lock the business out.
func (t *Tokens) Save(ctx context.Context, tok vandar.Tokens) error {
	access, err := t.sealer.Seal(t.source, tok.Access)
	if err != nil {
		return err
	}
	refresh, err := t.sealer.Seal(t.source, tok.Refresh)
	if err != nil {
		return err
	}
	_, err = t.pool.Exec(ctx, `
		INSERT INTO poller.tokens (source, access_token, refresh_token, access_expires_at, refresh_expires_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (source) DO UPDATE SET access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
			access_expires_at = EXCLUDED.access_expires_at, refresh_expires_at = EXCLUDED.refresh_expires_at, updated_at = now()`,
		t.source, access, refresh, nullTime(tok.AccessExpiresAt), nullTime(tok.RefreshExpiresAt))
	if err != nil {
		return fmt.Errorf("save tokens of %s: %w", t.source, err)
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
