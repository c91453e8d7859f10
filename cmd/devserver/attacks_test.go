package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/golang-jwt/jwt/v5"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
)

// attackSecret is the dev server's HS256 secret in these tests.
const attackSecret = "attack-test-secret-0123456789abcdef"

// attackServer is a dev server process under attack.
type attackServer struct {
	base string
}

// startAttackServer builds the dev server and runs it on one of the test
// engines (TEST_DYNAMODB_ENDPOINTS, as `make test` sets it) with a table of
// its own, or on a dynoxide it starts itself when no engine is given. It
// stops the server, and drops the table, when the test ends.
func startAttackServer(t *testing.T) *attackServer {
	t.Helper()
	var suffix [4]byte
	rand.Read(suffix[:])
	table := "attacks_" + hex.EncodeToString(suffix[:])
	endpoint := ""
	if os.Getenv(localengine.EndpointsEnv) != "" {
		endpoint = enginetest.Engines(t)[0].Endpoint
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := localengine.NewClient(endpoint).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
				t.Errorf("drop table %s: %v", table, err)
			}
		})
	}
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+attackSecret,
		"DYNAMODB_ENDPOINT="+endpoint, "TABLE_NAME="+table, "SWEEP_INTERVAL=0")
	t.Cleanup(func() {
		p.stop(20 * time.Second)
		// The server logs every request: none may carry a token.
		if strings.Contains(p.stderr.String(), "eyJ") {
			t.Errorf("the dev server logged a token:\n%s", p.stderr)
		}
	})
	return &attackServer{base: p.base}
}

// attackResult is one exchange with the server.
type attackResult struct {
	status int
	header http.Header
	body   []byte
}

func (s *attackServer) do(t *testing.T, method, path string, header http.Header, body io.Reader, size int64) attackResult {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if size != 0 {
		req.ContentLength = size
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return attackResult{resp.StatusCode, resp.Header, b}
}

// attackErrors decodes the documented ErrorsResponse, failing the test if
// the body is not one.
func attackErrors(t *testing.T, r attackResult) []httpapi.ErrorItem {
	t.Helper()
	var er httpapi.ErrorsResponse
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er); err != nil || len(er.Errors) == 0 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d without an ErrorsResponse (%s): %v: %s", r.status, r.header.Get("Content-Type"), err, r.body)
	}
	return er.Errors
}

// attackClaims are valid claims for orgs and scopes, for the test to spoil.
func attackClaims(orgs, scopes string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": "attacker", "org_id": orgs, "scope": scopes,
		"iss": app.DevIssuer, "aud": app.DevAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

func attackSign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func attackWith(claims jwt.MapClaims, edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{}
	for k, v := range claims {
		c[k] = v
	}
	edit(c)
	return c
}

// TestAttacksOnTheDevServer runs one real dev server process and attacks
// it: with credentials, with unclean paths, then with oversized requests.
func TestAttacksOnTheDevServer(t *testing.T) {
	s := startAttackServer(t)
	t.Run("tokens", func(t *testing.T) { attackTokens(t, s) })
	t.Run("unclean paths", func(t *testing.T) { attackUncleanPaths(t, s) })
	t.Run("abuse", func(t *testing.T) { attackAbuse(t, s) })
}

// attackUncleanPaths sends a DELETE of a live process by paths with "//",
// "/./" and "/../": each is a 404 with the documented MDOC_004 body, never a
// redirect, and a client that follows redirects deletes nothing.
func attackUncleanPaths(t *testing.T, s *attackServer) {
	v := &auth.Verifier{Secret: []byte(attackSecret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	token, err := v.Mint("paths", []string{"acme"}, []string{auth.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	authorized := func() http.Header {
		return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
	}
	created := s.do(t, http.MethodPost, "/v1/orgs/acme/identifications/otp", authorized(),
		strings.NewReader(`{"actor":{"name":"Paths","email":"paths@example.com"},"expires_in":"PT1H","channel":{"type":"EMAIL"}}`), 0)
	var otp struct{ ID string }
	if err := json.Unmarshal(created.body, &otp); created.status != http.StatusCreated || err != nil || otp.ID == "" {
		t.Fatalf("create: got %d %s", created.status, created.body)
	}
	clean := "/v1/orgs/acme/identifications/otp/" + otp.ID
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{
		"/" + clean,
		"/v1/orgs/acme//identifications/otp/" + otp.ID,
		"/v1/orgs/acme/./identifications/otp/" + otp.ID,
		"/v1/orgs/acme/x/../identifications/otp/" + otp.ID,
		"/v1/../v1/orgs/acme/identifications/otp/" + otp.ID,
		"//healthz",
		"/./openapi.yaml",
	} {
		for _, client := range []*http.Client{noRedirects, http.DefaultClient} {
			req, err := http.NewRequest(http.MethodDelete, s.base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = authorized()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("DELETE %s: %v", path, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r := attackResult{resp.StatusCode, resp.Header, b}
			if r.status != http.StatusNotFound || r.header.Get("Location") != "" {
				t.Fatalf("DELETE %s: got %d (Location %q) %s, want 404 and no redirect", path, r.status, r.header.Get("Location"), r.body)
			}
			for _, e := range attackErrors(t, r) {
				if e.Code != "MDOC_004" || e.Title != "RESOURCE_NOT_FOUND" {
					t.Errorf("DELETE %s: error %+v, want MDOC_004 RESOURCE_NOT_FOUND", path, e)
				}
			}
		}
	}
	if r := s.do(t, http.MethodGet, clean, authorized(), nil, 0); r.status != http.StatusOK || !strings.Contains(string(r.body), `"status":"CREATED"`) {
		t.Errorf("GET %s after the unclean DELETEs: got %d %s, want it still CREATED", clean, r.status, r.body)
	}
}

// attackTokens sends forged, stale, misdirected and malformed credentials:
// every one is a 401 with the documented MDOC_003 body, never a 5xx.
func attackTokens(t *testing.T, s *attackServer) {
	key := []byte(attackSecret)
	admin := attackClaims("acme", auth.ScopeAdmin)
	valid := attackSign(t, jwt.SigningMethodHS256, key, admin)
	none := attackSign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, admin)
	parts := strings.Split(valid, ".")
	otherPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"attacker","org_id":"globex","scope":"identifications/admin","iss":"` + app.DevIssuer + `","aud":"` + app.DevAudience + `","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`))
	hs := func(edit func(jwt.MapClaims)) string {
		return attackSign(t, jwt.SigningMethodHS256, key, attackWith(admin, edit))
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	garbage := make([]byte, 7500)
	rand.Read(garbage)

	cases := []struct {
		name   string
		path   string // default: acme's otp with a random id
		header http.Header
	}{
		{"alg none", "", bearer(none)},
		{"alg none, signature kept", "", bearer(strings.TrimSuffix(none, ".") + "." + parts[2])},
		{"wrong key", "", bearer(attackSign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef"), admin))},
		{"HS384 with the right key", "", bearer(attackSign(t, jwt.SigningMethodHS384, key, admin))},
		{"HS512 with the right key", "", bearer(attackSign(t, jwt.SigningMethodHS512, key, admin))},
		{"payload swapped under a valid signature", "/v1/orgs/globex/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", bearer(parts[0] + "." + otherPayload + "." + parts[2])},
		{"signature stripped", "", bearer(parts[0] + "." + parts[1] + ".")},
		{"expired", "", bearer(hs(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))},
		{"no expiry", "", bearer(hs(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"not yet valid", "", bearer(hs(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }))},
		{"issued in the future", "", bearer(hs(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() }))},
		{"wrong issuer", "", bearer(hs(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{"wrong audience", "", bearer(hs(func(c jwt.MapClaims) { c["aud"] = "another-api" }))},
		{"no org claim", "", bearer(hs(func(c jwt.MapClaims) { delete(c, "org_id") }))},
		{"empty org claim", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = " " }))},
		{"org list without the path's org", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = "globex initech" }))},
		{"org acme on acme2's path", "/v1/orgs/acme2/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", bearer(valid)},
		{"org acme2 on acme's path", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = "acme2" }))},
		{"org acm on acme's path", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = "acm" }))},
		{"org ACME on acme's path", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = "ACME" }))},
		{"org acme* on acme's path", "", bearer(hs(func(c jwt.MapClaims) { c["org_id"] = "acme*" }))},
		{"no scope", "", bearer(hs(func(c jwt.MapClaims) { delete(c, "scope") }))},
		{"another scope", "", bearer(hs(func(c jwt.MapClaims) { c["scope"] = "identifications/read" }))},
		{"scope prefix", "", bearer(hs(func(c jwt.MapClaims) { c["scope"] = "identifications/admin2" }))},
		{"no Authorization", "", http.Header{}},
		{"no scheme", "", http.Header{"Authorization": {valid}}},
		{"Basic", "", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+attackSecret))}}},
		{"empty bearer", "", http.Header{"Authorization": {"Bearer"}}},
		{"bearer and spaces", "", http.Header{"Authorization": {"Bearer    "}}},
		{"two tokens", "", http.Header{"Authorization": {"Bearer " + valid + " " + valid}}},
		{"two Authorization headers", "", http.Header{"Authorization": {"Bearer " + valid, "Bearer " + valid}}},
		{"token in a comma list", "", http.Header{"Authorization": {"Bearer " + valid + ", Bearer " + valid}}},
		{"garbage", "", http.Header{"Authorization": {"Bearer !!!not-a-token!!!"}}},
		{"three dots", "", http.Header{"Authorization": {"Bearer ..."}}},
		{"a 10 KB token", "", http.Header{"Authorization": {"Bearer " + base64.RawURLEncoding.EncodeToString(garbage)}}},
		{"a 10 KB token with dots", "", http.Header{"Authorization": {"Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(garbage) + "." + parts[2]}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
			}
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				r := s.do(t, method, path+"?force=true", tc.header.Clone(), nil, 0)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("%s: got %d %s, want 401", method, r.status, r.body)
				}
				for _, e := range attackErrors(t, r) {
					if e.Code != "MDOC_003" || e.Title != "UNAUTHORIZED" || strings.Contains(e.Details, "eyJ") {
						t.Errorf("%s: error %+v, want MDOC_003 not echoing the token", method, e)
					}
				}
			}
		})
	}
	// The controls: the same requests with a good token get past auth.
	for _, h := range []http.Header{bearer(valid), {"Authorization": {"bearer " + valid}}} {
		if r := s.do(t, http.MethodGet, "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", h, nil, 0); r.status != http.StatusNotFound {
			t.Errorf("control %q: got %d %s, want 404", h.Get("Authorization")[:7], r.status, r.body)
		}
	}
}

// attackRepeat yields n bytes of b without holding them.
type attackRepeat struct {
	n int64
	b byte
}

func (r *attackRepeat) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// attackAbuse sends what the server itself must refuse, before the handler
// tree: thousands of headers (MaxHeaderBytes, 64 KiB); and a 10 MB body,
// refused from its Content-Length without being read.
func attackAbuse(t *testing.T, s *attackServer) {
	v := &auth.Verifier{Secret: []byte(attackSecret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	token, err := v.Mint("abuse", []string{"acme"}, []string{auth.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	authorized := func() http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

	t.Run("5,000 headers", func(t *testing.T) {
		h := authorized()
		for i := 0; i < 5_000; i++ {
			h.Set("X-Abuse-"+strconv.Itoa(i), "value")
		}
		start := time.Now()
		r := s.do(t, http.MethodGet, "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", h, nil, 0)
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("got %d, want 431", r.status)
		}
		t.Logf("431 in %s", time.Since(start))
	})
	t.Run("a 60 KiB header", func(t *testing.T) {
		h := authorized()
		h.Set("X-Abuse", strings.Repeat("v", 60<<10))
		r := s.do(t, http.MethodGet, "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", h, nil, 0)
		if r.status >= 500 || r.status < 400 && r.status != http.StatusOK {
			t.Errorf("got %d", r.status)
		}
	})
	t.Run("10 MB body", func(t *testing.T) {
		start := time.Now()
		r := s.do(t, http.MethodPost, "/v1/orgs/acme/identifications/otp", authorized(), &attackRepeat{n: 10 << 20, b: 'a'}, 10<<20)
		took := time.Since(start)
		if r.status != http.StatusBadRequest {
			t.Fatalf("got %d %s, want 400", r.status, r.body)
		}
		if errs := attackErrors(t, r); !strings.HasPrefix(errs[0].Details, "body:") {
			t.Errorf("got %s, want an error naming body", r.body)
		}
		t.Logf("400 in %s", took)
	})
	// The server still serves.
	if r := s.do(t, http.MethodGet, "/healthz", http.Header{}, nil, 0); r.status != http.StatusOK {
		t.Errorf("healthz after the abuse: %d", r.status)
	}
}
