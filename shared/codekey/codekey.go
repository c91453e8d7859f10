// Package codekey loads the keys one-time codes are hashed under: in AWS
// from the Secrets Manager secret the template creates (read once, at cold
// start, by the functions whose routes issue or check codes), locally from
// a file under .local/ created on first use.
//
// The secret is a JSON object: {"id": "<key id>", "key": "<at least 32
// characters>"}, optionally with "previous_id" and "previous_key" during a
// rotation, so that codes issued under the previous key keep working until
// they expire (docs/deployment.md, "Rotating the code key").
package codekey

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/idadmin/api/shared/identification"
)

// secret is the JSON form of the keys.
type secret struct {
	ID          string `json:"id"`
	Key         string `json:"key"`
	PreviousID  string `json:"previous_id,omitempty"`
	PreviousKey string `json:"previous_key,omitempty"`
}

// Parse reads the keys from the secret's JSON text.
func Parse(text []byte) (*identification.CodeKeys, error) {
	var s secret
	if err := json.Unmarshal(text, &s); err != nil {
		return nil, errors.New("code key: the secret is not the JSON object {\"id\", \"key\"}")
	}
	var previous map[string][]byte
	if s.PreviousID != "" || s.PreviousKey != "" {
		previous = map[string][]byte{s.PreviousID: []byte(s.PreviousKey)}
	}
	return identification.NewCodeKeys(s.ID, []byte(s.Key), previous)
}

// FromFile reads the keys from path, creating it with a random key on
// first use (the dev server's .local/code-key).
func FromFile(path string) (*identification.CodeKeys, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, fmt.Errorf("code key: %w", err)
		}
		b, _ = json.Marshal(secret{ID: "local-1", Key: hex.EncodeToString(raw[:])})
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("code key: %w", err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("code key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("code key: %w", err)
	}
	return Parse(b)
}
