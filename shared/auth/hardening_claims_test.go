package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestClaimsAreSplitOnSpacesOnly: a string claim is names separated by
// spaces and nothing else, so a comma or brackets never turn one name into
// another; a JSON array is its elements, each one name.
func TestClaimsAreSplitOnSpacesOnly(t *testing.T) {
	tests := []struct {
		name       string
		org, scope any
		wantOrgs   []string
		notOrgs    []string
		wantScopes []string
		notScopes  []string
	}{
		{name: "comma in the org claim", org: "globex,acme", scope: ScopeAdmin, wantOrgs: []string{"globex,acme"}, notOrgs: []string{"acme", "globex"}},
		{name: "brackets around the org claim", org: "[acme]", scope: ScopeAdmin, notOrgs: []string{"acme"}},
		{name: "API Gateway's rendering of an array", org: "[acme globex]", scope: ScopeAdmin, notOrgs: []string{"acme", "globex"}},
		{name: "comma in the scope claim", org: "acme", scope: "x," + ScopeAdmin, wantOrgs: []string{"acme"}, notScopes: []string{ScopeAdmin}},
		{name: "brackets around the scope claim", org: "acme", scope: "[" + ScopeAdmin + "]", notScopes: []string{ScopeAdmin}},
		{name: "tab is not a separator", org: "acme\tglobex", scope: ScopeAdmin + "\t" + ScopeForceDelete, notOrgs: []string{"acme"}, notScopes: []string{ScopeAdmin, ScopeForceDelete}},
		{name: "spaces separate", org: " globex  acme ", scope: ScopeAdmin + " " + ScopeForceDelete, wantOrgs: []string{"acme", "globex"}, wantScopes: []string{ScopeAdmin, ScopeForceDelete}},
		{name: "JSON arrays are arrays", org: []any{"globex", "acme"}, scope: []any{ScopeAdmin}, wantOrgs: []string{"acme", "globex"}, wantScopes: []string{ScopeAdmin}},
		{name: "an array element is one name", org: []any{"globex,acme", "x y"}, scope: []any{"x," + ScopeAdmin}, notOrgs: []string{"acme", "globex", "x", "y"}, notScopes: []string{ScopeAdmin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FromClaims(map[string]any{"sub": "s", DefaultOrgClaim: tt.org, "scope": tt.scope}, "")
			if err != nil {
				t.Fatalf("FromClaims error = %v", err)
			}
			for _, o := range tt.wantOrgs {
				if !p.HasOrg(o) {
					t.Errorf("orgs %q do not grant %q", p.Orgs, o)
				}
			}
			for _, o := range tt.notOrgs {
				if p.HasOrg(o) {
					t.Errorf("org claim %q grants %q (orgs %q)", tt.org, o, p.Orgs)
				}
			}
			for _, s := range tt.wantScopes {
				if !p.HasScope(s) {
					t.Errorf("scopes %q do not grant %q", p.Scopes, s)
				}
			}
			for _, s := range tt.notScopes {
				if p.HasScope(s) {
					t.Errorf("scope claim %q grants %q (scopes %q)", tt.scope, s, p.Scopes)
				}
			}
		})
	}
}

// TestVerifierRefusesRepeatedMembersAndCrit signs, with the verifier's own
// secret, tokens whose header or claims repeat a member, or whose header
// has crit: each must be refused, with a reason that says why; the same
// token without the repetition is accepted (so the refusal is not about
// anything else).
func TestVerifierRefusesRepeatedMembersAndCrit(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	v := &Verifier{Secret: []byte("hardening-secret-0123456789abcdef"), Issuer: "iss", Audience: "aud", Now: func() time.Time { return now }}
	const times = `"iss":"iss","aud":"aud","iat":1795255200,"nbf":1795255200,"exp":1795258800`
	const okHeader = `{"alg":"HS256","typ":"JWT"}`
	okClaims := `{"sub":"s","org_id":"acme","scope":"identifications/admin",` + times + `}`
	tests := []struct {
		name, header, claims string
		want                 string // "" when accepted
	}{
		{"plain", okHeader, okClaims, ""},
		{"org claim twice, last one acme", okHeader, `{"sub":"s","org_id":"globex","org_id":"acme","scope":"identifications/admin",` + times + `}`, "repeat a member"},
		{"scope twice", okHeader, `{"sub":"s","org_id":"acme","scope":"identifications/admin","scope":"identifications/admin identifications/force-delete",` + times + `}`, "repeat a member"},
		{"repeat spelled with an escape", okHeader, `{"sub":"s","org_id":"globex","org\u005fid":"acme","scope":"identifications/admin",` + times + `}`, "repeat a member"},
		{"sub twice", okHeader, `{"sub":"a","sub":"b","org_id":"acme","scope":"identifications/admin",` + times + `}`, "repeat a member"},
		{"nested object repeats", okHeader, `{"sub":"s","org_id":"acme","scope":"identifications/admin","x":{"k":1,"k":2},` + times + `}`, "repeat a member"},
		{"alg twice in the header", `{"alg":"none","alg":"HS256","typ":"JWT"}`, okClaims, "repeat a member"},
		{"typ twice in the header", `{"alg":"HS256","typ":"JWT","typ":"JWT"}`, okClaims, "repeat a member"},
		{"unknown crit", `{"alg":"HS256","typ":"JWT","crit":["exp2"],"exp2":1}`, okClaims, "crit"},
		{"empty crit", `{"alg":"HS256","typ":"JWT","crit":[]}`, okClaims, "crit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signRaw(t, v.Secret, tt.header, tt.claims)
			p, err := v.Verify(tok)
			if tt.want == "" {
				if err != nil || !p.HasOrg("acme") {
					t.Fatalf("Verify = %+v, %v; want acme", p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = %+v, nil; want a refusal naming %q", p, tt.want)
			}
			if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify error = %v, want ErrUnauthenticated naming %q", err, tt.want)
			}
		})
	}
}

// signRaw signs header and claims as given, byte for byte, with HS256.
func signRaw(t *testing.T, secret []byte, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(signing, secret)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return signing + "." + enc.EncodeToString(sig)
}

// TestFromStringClaimsIsFromClaims: the Lambda authenticator reads API
// Gateway's string claims in place; it must read them as FromClaims does.
func TestFromStringClaimsIsFromClaims(t *testing.T) {
	for _, claims := range []map[string]string{
		{"sub": "s", DefaultOrgClaim: "acme", "scope": "identifications/admin"},
		{"sub": "s", DefaultOrgClaim: "acme globex", "scp": "identifications/actor", "scope": "identifications/admin  x"},
		{"sub": "s", "org": "acme", "scope": "identifications/admin"},
		{DefaultOrgClaim: "", "scope": "identifications/admin"},
		{},
	} {
		for _, orgClaim := range []string{"", "org"} {
			anyClaims := map[string]any{}
			for k, v := range claims {
				anyClaims[k] = v
			}
			want, wantErr := FromClaims(anyClaims, orgClaim)
			got, err := FromStringClaims(claims, orgClaim)
			if fmt.Sprint(got, err) != fmt.Sprint(want, wantErr) {
				t.Errorf("FromStringClaims(%v, %q) = %v, %v; FromClaims: %v, %v", claims, orgClaim, got, err, want, wantErr)
			}
		}
	}
}
