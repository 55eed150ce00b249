package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	box, err := NewBox(key(1))
	if err != nil {
		t.Fatal(err)
	}
	ct := box.Seal([]byte(`{"auth_token":"tw-secret"}`), []byte("cred-A"))
	if bytes.Contains(ct, []byte("tw-secret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if pt, err := box.Open(ct, []byte("cred-A")); err != nil || string(pt) != `{"auth_token":"tw-secret"}` {
		t.Fatalf("round trip: %q %v", pt, err)
	}
	if _, err := box.Open(ct, []byte("cred-B")); err == nil {
		t.Error("a ciphertext opened under another record's id")
	}
	tampered := append([]byte(nil), ct...)
	tampered[len(tampered)-1] ^= 1
	if _, err := box.Open(tampered, []byte("cred-A")); err == nil {
		t.Error("tampered ciphertext opened")
	}
	other, _ := NewBox(key(2))
	if _, err := other.Open(ct, []byte("cred-A")); err == nil {
		t.Error("opened with the wrong key")
	}
	if bytes.Equal(ct, box.Seal([]byte(`{"auth_token":"tw-secret"}`), []byte("cred-A"))) {
		t.Error("two seals of the same plaintext are identical: the nonce is not random")
	}
	if _, err := NewBox(make([]byte, 16)); err == nil {
		t.Error("a 16-byte key was accepted for AES-256")
	}
}

func TestParseKey(t *testing.T) {
	k := key(7)
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), hex.EncodeToString(k), " " + base64.StdEncoding.EncodeToString(k) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", base64.StdEncoding.EncodeToString(make([]byte, 16)), strings.Repeat("z", 64)} {
		if _, err := ParseKey(s); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("ParseKey(%q): %v, want a helpful error", s, err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	first, err := LoadOrCreateKeyFile(path)
	if err != nil || len(first) != KeySize {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("the key changed on reload: %v", err)
	}
}
