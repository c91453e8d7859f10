package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/idadmin/api/shared/auth"
)

// Dev-server token settings: the issuer and audience the dev server's
// verifier demands, like API Gateway's authorizer would.
const (
	DevIssuer   = "idadmin-dev"
	DevAudience = "idadmin-api"
)

// EngineEndpointFile, in the data directory, holds the endpoint of the
// engine a running dev server started, so `make sweep` can reach it.
const EngineEndpointFile = "engine-endpoint"

// DevVerifier returns the dev server's HS256 verifier. The secret comes
// from DEV_JWT_SECRET or, when unset, from dataDir/dev-jwt-secret, created
// with 32 random bytes on first use so every checkout has its own.
func DevVerifier(dataDir, orgClaim string) (*auth.Verifier, error) {
	secret := os.Getenv("DEV_JWT_SECRET")
	if secret == "" {
		s, err := loadOrCreateSecret(filepath.Join(dataDir, "dev-jwt-secret"))
		if err != nil {
			return nil, err
		}
		secret = s
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("dev secret: must be at least 16 characters")
	}
	return &auth.Verifier{Secret: []byte(secret), Issuer: DevIssuer, Audience: DevAudience, OrgClaim: orgClaim}, nil
}

func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read dev secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create dev secret dir: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	secret := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateSecret(path)
	}
	if err != nil {
		return "", fmt.Errorf("create dev secret: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return "", fmt.Errorf("write dev secret: %w", err)
	}
	return secret, nil
}
