// Package auth turns verified token claims into a Principal: the
// organisations a caller may act for and the scopes it holds (SPEC §7).
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

// Scopes of SPEC §7.
const (
	ScopeAdmin       = "identifications/admin"
	ScopeForceDelete = "identifications/force-delete"
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
// (as API Gateway passes them) or decoded JSON (as a JWT library does).
// scopes, when non-empty, are the authorizer's own list; otherwise the
// "scope" (space-separated) or "scp" claims are read.
func FromClaims(claims map[string]any, scopes []string, orgClaim string) (Principal, error) {
	if orgClaim == "" {
		orgClaim = DefaultOrgClaim
	}
	p := Principal{}
	if sub, ok := claims["sub"].(string); ok {
		p.Subject = sub
	}
	p.Orgs = words(claims[orgClaim])
	if len(p.Orgs) == 0 {
		return Principal{}, fmt.Errorf("%w: the token has no %s claim", ErrUnauthenticated, orgClaim)
	}
	if len(scopes) > 0 {
		p.Scopes = scopes
	} else {
		p.Scopes = append(words(claims["scope"]), words(claims["scp"])...)
	}
	return p, nil
}

// words reads a claim holding space-separated names, a JSON array of them,
// or API Gateway's rendering of an array ("[a b]").
func words(v any) []string {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		if strings.HasPrefix(x, "[") && strings.HasSuffix(x, "]") {
			x = x[1 : len(x)-1]
		}
		return strings.FieldsFunc(x, func(r rune) bool { return r == ' ' || r == ',' })
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
