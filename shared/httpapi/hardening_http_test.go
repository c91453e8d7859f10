package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/idadmin/api/internal/fixture"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// hardTree is a handler tree on the in-memory store (no engine needed)
// whose JSON logs are kept, as the dev server and the functions log.
type hardTree struct {
	handler http.Handler
	logs    *apitest.SyncBuffer
	v       *auth.Verifier
}

// newHardTree builds a hardTree on store (a fresh in-memory one when nil);
// configure, when set, changes the Config first.
func newHardTree(t *testing.T, store identification.Store, configure func(*httpapi.Config)) *hardTree {
	t.Helper()
	if store == nil {
		store = &memStore{}
	}
	tree := &hardTree{
		logs: &apitest.SyncBuffer{},
		v:    &auth.Verifier{Secret: []byte("hardening-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience},
	}
	cfg := httpapi.Config{
		Routes:       httpapi.Routes(),
		Webhooks:     memWebhooks(func() time.Time { return fuzzNow }),
		Settings:     memSettings(func() time.Time { return fuzzNow }),
		Service:      identification.NewService(store, identification.WithClock(func() time.Time { return fuzzNow }), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Authenticate: tree.v.Authenticate,
		Logger:       app.NewLogger(tree.logs, slog.LevelInfo),
	}
	if configure != nil {
		configure(&cfg)
	}
	h, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tree.handler = h
	return tree
}

func (tree *hardTree) token(t *testing.T, sub string, scopes ...string) string {
	t.Helper()
	now := time.Now()
	tree.v.Now = func() time.Time { return now }
	tok, err := tree.v.Mint(sub, []string{fuzzOrg}, scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tree.v.Now = nil
	return tok
}

// do serves one request; token "" sends none.
func (tree *hardTree) do(t *testing.T, method, target, body, token string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, vs := range header {
		r.Header[k] = vs
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", "hardening/1.0")
	}
	rec := httptest.NewRecorder()
	tree.handler.ServeHTTP(rec, r)
	return rec
}

// requestLines returns the request lines logged so far, decoded.
func (tree *hardTree) requestLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(tree.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		if rec["msg"] == "request" {
			out = append(out, rec)
		}
	}
	return out
}

// lastRequestLine is the request line of the last request served.
func (tree *hardTree) lastRequestLine(t *testing.T) map[string]any {
	t.Helper()
	lines := tree.requestLines(t)
	if len(lines) == 0 {
		t.Fatalf("no request line in %q", tree.logs.String())
	}
	return lines[len(lines)-1]
}

func createdID(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var m struct{ ID string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &m) != nil || m.ID == "" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	return m.ID
}

const (
	hardOTP   = "/v1/orgs/" + fuzzOrg + "/identifications/otp"
	hardChain = "/v1/orgs/" + fuzzOrg + "/identifications/chain"
)

// panicStore panics on every read, for a 500 that comes from a recovered
// panic.
type panicStore struct{ identification.Store }

func (panicStore) Get(context.Context, identification.Ref) (*identification.Identification, error) {
	panic("hardening: get")
}

// TestEveryResponseIsNoStoreAndNosniff: responses carry personal data, so
// every one of them, successes and errors alike (the 404 and 405 of
// unmatched routes and a recovered panic's 500 too), says
// Cache-Control: no-store and X-Content-Type-Options: nosniff.
func TestEveryResponseIsNoStoreAndNosniff(t *testing.T) {
	tree := newHardTree(t, nil, nil)
	admin := tree.token(t, "operator-1", auth.ScopeAdmin)
	otpID := createdID(t, tree.do(t, "POST", hardOTP, otpExample, admin, nil))
	chainID := createdID(t, tree.do(t, "POST", hardChain, chainExample, admin, nil))
	panicking := newHardTree(t, panicStore{&memStore{}}, nil)

	cases := []struct {
		name               string
		tree               *hardTree
		method, path, body string
		token              string
		want               int
	}{
		{"201 create", tree, "POST", hardOTP, otpExample, admin, 201},
		{"200 read", tree, "GET", hardOTP + "/" + otpID, "", admin, 200},
		{"204 close", tree, "POST", hardChain + "/" + chainID + "/close", "", admin, 204},
		{"409 conflict", tree, "POST", hardChain + "/" + chainID + "/close", "", admin, 409},
		{"400 body", tree, "POST", hardOTP, `{"actor":1}`, admin, 400},
		{"400 org", tree, "GET", "/v1/orgs/-x/identifications/otp/" + otpID, "", admin, 400},
		{"401 no token", tree, "GET", hardOTP + "/" + otpID, "", "", 401},
		{"403 force without the scope", tree, "DELETE", hardOTP + "/" + otpID + "?force=true", "", admin, 403},
		{"404 unknown id", tree, "GET", hardOTP + "/" + fuzzOTPID, "", admin, 404},
		{"404 unmatched route", tree, "GET", "/nothing/here", "", "", 404},
		{"404 unclean path", tree, "GET", "/v1/orgs/acme/../x", "", "", 404},
		{"405 unmatched method", tree, "PUT", hardOTP, "", "", 405},
		{"500 recovered panic", panicking, "GET", hardOTP + "/" + otpID, "", panicking.token(t, "operator-1", auth.ScopeAdmin), 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := tc.tree.do(t, tc.method, tc.path, tc.body, tc.token, nil)
			if rec.Code != tc.want {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.want)
			}
			for name, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
				if got := rec.Header().Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want exactly %q", name, got, want)
				}
			}
		})
	}
}

// TestClientRequestIDIsNeverUsed: a client's X-Request-Id is neither
// echoed nor logged as the request id; the server makes its own (or takes
// Config.RequestID's, in Lambda API Gateway's).
func TestClientRequestIDIsNeverUsed(t *testing.T) {
	const forged = "forged-request-id-7f3a"
	tree := newHardTree(t, nil, nil)
	admin := tree.token(t, "operator-1", auth.ScopeAdmin)
	seen := map[string]bool{}
	for i := 0; i < 2; i++ {
		rec := tree.do(t, "POST", hardOTP, otpExample, admin, http.Header{"X-Request-Id": {forged}})
		id := rec.Header().Get("X-Request-Id")
		if id == "" || id == forged || seen[id] {
			t.Errorf("X-Request-Id = %q after a request with %q (seen %v), want a fresh server-made id", id, forged, seen)
		}
		seen[id] = true
		if got := tree.lastRequestLine(t)["request_id"]; got != id {
			t.Errorf("logged request_id %v, want the answered %q", got, id)
		}
	}
	if strings.Contains(tree.logs.String(), forged) {
		t.Errorf("the client's X-Request-Id is in the logs:\n%s", tree.logs)
	}

	gateway := newHardTree(t, nil, func(c *httpapi.Config) {
		c.RequestID = func(*http.Request) string { return "Qx1cFgYuoAMEVbw=" }
	})
	rec := gateway.do(t, "GET", "/nothing", "", "", http.Header{"X-Request-Id": {forged}})
	if id := rec.Header().Get("X-Request-Id"); id != "Qx1cFgYuoAMEVbw=" {
		t.Errorf("X-Request-Id = %q, want Config.RequestID's", id)
	}
}

// TestUnvalidatedPathValuesAreNotLogged: an org that is not a valid name
// (60,000 characters, unauthenticated; or a forged log line) is logged as
// "invalid" with its length, never as sent; an id that is not a UUID is
// not logged at all. A valid org is logged as it is.
func TestUnvalidatedPathValuesAreNotLogged(t *testing.T) {
	tree := newHardTree(t, nil, nil)
	admin := tree.token(t, "operator-1", auth.ScopeAdmin)
	huge := strings.Repeat("Zq", 30_000)
	cases := []struct {
		name, path, token string
		wantOrg           any
		wantLen           any
		secret            string
	}{
		{"60,000-character org", "/v1/orgs/" + huge + "/identifications/otp/" + fuzzOTPID, "", "invalid", float64(60_000), huge[:40]},
		{"60,000-character org on a create", "/v1/orgs/" + huge + "/identifications/otp", "", "invalid", float64(60_000), huge[:40]},
		{"forged log line in the org", "/v1/orgs/x%0A%7B%22msg%22:%22forged%22%7D/identifications/otp", "", "invalid", float64(len("x\n{\"msg\":\"forged\"}")), "forged"},
		{"id that is not a UUID", "/v1/orgs/acme/identifications/otp/not-a-uuid-but-secretish", admin, "acme", nil, "secretish"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tree.logs.String())
			method := "GET"
			if strings.HasSuffix(tc.path, "/otp") {
				method = "POST"
			}
			rec := tree.do(t, method, tc.path, "", tc.token, nil)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%d %.200s, want 400", rec.Code, rec.Body)
			}
			logged := tree.logs.String()[before:]
			if strings.Contains(logged, tc.secret) {
				t.Errorf("the path value is logged as sent: %.300s", logged)
			}
			line := tree.lastRequestLine(t)
			if line["org"] != tc.wantOrg || line["org_length"] != tc.wantLen {
				t.Errorf("request line org %.100v, org_length %v; want %v, %v", line["org"], line["org_length"], tc.wantOrg, tc.wantLen)
			}
			if _, ok := line["identification_id"]; ok {
				t.Errorf("an unvalidated id is logged: %.300v", line)
			}
		})
	}
}

// TestAdminActionsLogWhoDidWhat: every action's request line names the
// (validated, lower-cased) identification id and the caller's sub, and no
// actor data; the sub only once authenticated, and bounded in length.
func TestAdminActionsLogWhoDidWhat(t *testing.T) {
	tree := newHardTree(t, nil, nil)
	const sub = "5f0c3a8e-operator-7"
	tok := tree.token(t, sub, auth.ScopeAdmin, auth.ScopeForceDelete)
	otpID := createdID(t, tree.do(t, "POST", hardOTP, otpExample, tok, nil))
	checkLine := func(what, wantID, wantSub string) {
		t.Helper()
		line := tree.lastRequestLine(t)
		if wantID == "" {
			if _, ok := line["identification_id"]; ok {
				t.Errorf("%s: identification_id logged: %v", what, line)
			}
		} else if line["identification_id"] != wantID {
			t.Errorf("%s: identification_id = %v, want %q: %v", what, line["identification_id"], wantID, line)
		}
		if wantSub == "" {
			if _, ok := line["sub"]; ok {
				t.Errorf("%s: sub logged for an unauthenticated request: %v", what, line)
			}
		} else if line["sub"] != wantSub {
			t.Errorf("%s: sub = %v, want %q: %v", what, line["sub"], wantSub, line)
		}
	}
	checkLine("create otp", otpID, sub)

	chainID := createdID(t, tree.do(t, "POST", hardChain, chainExample, tok, nil))
	checkLine("create chain", chainID, sub)
	steps := []struct {
		what, method, path, body string
		want                     int
		id                       string
	}{
		{"read otp", "GET", hardOTP + "/" + strings.ToUpper(otpID), "", 200, otpID},
		{"read chain", "GET", hardChain + "/" + chainID, "", 200, chainID},
		{"cancel otp", "POST", hardOTP + "/" + otpID + "/cancel", `{"reason":"duplicate"}`, 204, otpID},
		{"close chain", "POST", hardChain + "/" + chainID + "/close", "", 204, chainID},
		{"cancel closed chain", "POST", hardChain + "/" + chainID + "/cancel", "", 409, chainID},
		{"delete otp", "DELETE", hardOTP + "/" + otpID + "?force=true", "", 204, otpID},
		{"delete it again", "DELETE", hardOTP + "/" + otpID, "", 404, otpID},
	}
	for _, s := range steps {
		if rec := tree.do(t, s.method, s.path, s.body, tok, nil); rec.Code != s.want {
			t.Fatalf("%s: %d %s, want %d", s.what, rec.Code, rec.Body, s.want)
		}
		checkLine(s.what, s.id, sub)
	}

	// The id is checked after the caller, so a 401 names neither.
	tree.do(t, "GET", hardOTP+"/"+otpID, "", "", nil)
	checkLine("unauthenticated read", "", "")
	tree.do(t, "GET", hardOTP+"/"+otpID, "", "not-a-token", nil)
	checkLine("bad token", "", "")

	long := strings.Repeat("s", 5_000)
	tree.do(t, "GET", hardOTP+"/"+otpID, "", tree.token(t, long, auth.ScopeAdmin), nil)
	line := tree.lastRequestLine(t)
	if got, _ := line["sub"].(string); got == "" || len(got) > httpapi.MaxLoggedSubject || !strings.HasPrefix(long, got) || line["sub_length"] != float64(len(long)) {
		t.Errorf("a %d-byte sub is logged as %d bytes, sub_length %v; want at most %d and the length", len(long), len(got), line["sub_length"], httpapi.MaxLoggedSubject)
	}

	for _, v := range []string{"James", "Smith", "12345678A", "example@email.com", "6123456789", "duplicate"} {
		if strings.Contains(tree.logs.String(), v) {
			t.Errorf("the logs hold %q", v)
		}
	}
}

// TestLocationCarriesTheBasePath: a create answered behind a base path (a
// named stage) names the new identification under that base path, and
// following the Location without it, as the tree routes it, reads it back;
// a base path that is not a plain path is ignored rather than sent.
func TestLocationCarriesTheBasePath(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"/dev", "/dev"},
		{"/api/v2", "/api/v2"},
		{"", ""},
		{"dev", ""},
		{"//evil.example", ""},
		{"/dev/", ""},
		{"/dev/../x", ""},
		{"/dev\r\nSet-Cookie: x=1", ""},
	} {
		t.Run(tc.base, func(t *testing.T) {
			tree := newHardTree(t, nil, func(c *httpapi.Config) {
				c.BasePath = func(*http.Request) string { return tc.base }
			})
			tok := tree.token(t, "operator-1", auth.ScopeAdmin)
			rec := tree.do(t, "POST", hardChain, chainExample, tok, nil)
			id := createdID(t, rec)
			if got, want := rec.Header().Get("Location"), tc.want+hardChain+"/"+id; got != want {
				t.Fatalf("Location = %q, want %q", got, want)
			}
			if got := tree.do(t, "GET", strings.TrimPrefix(rec.Header().Get("Location"), tc.want), "", tok, nil); got.Code != http.StatusOK {
				t.Errorf("following Location: %d %s", got.Code, got.Body)
			}
		})
	}
}
