package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

// TestTokenIsAcceptedByTheDevServer runs the tool as `make token` does and
// verifies its last line with the dev server's verifier.
func TestTokenIsAcceptedByTheDevServer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "token")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data := t.TempDir()
	cases := []struct {
		args   []string
		orgs   []string
		scopes []string
	}{
		{nil, []string{"acme"}, []string{auth.ScopeAdmin}},
		{[]string{"-org", "globex initech", "-scopes", auth.ScopeAdmin + " " + auth.ScopeForceDelete}, []string{"globex", "initech"}, []string{auth.ScopeAdmin, auth.ScopeForceDelete}},
	}
	for _, tc := range cases {
		cmd := exec.Command(bin, append([]string{"-data", data}, tc.args...)...)
		cmd.Env = append(os.Environ(), "DEV_JWT_SECRET=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		token := lines[len(lines)-1]
		v, err := app.DevVerifier(data, "")
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(token)
		if err != nil {
			t.Fatalf("%v: the dev server refuses the token: %v", tc.args, err)
		}
		if strings.Join(p.Orgs, " ") != strings.Join(tc.orgs, " ") || strings.Join(p.Scopes, " ") != strings.Join(tc.scopes, " ") {
			t.Errorf("%v: got orgs %v scopes %v, want %v %v", tc.args, p.Orgs, p.Scopes, tc.orgs, tc.scopes)
		}
	}
	// The secret was created once and kept private.
	info, err := os.Stat(filepath.Join(data, "dev-jwt-secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("dev secret: %v %v, want a 0600 file", info, err)
	}
}
