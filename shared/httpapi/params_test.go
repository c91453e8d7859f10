package httpapi

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written checks must agree with the patterns of docs/api.md (also
// the OpenAPI document's), written here as regular expressions.
var (
	orgSpec  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	uuidSpec = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

func TestParameterChecksMatchTheSpec(t *testing.T) {
	inputs := []string{"", "a", "acme", "Acme-2.prod_eu", "-acme", "_a", ".a", "a b", "a/b", "ac\u00e9", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", "0193A5D2-7C1E-7B3A-9F00-2B6F1C9D4E5A", "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5", "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5g",
		"0193a5d27c1e-7b3a-9f00-2b6f1c9d4e5a-", "{0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a}", "0193a5d2_7c1e_7b3a_9f00_2b6f1c9d4e5a"}
	for _, s := range inputs {
		if got, want := ValidOrg(s), orgSpec.MatchString(s); got != want {
			t.Errorf("ValidOrg(%q) = %v, want %v", s, got, want)
		}
		if got, want := validUUID(s), uuidSpec.MatchString(s); got != want {
			t.Errorf("validUUID(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzParameterChecks(f *testing.F) {
	f.Add("acme")
	f.Add("0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidOrg(s), orgSpec.MatchString(s); got != want {
			t.Fatalf("ValidOrg(%q) = %v, want %v", s, got, want)
		}
		if got, want := validUUID(s), uuidSpec.MatchString(s); got != want {
			t.Fatalf("validUUID(%q) = %v, want %v", s, got, want)
		}
	})
}
