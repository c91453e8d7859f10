package identification

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// CodeLength and CodeAlphabet shape a one-time code: 6 of 0-9a-z.
const (
	CodeLength   = 6
	CodeAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// CodeKeys hash codes under a deployment secret (HMAC-SHA256), so that the
// store holds nothing a code can be read back from. The current key hashes
// new codes; a previous key, during a rotation, still checks codes issued
// before it.
type CodeKeys struct {
	current string
	keys    map[string][]byte
}

// NewCodeKeys returns the keys with current as the key new codes are hashed
// under. Each key needs at least 32 bytes.
func NewCodeKeys(currentID string, current []byte, previous map[string][]byte) (*CodeKeys, error) {
	if currentID == "" || len(current) < 32 {
		return nil, errors.New("code key: the current key needs an id and at least 32 bytes")
	}
	k := &CodeKeys{current: currentID, keys: map[string][]byte{currentID: current}}
	for id, key := range previous {
		if id == "" || len(key) < 32 {
			return nil, fmt.Errorf("code key: previous key %q needs an id and at least 32 bytes", id)
		}
		if _, dup := k.keys[id]; !dup {
			k.keys[id] = key
		}
	}
	return k, nil
}

// NewCode returns a new code for ref: its nonce, and the code derived from
// it. The code is drawn uniformly from CodeAlphabet: the nonce comes from
// crypto/rand and the derivation rejects bytes that would bias it.
func (k *CodeKeys) NewCode(ref Ref) (code, nonce string, err error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("new code: %w", err)
	}
	nonce = base64.RawURLEncoding.EncodeToString(raw[:])
	code, err = k.Derive(ref, k.current, nonce)
	return code, nonce, err
}

// Derive is the code of nonce for ref under key id: the same nonce always
// gives the same code, so that delivering a code again (a replayed stream
// record) can never send a second, different one.
func (k *CodeKeys) Derive(ref Ref, keyID, nonce string) (string, error) {
	key, ok := k.keys[keyID]
	if !ok {
		return "", fmt.Errorf("derive code: unknown key %q", keyID)
	}
	out := make([]byte, 0, CodeLength)
	for counter := uint32(0); len(out) < CodeLength; counter++ {
		m := hmac.New(sha256.New, key)
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], counter)
		m.Write([]byte("code\x00" + ref.Org + "\x00" + string(ref.Type) + "\x00" + ref.ID + "\x00" + nonce + "\x00"))
		m.Write(c[:])
		for _, b := range m.Sum(nil) {
			// 252 = 7 × 36: bytes from 252 up would favour the first
			// letters of the alphabet, so they are skipped.
			if b >= 252 {
				continue
			}
			out = append(out, CodeAlphabet[int(b)%len(CodeAlphabet)])
			if len(out) == CodeLength {
				break
			}
		}
	}
	return string(out), nil
}

// Hash returns the keyed hash of code under the current key, and that
// key's id. Codes compare case-insensitively, so the hash is of the lower
// case.
func (k *CodeKeys) Hash(ref Ref, code string) (hash, keyID string) {
	return k.hashWith(k.keys[k.current], ref, code), k.current
}

// HashWith is Hash under key id; ok is false when the key is unknown.
func (k *CodeKeys) HashWith(keyID string, ref Ref, code string) (hash string, ok bool) {
	key, ok := k.keys[keyID]
	if !ok {
		return "", false
	}
	return k.hashWith(key, ref, code), true
}

func (k *CodeKeys) hashWith(key []byte, ref Ref, code string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("hash\x00" + ref.Org + "\x00" + string(ref.Type) + "\x00" + ref.ID + "\x00" + strings.ToLower(code)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Matches reports, in constant time, whether guessHash is the hash of the
// stored code.
func Matches(stored *CodeMaterial, guessHash string) bool {
	if stored == nil || stored.Hash == "" {
		return false
	}
	return hmac.Equal([]byte(stored.Hash), []byte(guessHash))
}

// ValidCodeShape reports whether s could be a code: 6 of 0-9 a-z A-Z.
func ValidCodeShape(s string) bool {
	if len(s) != CodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(s[i] >= '0' && s[i] <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}
