package webhooks_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/webhooks"
)

// verifierHarness runs the documented Verify on each case it reads from
// its standard input, one JSON object a line, and prints "ok" or the
// error's text for each, a line each.
const verifierHarness = `package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var c struct {
			Secret  string
			Headers map[string]string
			Body    string
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			fmt.Println("bad case:", err)
			continue
		}
		h := http.Header{}
		for k, v := range c.Headers {
			h.Set(k, v)
		}
		if err := Verify(c.Secret, h, []byte(c.Body)); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("ok")
		}
	}
}
`

// documentedVerifier is the Go of docs/webhooks.md's "Verify a signature",
// as a receiver would paste it.
func documentedVerifier(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Verify a signature")
	if !ok {
		t.Fatal(`docs/webhooks.md has no "## Verify a signature" section`)
	}
	_, code, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal(`docs/webhooks.md's "Verify a signature" has no Go block`)
	}
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatal(`docs/webhooks.md's Go block is not closed`)
	}
	return code
}

// TestTheDocumentedVerifier compiles the receiver's Verify exactly as
// docs/webhooks.md prints it and runs it on deliveries the product signs:
// it must accept a delivery signed with the endpoint's secret, and with
// either secret during a rotation, and refuse a changed body, another
// endpoint's secret, a changed webhook-id and a timestamp more than five
// minutes away. A change to the signer, or to the docs, that breaks a
// receiver who followed them fails here.
func TestTheDocumentedVerifier(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the documented verifier: %v", err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":    "module receiver\n\ngo 1.21\n",
		"verify.go": "package main\n\n" + documentedVerifier(t),
		"main.go":   verifierHarness,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	secret, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	other, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	body := `{"type":"identification.completed","timestamp":"2026-12-06T10:00:00Z","data":{"id":"0193a5f2-6c1e-7c3a-9f00-000000000001","version":3}}`
	const id = "msg_2fTq6bJ3v1xWc9Hk4nR8sLpZ"
	signed := func(secrets []string, id string, at time.Time, body string) map[string]string {
		sig, err := webhooks.SignatureHeader(secrets, id, at.Unix(), []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(at.Unix(), 10), "webhook-signature": sig}
	}
	now := time.Now()
	type verifyCase struct {
		name    string
		Secret  string
		Headers map[string]string
		Body    string
		ok      bool
	}
	changedID := signed([]string{secret}, id, now, body)
	changedID["webhook-id"] = id + "x"
	cases := []verifyCase{
		{name: "signed with the secret", Secret: secret, Headers: signed([]string{secret}, id, now, body), Body: body, ok: true},
		{name: "rotation: verified with the new secret", Secret: secret, Headers: signed([]string{secret, other}, id, now, body), Body: body, ok: true},
		{name: "rotation: verified with the old secret", Secret: other, Headers: signed([]string{secret, other}, id, now, body), Body: body, ok: true},
		{name: "four minutes old", Secret: secret, Headers: signed([]string{secret}, id, now.Add(-4*time.Minute), body), Body: body, ok: true},
		{name: "a changed body", Secret: secret, Headers: signed([]string{secret}, id, now, body), Body: strings.Replace(body, `"version":3`, `"version":4`, 1)},
		{name: "another endpoint's secret", Secret: other, Headers: signed([]string{secret}, id, now, body), Body: body},
		{name: "a changed webhook-id", Secret: secret, Headers: changedID, Body: body},
		{name: "six minutes old", Secret: secret, Headers: signed([]string{secret}, id, now.Add(-6*time.Minute), body), Body: body},
		{name: "six minutes ahead", Secret: secret, Headers: signed([]string{secret}, id, now.Add(6*time.Minute), body), Body: body},
		{name: "no signature", Secret: secret, Headers: map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(now.Unix(), 10)}, Body: body},
	}
	var in strings.Builder
	for _, c := range cases {
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(line)
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(t.Context(), goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("the documented verifier does not build or run: %v\n%s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(got) != len(cases) {
		t.Fatalf("the verifier answered %d cases of %d:\n%s", len(got), len(cases), out)
	}
	for n, c := range cases {
		if accepted := got[n] == "ok"; accepted != c.ok {
			t.Errorf("%s: the documented verifier answered %q; want accepted=%v", c.name, got[n], c.ok)
		}
	}
}
