package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// TestTokenRefusesWhatItShouldNotMint runs the tool with each flag a token
// should not be minted with: it must exit 2 naming the flag, and print no
// token; and -sub (SUB) sets the token's subject.
func TestTokenRefusesWhatItShouldNotMint(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-ttl", "0s"}, "-ttl (TTL) must be more than 0"},
		{[]string{"-ttl", "-5m"}, "-ttl (TTL) must be more than 0"},
		{[]string{"-org", ""}, "-org (ORG) is empty"},
		{[]string{"-org", "  "}, "-org (ORG) is empty"},
		{[]string{"-org", "acme -bad"}, `"-bad" is not an organisation name`},
		{[]string{"-scopes", "identifications/admin identifications/superuser"}, `unknown scope "identifications/superuser"`},
		{[]string{"-scopes", "admin"}, `unknown scope "admin"`},
		{[]string{"-scopes", ""}, "-scopes (SCOPES) is empty"},
		{[]string{"-sub", " "}, "-sub (SUB) is empty"},
		{[]string{"acme"}, "unexpected arguments"},
	} {
		var stdout, stderr strings.Builder
		code := run(append([]string{"-data", data}, tc.args...), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, no token, and %q", tc.args, code, stdout.String(), stderr.String(), tc.want)
		}
	}

	t.Setenv("DEV_JWT_SECRET", "")
	var stdout, stderr strings.Builder
	if code := run([]string{"-data", data, "-sub", "alice", "-ttl", "5m"}, &stdout, &stderr); code != 0 {
		t.Fatalf("-sub alice -ttl 5m: exit %d: %s", code, stderr.String())
	}
	v, err := app.DevVerifier(data, "")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(strings.TrimSpace(stdout.String())); err != nil || p.Subject != "alice" {
		t.Errorf("-sub alice: %+v %v, want subject alice", p, err)
	}
}

// TestMakeTokenTakesSubAndTTL runs `make -s token` with SUB and TTL, as the
// docs do, and checks the token it prints last.
func TestMakeTokenTakesSubAndTTL(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is not on PATH")
	}
	data := t.TempDir()
	cmd := exec.Command(makeCmd, "-s", "--no-print-directory", "token", "ORG=acme globex", "SCOPES=identifications/agent", "SUB=agent-7", "TTL=10m")
	cmd.Dir = filepath.Join("..", "..")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains([]string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS"}, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "DATA_DIR="+data, "DEV_JWT_SECRET=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make token: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	v, err := app.DevVerifier(data, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(lines[len(lines)-1])
	if err != nil || p.Subject != "agent-7" || strings.Join(p.Orgs, " ") != "acme globex" || strings.Join(p.Scopes, " ") != auth.ScopeAgent {
		t.Errorf("make token SUB=agent-7: %+v %v", p, err)
	}
	cmd = exec.Command(makeCmd, "-s", "--no-print-directory", "token", "TTL=0s")
	cmd.Dir, cmd.Env = filepath.Join("..", ".."), append(cmd.Env[:0:0], cmd.Env...)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "must be more than 0") {
		t.Errorf("make token TTL=0s: %v\n%s", err, out)
	}
}
