package codekey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/idadmin/api/shared/identification"
)

// SecretsManager says where the code keys' secret is and how to read it.
// The composition root (shared/app) fills it from the function's
// configuration; this package reads no environment.
type SecretsManager struct {
	// SecretARN is the secret holding the keys (JSON {"id","key"}).
	SecretARN string
	// Region is the secret's region, which the request is signed for.
	Region string
	// Endpoint replaces https://secretsmanager.<Region>.amazonaws.com (a
	// local emulator in tests).
	Endpoint string
	// Credentials sign the request: the function's own.
	Credentials aws.Credentials
	// HTTPClient sends the request; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// FromSecretsManager reads the keys once from the secret sm names, with
// sm's credentials and region. A function's main passes it to
// app.WithCodeKeys when its route issues or checks codes; no other
// function links it.
//
// It makes the one GetSecretValue call itself, signed with the SDK's own
// SigV4 signer and the function's credentials, rather than through the
// Secrets Manager client, which would add about 260 KB to each of these
// functions for one call at cold start.
func FromSecretsManager(ctx context.Context, sm SecretsManager) (*identification.CodeKeys, error) {
	if sm.SecretARN == "" {
		return nil, errors.New("code key: the secret's ARN is not set")
	}
	if sm.Region == "" {
		return nil, errors.New("code key: the region is not set")
	}
	endpoint := sm.Endpoint
	if endpoint == "" {
		endpoint = "https://secretsmanager." + sm.Region + ".amazonaws.com"
	}
	client := sm.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	text, err := getSecretValue(ctx, client, endpoint, sm.Region, sm.Credentials, sm.SecretARN, time.Now())
	if err != nil {
		return nil, err
	}
	return Parse(text)
}

// getSecretValue is Secrets Manager's GetSecretValue: a JSON POST with the
// action in X-Amz-Target, signed for service "secretsmanager".
func getSecretValue(ctx context.Context, client *http.Client, endpoint, region string, creds aws.Credentials, secretID string, now time.Time) ([]byte, error) {
	body, _ := json.Marshal(map[string]string{"SecretId": secretID})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("code key: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "secretsmanager", region, now); err != nil {
		return nil, fmt.Errorf("code key: sign the request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("code key: read the secret: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("code key: read the secret: %w", err)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
		Type         string  `json:"__type"`
		Message      string  `json:"message"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("code key: read the secret: status %d, not JSON", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		// The error names the kind (AccessDeniedException,
		// ResourceNotFoundException), never the secret.
		return nil, fmt.Errorf("code key: read the secret: status %d %s", resp.StatusCode, out.Type)
	}
	if out.SecretString == nil {
		return nil, errors.New("code key: the secret has no string value")
	}
	return []byte(*out.SecretString), nil
}
