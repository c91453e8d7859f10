package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks HS256 bearer tokens the way API Gateway's JWT authorizer
// checks real ones: signature, expiry, not-before, issuer and audience. It
// is for the dev server only; in AWS the authorizer does this.
type Verifier struct {
	Secret   []byte
	Issuer   string
	Audience string
	OrgClaim string
	// Now replaces the wall clock in tests.
	Now func() time.Time
}

// Authenticate reads the request's bearer token and returns its Principal.
// Every failure wraps ErrUnauthenticated with a client-safe reason.
func (v *Verifier) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return Principal{}, fmt.Errorf("%w: missing bearer token", ErrUnauthenticated)
	}
	if len(h) > 1 {
		return Principal{}, fmt.Errorf("%w: more than one Authorization header", ErrUnauthenticated)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(h[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return Principal{}, fmt.Errorf("%w: Authorization must be \"Bearer <token>\"", ErrUnauthenticated)
	}
	return v.Verify(strings.TrimSpace(token))
}

// Verify checks one token.
func (v *Verifier) Verify(token string) (Principal, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(0),
	}
	if v.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.Issuer))
	}
	if v.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.Audience))
	}
	if v.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(v.Now))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, claims, func(*jwt.Token) (any, error) {
		return v.Secret, nil
	})
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthenticated, reason(err))
	}
	return FromClaims(claims, nil, v.OrgClaim)
}

// reason names why a token was refused without echoing the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "invalid token signature or algorithm"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience not accepted"
	}
	return "invalid token"
}

// Mint signs an HS256 token for orgs and scopes valid for ttl; the dev
// server's token tool and the tests use it.
func (v *Verifier) Mint(subject string, orgs, scopes []string, ttl time.Duration) (string, error) {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	orgClaim := v.OrgClaim
	if orgClaim == "" {
		orgClaim = DefaultOrgClaim
	}
	claims := jwt.MapClaims{
		"sub":    subject,
		orgClaim: strings.Join(orgs, " "),
		"scope":  strings.Join(scopes, " "),
		"iat":    now.Unix(),
		"nbf":    now.Unix(),
		"exp":    now.Add(ttl).Unix(),
	}
	if v.Issuer != "" {
		claims["iss"] = v.Issuer
	}
	if v.Audience != "" {
		claims["aud"] = v.Audience
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(v.Secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}
