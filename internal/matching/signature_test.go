package matching

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"testing"
)

func TestExpectationSignatures(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if err := (Keys{}).Verify([]byte("anything"), ""); err != nil {
		t.Fatalf("with no keys configured, signatures are not required: %v", err)
	}
	keys, err := ParseKeys(" shop-2026=" + base64.StdEncoding.EncodeToString(pub) + " ,")
	if err != nil {
		t.Fatal(err)
	}
	value := []byte(`{"specversion":"1.0","type":"mizan.expected.v1"}`)
	if err := keys.Verify(value, Sign("shop-2026", priv, value)); err != nil {
		t.Fatalf("a valid signature was refused: %v", err)
	}
	for name, header := range map[string]string{
		"missing":           "",
		"malformed":         "no-colon",
		"an unknown key":    Sign("shop-2025", priv, value),
		"another key's":     Sign("shop-2026", other, value),
		"of another record": Sign("shop-2026", priv, []byte(`{}`)),
		"not base64":        "shop-2026:%%%",
	} {
		if err := keys.Verify(value, header); !errors.Is(err, ErrSignature) {
			t.Errorf("%s signature: %v", name, err)
		}
	}
	for _, bad := range []string{"shop", "shop=abc", "a=" + base64.StdEncoding.EncodeToString(pub) + ",a=" +
		base64.StdEncoding.EncodeToString(pub)} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}
