package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// specification writes them: "whsec_" and the base64 of the key's bytes.
const SecretPrefix = "whsec_"

// secretBytes is how many random bytes a new secret holds.
const secretBytes = 32

// NewSecret makes a signing secret: SecretPrefix and the standard base64
// of 32 random bytes.
func NewSecret() (string, error) {
	var raw [secretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(raw[:]), nil
}

// secretKey is the HMAC key of a secret: the bytes its base64 encodes.
func secretKey(secret string) ([]byte, error) {
	text, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhooks: a secret starts with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhooks: a secret is " + SecretPrefix + " and base64")
	}
	return key, nil
}

// Signature is the v1 signature of one delivery attempt under secret:
// "v1," and the base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}".
func Signature(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// SignatureHeader is the webhook-signature header of one attempt: the
// signature under each secret still valid (the current one first, then,
// during a rotation, the previous one), space-separated, so that a
// receiver holding either verifies it.
func SignatureHeader(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Signature(s, id, timestamp, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return "", errors.New("webhooks: no secret to sign with")
	}
	return strings.Join(sigs, " "), nil
}
