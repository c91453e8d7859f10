package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// benchSecretARN is the code key secret the started functions read.
const benchSecretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-code-key"

// benchSecret is the secret's text: the keys of internal/fixture's
// CodeKeys (TestBenchSecretIsTheFixture holds the two together), so that
// the codes the run seeds are the codes the functions check.
const benchSecret = `{"id":"test-2","key":"test-key-2-test-key-2-test-key-2-test","previous_id":"test-1","previous_key":"test-key-1-test-key-1-test-key-1-test"}`

// secretsStub is the Secrets Manager the started functions call at start
// (AWS_ENDPOINT_URL_SECRETS_MANAGER): GetSecretValue of benchSecretARN,
// on loopback.
type secretsStub struct {
	endpoint string
	srv      *http.Server
}

func startSecretsStub() (*secretsStub, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("secrets stub: %w", err)
	}
	s := &secretsStub{endpoint: "http://" + ln.Addr().String()}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId string }
		json.NewDecoder(r.Body).Decode(&in)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != benchSecretARN ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(map[string]any{"ARN": benchSecretARN, "Name": "bench-code-key", "SecretString": benchSecret,
			"VersionId": "00000000-0000-0000-0000-000000000001", "VersionStages": []string{"AWSCURRENT"}})
	})}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *secretsStub) Close() { s.srv.Close() }
