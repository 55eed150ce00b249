package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Digest is a keyed hash of data (HMAC-SHA256 under a key derived from the box's key), in hex.
// It names a value without revealing it, even a value as guessable as a card number.
func (b *Box) Digest(data []byte) string {
	// A fixed nonce is safe here: this seal is never published, only used as the HMAC key.
	macKey := b.aead.Seal(nil, make([]byte, b.aead.NonceSize()), []byte("opsflow digest key, 32 bytes...."), nil)
	m := hmac.New(sha256.New, macKey)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}
