package codekey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sigv4"
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
	// Credentials sign the request: the function's own
	// (app.Config.CredentialsFor).
	Credentials aws.CredentialsProvider
	// HTTPClient sends the request; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// FromSecretsManager reads the keys once from the secret sm names, with
// sm's credentials and region. A function's main passes it to
// app.WithCodeKeys when its route issues or checks codes; no other
// function links it.
//
// It makes the one GetSecretValue call itself, through shared/sigv4
// (signed with the SDK's own SigV4 signer and the function's credentials),
// rather than through the Secrets Manager client, which would add about
// 260 KB to each of these functions for one call at cold start.
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
	client := &sigv4.Client{Service: "secretsmanager", Region: sm.Region, Credentials: sm.Credentials, HTTPClient: sm.HTTPClient}
	text, err := getSecretValue(ctx, client, endpoint, sm.SecretARN)
	if err != nil {
		return nil, err
	}
	return Parse(text)
}

// getSecretValue is Secrets Manager's GetSecretValue, a JSON 1.1 call.
func getSecretValue(ctx context.Context, client *sigv4.Client, endpoint, secretID string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out struct {
		SecretString *string `json:"SecretString"`
	}
	if err := client.CallJSON(ctx, endpoint, "secretsmanager.GetSecretValue", map[string]string{"SecretId": secretID}, &out); err != nil {
		// The error names the kind (AccessDeniedException,
		// ResourceNotFoundException), never the secret.
		return nil, fmt.Errorf("code key: read the secret: %w", awserr.Classify("GetSecretValue", err, nil))
	}
	if out.SecretString == nil {
		return nil, errors.New("code key: the secret has no string value")
	}
	return []byte(*out.SecretString), nil
}
