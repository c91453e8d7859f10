package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Verifier checks HS256 bearer tokens the way API Gateway's JWT authorizer
// checks real ones: signature, expiry, not-before, issuer and audience. It
// also refuses a header or claims object that repeats a member (a JSON
// decoder keeps one of them silently, so two readers of one token could
// disagree on its claims) and a crit header (no extension is understood
// here, so none may be required; RFC 7515, section 4.1.11). It is for the
// dev server only; in AWS the authorizer does this.
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
	if err := checkSegments(token); err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthenticated, err)
	}
	return FromClaims(claims, v.OrgClaim)
}

// Refusals of checkSegments; their messages are safe to show.
var (
	errRepeatedMember = errors.New("token header or claims repeat a member")
	errCrit           = errors.New("token header has crit, which is not supported")
)

// checkSegments refuses, in a token the parser accepted, a header or
// claims object (at any depth) that repeats a member, and a header with a
// crit member.
func checkSegments(token string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("malformed token")
	}
	for i, seg := range parts[:2] {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			return errors.New("malformed token")
		}
		top, err := uniqueMembers(raw)
		if err != nil {
			return err
		}
		if i == 0 && top["crit"] {
			return errCrit
		}
	}
	return nil
}

// uniqueMembers reports errRepeatedMember if any object of the JSON
// document data repeats a member name (compared after unescaping, exactly
// as a decoder into a map compares them); otherwise it returns the member
// names of the top-level object.
func uniqueMembers(data []byte) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	top, err := walkValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("malformed token")
	}
	return top, nil
}

// walkValue reads one JSON value from dec, checking every object in it;
// for an object it returns its member names.
func walkValue(dec *json.Decoder) (map[string]bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New("malformed token")
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, errors.New("malformed token")
			}
			name, _ := k.(string)
			if seen[name] {
				return nil, errRepeatedMember
			}
			seen[name] = true
			if _, err := walkValue(dec); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, errors.New("malformed token")
		}
		return seen, nil
	case json.Delim('['):
		for dec.More() {
			if _, err := walkValue(dec); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, errors.New("malformed token")
		}
	}
	return nil, nil
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
