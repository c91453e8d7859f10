package codekey

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sigv4"
)

var ref = identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: "0193a000-0000-7000-8000-000000000001"}

func TestParse(t *testing.T) {
	key := strings.Repeat("k", 40)
	k, err := Parse([]byte(`{"id":"k2","key":"` + key + `","previous_id":"k1","previous_key":"` + strings.Repeat("p", 40) + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, id := k.Hash(ref, "abc123"); id != "k2" {
		t.Errorf("current key %q, want k2", id)
	}
	if _, ok := k.HashWith("k1", ref, "abc123"); !ok {
		t.Error("the previous key is not kept")
	}
	for _, bad := range []string{`not json`, `{"id":"k"}`, `{"id":"","key":"` + key + `"}`, `{"id":"k","key":"short"}`,
		`{"id":"k","key":"` + key + `","previous_id":"old","previous_key":"short"}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error shows the key", bad)
		}
	}
}

func TestFromFileCreatesItOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "code-key")
	first, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v, want 0600", err, info.Mode())
	}
	second, err := FromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := first.Hash(ref, "abc123")
	h2, _ := second.Hash(ref, "abc123")
	if h1 != h2 {
		t.Error("the second start hashes differently: the key was not kept")
	}
}

// TestGetSecretValueIsSignedAsDocumented records the request FromSecretsManager
// sends: the JSON action, and a SigV4 signature for secretsmanager in the
// region with the function's credentials.
func TestGetSecretValueIsSignedAsDocumented(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"SecretString":"{\"id\":\"k1\",\"key\":\"0123456789abcdef0123456789abcdef\"}"}`)
	}))
	defer srv.Close()
	client := &sigv4.Client{Service: "secretsmanager", Region: "eu-west-1", HTTPClient: srv.Client(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session"),
		Now:         func() time.Time { return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC) }}
	text, err := getSecretValue(context.Background(), client, srv.URL, "arn:aws:secretsmanager:eu-west-1:123:secret:code")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), `"k1"`) {
		t.Errorf("secret %s", text)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/" || got.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
		got.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("request %s %s %v", got.Method, got.URL.Path, got.Header)
	}
	if string(body) != `{"SecretId":"arn:aws:secretsmanager:eu-west-1:123:secret:code"}` {
		t.Errorf("body %s", body)
	}
	auth := got.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/eu-west-1/secretsmanager/aws4_request") ||
		!strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "x-amz-target") || !strings.Contains(auth, "Signature=") {
		t.Errorf("Authorization %q", auth)
	}
	if got.Header.Get("X-Amz-Security-Token") != "session" || got.Header.Get("X-Amz-Date") != "20261201T100000Z" {
		t.Errorf("session token %q, date %q", got.Header.Get("X-Amz-Security-Token"), got.Header.Get("X-Amz-Date"))
	}
}

// TestFromSecretsManagerOnMoto reads a secret created in moto_server, an
// AWS API emulator, as a function does at cold start; an unknown secret is
// an error naming the kind, never a key.
func TestFromSecretsManagerOnMoto(t *testing.T) {
	endpoint := startMoto(t)
	secret := `{"id":"k7","key":"` + strings.Repeat("m", 48) + `"}`
	arn := createSecret(t, endpoint, "code-key-test", secret)
	sm := SecretsManager{SecretARN: arn, Region: "us-east-1", Endpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	k, err := FromSecretsManager(context.Background(), sm)
	if err != nil {
		t.Fatal(err)
	}
	if _, id := k.Hash(ref, "abc123"); id != "k7" {
		t.Errorf("key id %q, want k7", id)
	}
	sm.SecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
	if _, err := FromSecretsManager(context.Background(), sm); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("a missing secret: %v", err)
	}
}

func createSecret(t *testing.T, endpoint, name, value string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"Name": name, "SecretString": value})
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.CreateSecret")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ARN string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.ARN == "" {
		t.Fatalf("create secret: %d %v %+v", resp.StatusCode, err, out)
	}
	return out.ARN
}

// startMoto starts moto_server on a free loopback port for the test.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		bin = "/root/.pyenv/versions/3.11.7/bin/moto_server"
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("moto_server is not installed: pip install 'moto[server]'")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(endpoint + "/moto-api/"); err == nil {
			resp.Body.Close()
			return endpoint
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("moto_server did not answer within 30 s")
	return ""
}
