package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestParseKeyEncodings(t *testing.T) {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(i*7 + 250) // covers bytes that differ between std and URL base64
	}
	for name, s := range map[string]string{
		"std":       base64.StdEncoding.EncodeToString(k),
		"raw std":   base64.RawStdEncoding.EncodeToString(k),
		"url":       base64.URLEncoding.EncodeToString(k),
		"raw url":   base64.RawURLEncoding.EncodeToString(k),
		"hex":       hex.EncodeToString(k),
		"HEX":       strings.ToUpper(hex.EncodeToString(k)),
		"hex\\n":    hex.EncodeToString(k) + "\n",
		"std\\r\\n": base64.StdEncoding.EncodeToString(k) + "\r\n",
	} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("%s: ParseKey(%q) = %x, %v", name, s, got, err)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	for s, detail := range map[string]string{
		"":      "empty",
		"   \n": "empty",
		base64.StdEncoding.EncodeToString(make([]byte, 16)): "decodes to 16 bytes",
		base64.StdEncoding.EncodeToString(make([]byte, 33)): "decodes to 33 bytes",
		hex.EncodeToString(make([]byte, 16)):                "decodes to 24 bytes", // 32 hex chars read as base64
		strings.Repeat("ab", 31) + "zz":                     "decodes to 48 bytes", // not hex; valid base64 of 48 bytes
		strings.Repeat("ab", 31) + "!!":                     "neither",
		"not a key at all!":                                 "neither",
	} {
		k, err := ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted a %d-byte key", s, len(k))
			continue
		}
		if !strings.Contains(err.Error(), "32 bytes") || !strings.Contains(err.Error(), "openssl rand -base64 32") || !strings.Contains(err.Error(), detail) {
			t.Errorf("ParseKey(%q): %q, want a helpful message with %q", s, err, detail)
		}
	}
}

func TestAADBinding(t *testing.T) {
	box, _ := NewBox(key(3))
	a := box.Seal([]byte("secret of A"), []byte("cred-A"))
	b := box.Seal([]byte("secret of B"), []byte("cred-B"))
	if _, err := box.Open(a, []byte("cred-B")); err == nil {
		t.Error("A's ciphertext opened as B")
	}
	if _, err := box.Open(a, nil); err == nil {
		t.Error("A's ciphertext opened without its record id")
	}
	if pt, err := box.Open(b, []byte("cred-B")); err != nil || string(pt) != "secret of B" {
		t.Errorf("B: %q %v", pt, err)
	}
	empty := box.Seal(nil, nil)
	if pt, err := box.Open(empty, nil); err != nil || len(pt) != 0 {
		t.Errorf("empty plaintext: %q %v", pt, err)
	}
}

func TestTamperingAnywhereFails(t *testing.T) {
	box, _ := NewBox(key(4))
	ct := box.Seal([]byte("payload"), []byte("id"))
	for i := range ct {
		bad := append([]byte(nil), ct...)
		bad[i] ^= 0x80
		if _, err := box.Open(bad, []byte("id")); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	for _, n := range []int{0, 5, 12, len(ct) - 1} {
		if _, err := box.Open(ct[:n], []byte("id")); err == nil {
			t.Errorf("a ciphertext cut to %d bytes opened", n)
		}
	}
	if _, err := box.Open(append(append([]byte(nil), ct...), 0), []byte("id")); err == nil {
		t.Error("a ciphertext with a byte appended opened")
	}
}

func TestKeyFileIsReadBackAndNotReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "secret.key")
	first, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile, err := ParseKey(string(data)); err != nil || !bytes.Equal(fromFile, first) {
		t.Errorf("the file holds %q, not the returned key", data)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// An operator-provided key file is used as is.
	own := filepath.Join(dir, "own.key")
	if err := os.WriteFile(own, []byte(hex.EncodeToString(key(9))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadOrCreateKeyFile(own); err != nil || !bytes.Equal(k, key(9)) {
		t.Errorf("own key: %x %v", k, err)
	}
	// A corrupt key file is an error naming the file, never silently replaced.
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt key file: %v", err)
	}
	if data, _ := os.ReadFile(bad); string(data) != "garbage" {
		t.Error("the corrupt key file was overwritten")
	}
}

// Processes starting together must all end up with the one key on disk.
func TestKeyFileConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			keys[i], errs[i] = LoadOrCreateKeyFile(path)
		}(i)
	}
	wg.Wait()
	onDisk, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if errs[i] != nil || !bytes.Equal(keys[i], onDisk) {
			t.Errorf("caller %d got %x, %v; the file holds %x", i, keys[i], errs[i], onDisk)
		}
	}
}

// A key check value verifies under its own key only, and is not a credential's ciphertext.
func TestKeyCheckValue(t *testing.T) {
	a, _ := NewBox(bytes.Repeat([]byte{1}, KeySize))
	b, _ := NewBox(bytes.Repeat([]byte{2}, KeySize))
	check := a.CheckValue()
	if !a.Verify(check) || b.Verify(check) {
		t.Fatalf("verify under own key %v, under another %v", a.Verify(check), b.Verify(check))
	}
	if a.Verify(a.Seal([]byte("opsflow key check v1"), []byte("cred-id"))) || a.Verify(check[:10]) {
		t.Fatal("a ciphertext bound to another record, or a truncated value, verified")
	}
}
