// Package secret seals credentials with AES-256-GCM before they reach the database.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// Box encrypts with one key and decrypts with it or, during a key rotation, with older keys.
type Box struct {
	aead cipher.AEAD
	old  []cipher.AEAD
}

// NewBox makes a Box from a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// WithOld returns a Box that also decrypts what older keys sealed (it still seals with its own key).
func (b *Box) WithOld(keys ...[]byte) (*Box, error) {
	nb := &Box{aead: b.aead, old: append([]cipher.AEAD(nil), b.old...)}
	for _, k := range keys {
		o, err := NewBox(k)
		if err != nil {
			return nil, fmt.Errorf("old key: %w", err)
		}
		nb.old = append(nb.old, o.aead)
	}
	return nb, nil
}

// Seal encrypts plaintext; the random nonce is prepended. aad binds the ciphertext to its
// record (its id), so a ciphertext copied onto another record does not decrypt.
func (b *Box) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal produced, with the current key or an old one.
func (b *Box) Open(ciphertext, aad []byte) ([]byte, error) {
	out, _, err := b.OpenCurrent(ciphertext, aad)
	return out, err
}

// OpenCurrent is Open that also reports whether the current key (not an old one) sealed it.
func (b *Box) OpenCurrent(ciphertext, aad []byte) ([]byte, bool, error) {
	n := b.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, false, errors.New("ciphertext too short")
	}
	for i, a := range append([]cipher.AEAD{b.aead}, b.old...) {
		if out, err := a.Open(nil, ciphertext[:n], ciphertext[n:], aad); err == nil {
			return out, i == 0, nil
		}
	}
	return nil, false, errors.New("cannot decrypt: wrong key or tampered data")
}

// ParseKey decodes a base64 (standard or URL, padded or not) or 64-char hex key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	got := -1 // decoded length, when s is base64 of the wrong size
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) == KeySize {
				return k, nil
			}
			got = len(k)
		}
	}
	const help = "OPSFLOW_SECRET_KEY must be 32 bytes, base64- or hex-encoded (generate one with: openssl rand -base64 32)"
	switch {
	case s == "":
		return nil, errors.New(help + "; it is empty")
	case got >= 0:
		return nil, fmt.Errorf("%s; this one decodes to %d bytes", help, got)
	}
	return nil, errors.New(help + "; this one is neither")
}

// LoadOrCreateKeyFile reads the key in path, creating it (mode 0600) on first use. The embedded
// default uses it so a single-machine install works with no configuration. Two processes starting
// at once agree on one key: the file appears atomically, complete, and is never overwritten.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	if key, err := readKeyFile(path); !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	enc := base64.StdEncoding.EncodeToString(key)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.WriteString(enc + "\n"); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails if path exists: then another process won the race and its key is the key.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return readKeyFile(path)
		}
		return nil, err
	}
	return key, nil
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// checkPlaintext is sealed into a key check value: stored with the data, it tells at start whether
// a key is the one the data was encrypted with, before any credential is needed.
var checkPlaintext, checkAAD = []byte("opsflow key check v1"), []byte("opsflow:key-check")

// CheckValue returns a new key check value for this Box's key (a sealed known plaintext).
func (b *Box) CheckValue() []byte { return b.Seal(checkPlaintext, checkAAD) }

// Verify reports whether check was made by CheckValue with this Box's key.
func (b *Box) Verify(check []byte) bool {
	plain, err := b.Open(check, checkAAD)
	return err == nil && string(plain) == string(checkPlaintext)
}
