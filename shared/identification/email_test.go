package identification

import (
	"net/mail"
	"strings"
	"testing"
)

func TestIsEmail(t *testing.T) {
	good := []string{"example@email.com", "a@b.co", "first.last+tag@sub.example.org", "o'brien@example.ie", "x_y-z@a-b.example", "1@example.com",
		strings.Repeat("a", 64) + "@example.com"}
	bad := []string{"", "plain", "@example.com", "a@", "a@b", "a@.com", "a@com.", "a@-b.com", "a@b-.com", "a..b@example.com", ".a@example.com", "a.@example.com",
		"a b@example.com", `"a b"@example.com`, "a@[127.0.0.1]", "J <j@example.com>", "a@b.123", "a@exa_mple.com", "a@@example.com", "ä@example.com",
		strings.Repeat("a", 65) + "@example.com", "a@" + strings.Repeat("b", 64) + ".com", strings.Repeat("a", 64) + "@" + strings.Repeat("b.", 95) + "com"}
	for _, s := range good {
		if !isEmail(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range bad {
		if isEmail(s) {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzIsEmail holds the hand-written check to net/mail: whatever it
// accepts, net/mail parses as exactly that bare address.
func FuzzIsEmail(f *testing.F) {
	for _, s := range []string{"example@email.com", "a.b+c@d-e.fg", "a@b", `"q"@x.com`, "J <j@example.com>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isEmail(s) {
			return
		}
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Address != s || addr.Name != "" {
			t.Fatalf("isEmail accepts %q but net/mail reads %v, %v", s, addr, err)
		}
	})
}
