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

	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

// TestDeliveryWalkThroughWorksAsWritten runs the curl walk-through of
// docs/delivery-and-events.md, as written, against the real dev server:
// create, read the code from the outbox, validate, read the events.
func TestDeliveryWalkThroughWorksAsWritten(t *testing.T) {
	const secret = "walkthrough-secret-0123456789abcdef"
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "SWEEP_INTERVAL=0", "DEV_JWT_SECRET="+secret)
	got := runWalkThrough(t, p, "delivery-and-events.md", "")
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

// TestEvidenceWalkThroughWorksAsWritten runs the curl walk-through of
// docs/evidence.md, as written, against the real dev server and its S3
// engine: forms, real PNG and JPEG uploads, confirms, the code, the links.
func TestEvidenceWalkThroughWorksAsWritten(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "front.png"), s3local.PNG(t), 0o600)
	os.WriteFile(filepath.Join(dir, "back.jpg"), s3local.JPEG(t), 0o600)
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "SWEEP_INTERVAL=0", "DEV_JWT_SECRET=walkthrough-secret-0123456789abcdef")
	got := runWalkThrough(t, p, "evidence.md", dir)
	for _, want := range []string{"upload 204\nupload 204\nconfirm 204\nconfirm 204\nIN_PROGRESS [\"DOCUMENT_FRONT\",\"DOCUMENT_BACK\"]\nvalidate 204\nCOMPLETED\n",
		"DOCUMENT_FRONT image/png", "DOCUMENT_BACK image/jpeg", "download 200"} {
		if !strings.Contains(got, want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, got)
		}
	}
}

// runWalkThrough runs the first sh block after "A walk-through" in the
// document doc against the dev server p, in dir ("" for anywhere), with
// its TOKEN and ACTOR_TOKEN, and returns what it printed.
func runWalkThrough(t *testing.T, p *devProcess, doc, dir string) string {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-through needs %s", tool)
		}
	}
	text, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(text), "A walk-through")
	if !ok {
		t.Fatalf("docs/%s has no walk-through", doc)
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	script, _, _ := strings.Cut(block, "```")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", p.base)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOKEN="+p.exports["TOKEN"], "ACTOR_TOKEN="+p.exports["ACTOR_TOKEN"])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the walk-through of docs/%s failed: %v\n%s", doc, err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the walk-through of docs/%s did not finish in 60 s\n%s", doc, out.String())
	}
	return out.String()
}
