package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// TestSmoke runs the dev server as `make run` does (starting its own
// dynoxide with data in a fresh directory), drives create, get and cancel
// over real HTTP, and stops it with SIGTERM: it must exit cleanly and take
// its engine with it.
func TestSmoke(t *testing.T) {
	data := t.TempDir()
	const secret = "smoke-test-secret-0123456789"
	p := startDevServer(t, "ADDR=127.0.0.1:0", "SWEEP_INTERVAL=100ms", "DATA_DIR="+data, "DEV_JWT_SECRET="+secret, "DYNAMODB_ENDPOINT=", "TABLE_NAME=smoke")
	url := p.base

	v := &auth.Verifier{Secret: []byte(secret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	token, err := v.Mint("smoke", []string{"acme"}, []string{auth.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		if len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
			}
		}
		return resp.StatusCode, m
	}
	status, created := call("POST", "/v1/orgs/acme/identifications/otp",
		// The organisation delivers this code: no delivery by the stream
		// processor changes the version between the calls below.
		`{"actor":{"name":"Smoke","email":"smoke@example.com"},"expires_in":"PT1H","channel":{"type":"EMAIL","external":true}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: got %d %v", status, created)
	}
	path := "/v1/orgs/acme/identifications/otp/" + created["id"].(string)
	if status, got := call("GET", path, ""); status != http.StatusOK || got["status"] != "CREATED" {
		t.Fatalf("get: got %d %v", status, got)
	}
	if status, body := call("POST", path+"/cancel", `{"reason":"smoke test"}`); status != http.StatusNoContent {
		t.Fatalf("cancel: got %d %v", status, body)
	}
	if status, got := call("GET", path, ""); status != http.StatusOK || got["status"] != "CANCELLED" || got["version"] != float64(2) {
		t.Fatalf("get after cancel: got %d %v", status, got)
	}

	// The dev server sweeps like expire-sweep does in AWS: a process seeded
	// past its expiry on the server's own engine is written EXPIRED.
	endpoint, err := os.ReadFile(filepath.Join(data, app.EngineEndpointFile))
	if err != nil {
		t.Fatalf("engine endpoint not recorded: %v", err)
	}
	store := dynamostore.New(localengine.NewClient(strings.TrimSpace(string(endpoint))), dynamostore.Options{Table: "smoke"})
	now := time.Now().UTC().Truncate(time.Second)
	due := &identification.Identification{
		ID: "01a20000-0000-7000-8000-000000000001", OrgID: "acme", Type: identification.TypeOTP, Status: identification.StatusCreated,
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute),
		Actor: identification.Actor{Name: "Due"}, Channel: &identification.Channel{Type: "SMS", External: true}, Version: 1,
	}
	if err := store.Create(t.Context(), due, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := store.Get(t.Context(), due.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == identification.StatusExpired && got.Version == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev server's sweep did not expire a due process within 20s: %s v%d", got.Status, got.Version)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if !p.stop(20 * time.Second) {
		t.Fatalf("dev server did not stop within 20s of SIGTERM")
	}
	if p.waitErr != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", p.waitErr, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), `"engine stopped"`) {
		t.Errorf("the dev server did not report stopping its engine:\n%s", p.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "dynoxide.sqlite")); err != nil {
		t.Errorf("no engine data under DATA_DIR: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, app.EngineEndpointFile)); err == nil {
		t.Errorf("%s left behind after shutdown", app.EngineEndpointFile)
	}
}
