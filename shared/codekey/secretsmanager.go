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
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/idadmin/api/shared/identification"
)

// SecretEnv names the environment variable holding the secret's ARN (set
// by the template on the functions that need codes).
const SecretEnv = "CODE_KEY_SECRET_ARN"

// EndpointEnv, when set, is the Secrets Manager endpoint to call instead
// of the region's (a local emulator in tests).
const EndpointEnv = "AWS_ENDPOINT_URL_SECRETS_MANAGER"

// FromSecretsManager reads the keys once from the secret named by
// CODE_KEY_SECRET_ARN, with the function's own credentials and region. A
// function's main passes it to app.Lambda when its route issues or checks
// codes; no other function links it.
//
// It makes the one GetSecretValue call itself, signed with the SDK's own
// SigV4 signer and the function's credentials, rather than through the
// Secrets Manager client, which would add about 260 KB to each of these
// functions for one call at cold start.
func FromSecretsManager(ctx context.Context) (*identification.CodeKeys, error) {
	arn := os.Getenv(SecretEnv)
	if arn == "" {
		return nil, errors.New("code key: " + SecretEnv + " is not set")
	}
	region := os.Getenv("AWS_REGION")
	if region == "" {
		return nil, errors.New("code key: AWS_REGION is not set")
	}
	endpoint := os.Getenv(EndpointEnv)
	if endpoint == "" {
		endpoint = "https://secretsmanager." + region + ".amazonaws.com"
	}
	creds := aws.Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	}
	text, err := getSecretValue(ctx, http.DefaultClient, endpoint, region, creds, arn, time.Now())
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
