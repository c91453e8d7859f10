package identification

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CodeLength and CodeAlphabet shape a one-time code: 6 of 0-9a-z, unless
// the organisation chose another length, from MinCodeLength to
// MaxCodeLength (its settings).
const (
	CodeLength    = 6
	MinCodeLength = 6
	MaxCodeLength = 10
	CodeAlphabet  = "0123456789abcdefghijklmnopqrstuvwxyz"
)

// CodeKeys hash codes under a deployment secret (HMAC-SHA256), so that the
// store holds nothing a code can be read back from. The current key hashes
// new codes; a previous key, during a rotation, still checks codes issued
// before it. The same keys sign what the service hands out and takes back:
// evidence object keys, the actor keys a listing finds a process by, and
// listing cursors. Every method of CodeKeys is in this file.
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

// NewCode returns a new code for ref of length characters (CodeLength
// when 0): its nonce, and the code derived from it. The code is drawn
// uniformly from CodeAlphabet: the nonce comes from crypto/rand and the
// derivation rejects bytes that would bias it. A length other than
// CodeLength is written into the nonce ("<length>." before the random
// part), so that every path that derives the code again from the stored
// nonce (a delivery, an Idempotency-Key's replay) derives it at the
// length it was issued with, whatever the organisation's settings say by
// then.
func (k *CodeKeys) NewCode(ref Ref, length int) (code, nonce string, err error) {
	if length == 0 {
		length = CodeLength
	}
	if length < MinCodeLength || length > MaxCodeLength {
		return "", "", fmt.Errorf("new code: length %d is not from %d to %d", length, MinCodeLength, MaxCodeLength)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", fmt.Errorf("new code: %w", err)
	}
	nonce = base64.RawURLEncoding.EncodeToString(raw[:])
	if length != CodeLength {
		nonce = strconv.Itoa(length) + "." + nonce
	}
	code, err = k.Derive(ref, k.current, nonce)
	return code, nonce, err
}

// nonceLength is the code length a nonce was issued for: CodeLength for a
// nonce without a length, or with one out of bounds.
func nonceLength(nonce string) int {
	l, _, ok := strings.Cut(nonce, ".")
	if !ok {
		return CodeLength
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < MinCodeLength || n > MaxCodeLength {
		return CodeLength
	}
	return n
}

// Derive is the code of nonce for ref under key id, of the length the
// nonce was issued for: the same nonce always gives the same code, so that
// delivering a code again (a replayed stream record) can never send a
// second, different one.
func (k *CodeKeys) Derive(ref Ref, keyID, nonce string) (string, error) {
	key, ok := k.keys[keyID]
	if !ok {
		return "", fmt.Errorf("derive code: unknown key %q", keyID)
	}
	length := nonceLength(nonce)
	out := make([]byte, 0, length)
	for counter := uint32(0); len(out) < length; counter++ {
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
			if len(out) == length {
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

// evidenceKey is a new object key for an image of kind of ref, issued at
// now: orgs/<org>/<otp|chain>/<id>/<KIND>/<unix time>.<nonce>-<mac>.<jpg|png>,
// the MAC over everything but itself under the current code key.
func (k *CodeKeys) evidenceKey(ref Ref, kind EvidenceKind, contentType string, now time.Time) (string, error) {
	var nonce [12]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("evidence key: %w", err)
	}
	prefix := evidencePrefix(ref, kind)
	body := strconv.FormatInt(now.Unix(), 10) + "_" + hex.EncodeToString(nonce[:])
	ext := evidenceTypes[contentType]
	return prefix + body + "-" + k.evidenceMAC(k.keys[k.current], prefix+body+"."+ext) + "." + ext, nil
}

func (k *CodeKeys) evidenceMAC(key []byte, name string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("evidence\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// checkEvidenceKey reports the content type of key and when its form was
// issued, when it is a key the service handed out for ref and kind (under
// any of its keys).
func (k *CodeKeys) checkEvidenceKey(ref Ref, kind EvidenceKind, key string) (string, time.Time, bool) {
	prefix := evidencePrefix(ref, kind)
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", time.Time{}, false
	}
	name, ext, ok := strings.Cut(rest, ".")
	body, mac, ok2 := strings.Cut(name, "-")
	stamp, nonce, ok3 := strings.Cut(body, "_")
	issued, err := strconv.ParseInt(stamp, 10, 64)
	if !ok || !ok2 || !ok3 || err != nil || len(nonce) != 24 {
		return "", time.Time{}, false
	}
	var ct string
	for t, e := range evidenceTypes {
		if e == ext {
			ct = t
		}
	}
	if ct == "" {
		return "", time.Time{}, false
	}
	for _, id := range k.keyIDs() {
		if hmac.Equal([]byte(k.evidenceMAC(k.keys[id], prefix+body+"."+ext)), []byte(mac)) {
			return ct, time.Unix(issued, 0).UTC(), true
		}
	}
	return "", time.Time{}, false
}

// ActorKey is the keyed hash of one actor value of org under key id (""
// for the current key; ok is false for an unknown one). It is bound to the
// organisation, so the same person in two organisations hashes apart.
func (k *CodeKeys) ActorKey(keyID, org, kind, value string) (string, bool) {
	if keyID == "" {
		keyID = k.current
	}
	key, ok := k.keys[keyID]
	if !ok {
		return "", false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("actor\x00" + org + "\x00" + kind + "\x00" + actorValue(kind, value)))
	sum := m.Sum(nil)
	return keyID + ":" + base64.RawURLEncoding.EncodeToString(sum[:18]), true
}

// keyIDs lists the keys: the current first, then the previous ones by id.
func (k *CodeKeys) keyIDs() []string {
	ids := []string{k.current}
	var prev []string
	for id := range k.keys {
		if id != k.current {
			prev = append(prev, id)
		}
	}
	slices.Sort(prev)
	return append(ids, prev...)
}

// actorKeysOf are i's actor keys under the current key.
func (k *CodeKeys) actorKeysOf(i *Identification) ActorKeys {
	var out ActorKeys
	a := i.Actor
	if a.Email != "" {
		out.Email, _ = k.ActorKey("", i.OrgID, ActorEmail, a.Email)
	}
	if a.MSISDN != nil {
		out.Phone, _ = k.ActorKey("", i.OrgID, ActorPhone, E164(a.MSISDN))
	}
	if d := a.IdentityDocument; d != nil && d.DocumentNumber != "" {
		out.Document, _ = k.ActorKey("", i.OrgID, ActorDocument, d.DocumentNumber)
	}
	return out
}

// A cursor is the position the next page starts below and a MAC binding it
// to the query: <position> NUL <key id> NUL <mac>, base64url as a whole. A changed
// byte, another query's or another organisation's cursor fails the MAC.
func (k *CodeKeys) sealCursor(pos, digest string) string {
	raw := pos + "\x00" + k.current + "\x00" + k.cursorMAC(k.keys[k.current], pos, digest)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func (k *CodeKeys) openCursor(c, digest string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return "", false
	}
	key, ok := k.keys[parts[1]]
	if !ok {
		return "", false
	}
	if !hmac.Equal([]byte(k.cursorMAC(key, parts[0], digest)), []byte(parts[2])) {
		return "", false
	}
	return parts[0], true
}

func (k *CodeKeys) cursorMAC(key []byte, pos, digest string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("cursor\x00" + digest + "\x00" + pos))
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

// ValidCodeShape reports whether s could be a code: MinCodeLength to
// MaxCodeLength of 0-9 a-z A-Z (an organisation chooses its codes' length;
// a guess of another length than the code's is a wrong guess, counted).
func ValidCodeShape(s string) bool {
	if len(s) < MinCodeLength || len(s) > MaxCodeLength {
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
