package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

// TestDeliveryWalkThroughWorksAsWritten runs the curl walk-through of
// docs/delivery-and-events.md, as written, against the real dev server:
// create, read the code from the outbox, validate, read the events.
func TestDeliveryWalkThroughWorksAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-through needs %s", tool)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "delivery-and-events.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "A walk-through")
	if !ok {
		t.Fatal("docs/delivery-and-events.md has no walk-through")
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	script, _, _ := strings.Cut(block, "```")
	const secret = "walkthrough-secret-0123456789abcdef"
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "SWEEP_INTERVAL=0", "DEV_JWT_SECRET="+secret)
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", p.base)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "TOKEN="+p.exports["TOKEN"], "ACTOR_TOKEN="+p.exports["ACTOR_TOKEN"])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the walk-through failed: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the walk-through did not finish in 60 s\n%s", out.String())
	}
	got := out.String()
	for _, want := range []string{"su clave para identificarse es", "HTTP/1.1 204", "identification.created", "identification.code.sent",
		"identification.in_progress", "identification.completed"} {
		if !strings.Contains(got, want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, got)
		}
	}
	// Another organisation's token is refused the outbox and the events.
	v := &auth.Verifier{Secret: []byte(secret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	other, err := v.Mint("globex-admin", []string{"globex"}, []string{auth.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/orgs/acme/outbox", "/dev/orgs/acme/events"} {
		req, _ := http.NewRequest(http.MethodGet, p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+other)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with another org's token: %d, want 401", path, resp.StatusCode)
		}
	}
}
