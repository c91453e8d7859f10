package identification_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/identification"
)

func mustKeys(t *testing.T, current string, keys map[string]string) *identification.CodeKeys {
	t.Helper()
	prev := map[string][]byte{}
	for id, k := range keys {
		if id != current {
			prev[id] = []byte(k)
		}
	}
	k, err := identification.NewCodeKeys(current, []byte(keys[current]), prev)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSealedValuesOpenOnlyWhereTheyBelong: a sealed value holds nothing of
// the plain text, opens with its purpose and owner, after the code key
// rotates (the old key kept), and nowhere else: another purpose, another
// owner, an altered value, or without its key.
func TestSealedValuesOpenOnlyWhereTheyBelong(t *testing.T) {
	const k1, k2 = "first-code-key-of-at-least-32-bytes!", "second-code-key-of-at-least-32-bytes"
	old := mustKeys(t, "k1", map[string]string{"k1": k1})
	plain := []byte("whsec_the-secret-bytes")
	sealed, err := old.Seal("webhook-secret", "acme/wh_1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "k1:") || strings.Contains(sealed, "secret") {
		t.Errorf("sealed %q: want the key id and nothing of the plain text", sealed)
	}
	again, _ := old.Seal("webhook-secret", "acme/wh_1", plain)
	if again == sealed {
		t.Error("two seals of one value are equal: the nonce is not random")
	}
	rotated := mustKeys(t, "k2", map[string]string{"k1": k1, "k2": k2})
	if got, err := rotated.Open("webhook-secret", "acme/wh_1", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("open after rotation = %q, %v; want the plain text", got, err)
	}
	if s2, _ := rotated.Seal("webhook-secret", "acme/wh_1", plain); !strings.HasPrefix(s2, "k2:") {
		t.Errorf("a seal after rotation is under %q, want k2", s2)
	}
	altered := []byte(sealed)
	altered[len(altered)-2] ^= 1
	for _, c := range []struct {
		name             string
		keys             *identification.CodeKeys
		purpose, aad, in string
	}{
		{"another purpose", old, "other", "acme/wh_1", sealed},
		{"another owner", old, "webhook-secret", "globex/wh_1", sealed},
		{"altered", old, "webhook-secret", "acme/wh_1", string(altered)},
		{"its key gone", mustKeys(t, "k2", map[string]string{"k2": k2}), "webhook-secret", "acme/wh_1", sealed},
		{"not sealed", old, "webhook-secret", "acme/wh_1", "whsec_abc"},
		{"truncated", old, "webhook-secret", "acme/wh_1", "k1:AAAA"},
	} {
		if got, err := c.keys.Open(c.purpose, c.aad, c.in); err == nil {
			t.Errorf("%s: opened %q", c.name, got)
		} else if strings.Contains(err.Error(), string(plain)) {
			t.Errorf("%s: the error shows the plain text", c.name)
		}
	}
}
