// Package auth turns verified token claims into a Principal: the
// organisations a caller may act for and the scopes it holds (docs/auth.md).
//
// In AWS the claims come from API Gateway's JWT authorizer, which has
// already verified the token; locally the dev server verifies HS256 tokens
// itself with Verifier and produces the same Principal.
package auth

import (
	"errors"
	"fmt"
	"strings"
)

// Scopes of docs/auth.md.
const (
	ScopeAdmin       = "identifications/admin"
	ScopeForceDelete = "identifications/force-delete"
	ScopeActor       = "identifications/actor"
	ScopeAgent       = "identifications/agent"
	ScopeReview      = "identifications/review"
	ScopeProvider    = "identifications/provider"
	// ScopeSettings configures the organisation (its webhooks): a scope of
	// its own, so that an admin token alone cannot redirect its events.
	ScopeSettings = "identifications/settings"
)

// DefaultOrgClaim is the claim holding the caller's organisation names.
const DefaultOrgClaim = "org_id"

// ErrUnauthenticated is returned when there is no usable credential. Its
// wrapped messages are safe to show to the client.
var ErrUnauthenticated = errors.New("unauthenticated")

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	Orgs    []string
	Scopes  []string
}

// HasOrg reports whether the caller may act for org. Names are compared
// exactly: "acme" does not grant "acme2" or "ACME".
func (p Principal) HasOrg(org string) bool {
	for _, o := range p.Orgs {
		if o == org {
			return true
		}
	}
	return false
}

// HasScope reports whether the caller holds scope.
func (p Principal) HasScope(scope string) bool {
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// FromClaims builds a Principal from claims whose values are either strings
// (as API Gateway passes them) or decoded JSON (as a JWT library does). The
// scopes are the token's own "scope" and "scp" claims, never a list an
// authorizer derived from them (API Gateway's may hold only the scope the
// route matched, not the force-delete scope a forced delete needs).
func FromClaims(claims map[string]any, orgClaim string) (Principal, error) {
	return fromClaims(func(name string) any { return claims[name] }, orgClaim)
}

// FromStringClaims is FromClaims of claims whose values are all strings,
// as API Gateway's JWT authorizer passes them, read in place rather than
// copied into a map[string]any on every request.
func FromStringClaims(claims map[string]string, orgClaim string) (Principal, error) {
	return fromClaims(func(name string) any {
		if v, ok := claims[name]; ok {
			return v
		}
		return nil
	}, orgClaim)
}

// fromClaims is FromClaims of the claims claim(name) returns (nil when absent).
func fromClaims(claim func(name string) any, orgClaim string) (Principal, error) {
	if orgClaim == "" {
		orgClaim = DefaultOrgClaim
	}
	p := Principal{}
	if sub, ok := claim("sub").(string); ok {
		p.Subject = sub
	}
	p.Orgs = words(claim(orgClaim))
	if len(p.Orgs) == 0 {
		return Principal{}, fmt.Errorf("%w: the token has no %s claim", ErrUnauthenticated, orgClaim)
	}
	p.Scopes = append(words(claim("scope")), words(claim("scp"))...)
	return p, nil
}

// words reads a claim holding names separated by spaces (and nothing else:
// "globex,acme" is one name, and so is "[acme]"), or a JSON array of them,
// each element one name.
func words(v any) []string {
	switch x := v.(type) {
	case string:
		var out []string
		for w := range strings.SplitSeq(x, " ") {
			if w != "" {
				out = append(out, w)
			}
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}
