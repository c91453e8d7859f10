package identification_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
)

var codeRef = identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: "0193a000-0000-7000-8000-000000000001"}

func TestCodesAreSixOfTheAlphabet(t *testing.T) {
	k := fixture.CodeKeys()
	seen := map[string]bool{}
	for n := 0; n < 200; n++ {
		code, nonce, err := k.NewCode(codeRef, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != identification.CodeLength || strings.Trim(code, identification.CodeAlphabet) != "" {
			t.Fatalf("code %q is not 6 of 0-9a-z", code)
		}
		again, _ := k.Derive(codeRef, "test-2", nonce)
		if again != code {
			t.Fatalf("the same nonce derived %q, then %q", code, again)
		}
		seen[code] = true
	}
	if len(seen) < 199 {
		t.Errorf("200 codes held only %d distinct ones", len(seen))
	}
}

// TestCodeCharactersAreUniform derives 36,000 characters from fixed nonces
// (so the test is repeatable): each of the 36 characters must come up
// within 8% of 1,000 times. Taking bytes modulo 36 without rejecting the
// top of the range would favour 0-3 by about 14%, which this catches.
func TestCodeCharactersAreUniform(t *testing.T) {
	k := fixture.CodeKeys()
	counts := map[rune]int{}
	for n := 0; n < 6000; n++ {
		code, err := k.Derive(codeRef, "test-2", fmt.Sprintf("nonce-%d", n))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range code {
			counts[c]++
		}
	}
	for _, c := range identification.CodeAlphabet {
		if got := counts[c]; got < 920 || got > 1080 {
			t.Errorf("%q came up %d times in 36000, want 1000 ± 8%%", c, got)
		}
	}
}

func TestCodeHashes(t *testing.T) {
	k := fixture.CodeKeys()
	h, id := k.Hash(codeRef, "k4khb9")
	if id != "test-2" || h == "" || strings.Contains(h, "k4khb9") {
		t.Fatalf("hash %q under %q", h, id)
	}
	if upper, _ := k.Hash(codeRef, "K4KHB9"); upper != h {
		t.Error("codes must compare case-insensitively")
	}
	other := codeRef
	other.Org = "globex"
	if h2, _ := k.Hash(other, "k4khb9"); h2 == h {
		t.Error("the same code of another org's process hashes alike")
	}
	// A code issued under the previous key still checks during a rotation.
	old, ok := k.HashWith("test-1", codeRef, "k4khb9")
	if !ok || old == h || !identification.Matches(&identification.CodeMaterial{Hash: old, KeyID: "test-1"}, old) {
		t.Error("the previous key does not check its codes")
	}
	if _, ok := k.HashWith("gone", codeRef, "k4khb9"); ok {
		t.Error("an unknown key id hashed")
	}
	if _, err := identification.NewCodeKeys("short", []byte("too short"), nil); err == nil {
		t.Error("a key under 32 bytes was accepted")
	}
}

func TestPlanRefusesACallerTheRuleDoesNotName(t *testing.T) {
	for _, c := range []struct {
		action identification.Action
		by     identification.CallerKind
	}{
		{identification.ActionCancel, identification.CallerActor},
		{identification.ActionAttempt, identification.CallerAdmin},
		{identification.ActionCompleteAgent, identification.CallerActor},
		{identification.ActionExpire, identification.CallerAdmin},
	} {
		if _, err := identification.Plan(identification.Command{Action: c.action, By: identification.Caller{Kind: c.by}}); err == nil {
			t.Errorf("%s by %s was planned", c.action, c.by)
		}
	}
	if _, err := identification.Plan(identification.Command{Action: identification.ActionIssueCode, By: identification.Caller{Kind: identification.CallerAdmin}}); err != nil {
		t.Errorf("an admin's resend: %v", err)
	}
}
