package identification

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Seal encrypts plain for storage (AES-256-GCM) under a key derived from
// the current code key for purpose, bound to aad (what the value belongs
// to: another item's value decrypts nowhere else). The result names the
// code key it was sealed under, so a sealed value opens after the code key
// rotates, as long as the previous key is kept. It is how secrets the
// product must use again (a webhook's signing secret) rest in the table:
// never in clear, and useless without the code key.
func (k *CodeKeys) Seal(purpose, aad string, plain []byte) (string, error) {
	aead, err := k.sealer(k.current, purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, []byte(aad))
	return k.current + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts what Seal sealed for purpose and aad. It fails, saying
// nothing of the value, when the key is unknown or the value was sealed
// for another purpose or item, or altered.
func (k *CodeKeys) Open(purpose, aad, sealed string) ([]byte, error) {
	keyID, text, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, errors.New("open: not a sealed value")
	}
	aead, err := k.sealer(keyID, purpose)
	if err != nil {
		return nil, err
	}
	raw, err := base64.RawStdEncoding.DecodeString(text)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("open: not a sealed value")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, errors.New("open: the value does not open under its key, purpose and owner")
	}
	return plain, nil
}

// sealer is the AEAD of the code key keyID for purpose: a key of its own
// per purpose (HMAC-SHA256 of the code key), so that no sealed value is
// ever under a key that hashes codes.
func (k *CodeKeys) sealer(keyID, purpose string) (cipher.AEAD, error) {
	key, ok := k.keys[keyID]
	if !ok {
		return nil, fmt.Errorf("seal: unknown code key %q", keyID)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("seal\x00" + purpose))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}
