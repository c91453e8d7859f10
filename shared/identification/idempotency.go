package identification

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// IdempotencyWindow is how long a key's first answer is replayed.
const IdempotencyWindow = 24 * time.Hour

// Idempotency is the record of an Idempotency-Key: which request it was
// first used with and the answer it got, kept IdempotencyWindow. It is
// written in the same transaction as the request's action, so a key is
// recorded if and only if the action happened.
type Idempotency struct {
	// Key is a hash of the organisation's key; Request one of the request
	// (method, path, body).
	Key, Request string
	Status       int
	Body         []byte
	// CodeKey and CodeNonce derive the code the answer carries, which the
	// record does not keep in clear (Body holds CodePlaceholder instead),
	// for the process ProcessID.
	CodeKey, CodeNonce string
	ProcessID          string
	// CodeExpiresAt is a resend's code's own expiry (its answer is built
	// again from it and the process).
	CodeExpiresAt time.Time
	At            time.Time
	// Deleted: the process the key created has been deleted since; the
	// record keeps nothing of its answer, and a replay says so.
	Deleted bool
}

// CodePlaceholder stands for the code in a recorded answer.
const CodePlaceholder = "@otp_code@"

// IdempotencyKeyHash is the record's key for org's key.
func IdempotencyKeyHash(org, key string) string {
	h := sha256.Sum256([]byte(org + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// RequestHash identifies a request: who makes it (the kind of caller and
// its subject: a key replays only to the caller that first used it, so an
// actor cannot replay an organisation's resend and read its code), its
// method, path and body.
func RequestHash(by Caller, method, path string, body []byte) string {
	h := sha256.New()
	for _, part := range []string{string(by.Kind), by.Sub, method, path} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
