package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/idadmin/api/internal/fixture"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// The fuzz targets here drive the whole handler tree in process, on an
// in-memory store, so they need no engine: FuzzBodies the four bodies
// (both creates, both cancels), FuzzPathAndQuery the path and query
// parameters of every route. Invariants: never a 5xx; every error is the
// documented ErrorsResponse whose code matches its status; every 400 for a
// body is exactly what the domain's parser reports, each entry's details
// starting with a field path; nothing succeeds for an org other than the
// token's, and no delete is forced unless the query says force=true.

// fuzzOrg is the only organisation the fuzz token is valid for.
const fuzzOrg = "acme"

// Ids of the records every iteration starts with.
const (
	fuzzOTPID   = "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
	fuzzChainID = "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5b"
)

// fuzzTree is a handler tree on a memStore, with a token for fuzzOrg
// holding both scopes.
type fuzzTree struct {
	handler http.Handler
	store   *memStore
	token   string
}

func newFuzzTree(tb testing.TB) *fuzzTree {
	tb.Helper()
	store := &memStore{}
	v := &auth.Verifier{Secret: []byte("fuzz-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	h, err := httpapi.New(httpapi.Config{
		Routes:       httpapi.Routes(),
		Webhooks:     memWebhooks(func() time.Time { return fuzzNow }),
		Settings:     memSettings(func() time.Time { return fuzzNow }),
		Service:      identification.NewService(store, identification.WithClock(func() time.Time { return fuzzNow }), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Authenticate: v.Authenticate,
	})
	if err != nil {
		tb.Fatal(err)
	}
	token, err := v.Mint("fuzz", []string{fuzzOrg}, []string{auth.ScopeAdmin, auth.ScopeForceDelete}, 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzTree{handler: h, store: store, token: token}
}

var fuzzNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// reset empties the store and seeds one open OTP and one open chain.
func (f *fuzzTree) reset() {
	f.store.reset()
	for _, s := range []struct {
		id  string
		typ identification.Type
	}{{fuzzOTPID, identification.TypeOTP}, {fuzzChainID, identification.TypeChain}} {
		i := &identification.Identification{
			ID: s.id, OrgID: fuzzOrg, Type: s.typ, Status: identification.StatusCreated,
			CreatedAt: fuzzNow, UpdatedAt: fuzzNow, ExpiresAt: fuzzNow.Add(time.Hour),
			Actor: identification.Actor{Name: "Fuzz"}, Version: 1,
		}
		if s.typ == identification.TypeOTP {
			i.Channel = &identification.Channel{Type: "SMS", External: true}
		} else {
			i.Sequence = []identification.Step{{IdentificationType: "AGENT", Status: identification.StepPending}}
		}
		f.store.Create(context.Background(), i, nil)
	}
}

func (f *fuzzTree) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// Where each body goes.
var fuzzBodyTargets = []struct {
	path  string
	parse func([]byte) error
}{
	{"/v1/orgs/acme/identifications/otp", func(b []byte) error { _, err := httpapi.ParseCreateOTP(b); return err }},
	{"/v1/orgs/acme/identifications/chain", func(b []byte) error { _, err := httpapi.ParseCreateChain(b); return err }},
	{"/v1/orgs/acme/identifications/otp/" + fuzzOTPID + "/cancel", func(b []byte) error { _, err := httpapi.ParseCancel(b, true); return err }},
	{"/v1/orgs/acme/identifications/chain/" + fuzzChainID + "/cancel", func(b []byte) error { _, err := httpapi.ParseCancel(b, false); return err }},
}

func FuzzBodies(f *testing.F) {
	for _, s := range []string{otpExample, `{"actor":{"name":"A","email":"a@example.com"},"channel":{"type":"EMAIL"}}`, `{"":1}`, `{"actor":{"a.b":1}}`, `[`, ``,
		`{"actor":{"name":"\u200b","email":"a@example.com"},"channel":{"type":"EMAIL"}}`,
		`{"actor":{"name":"A","name":"B","email":"a@example.com"},"channel":{"type":"EMAIL"}}`,
		`{"actor":{"name":"A\ud800","email":"a@example.com"},"channel":{"type":"EMAIL"}}`,
		"{\"actor\":{\"name\":\"A\xff\",\"email\":\"a@example.com\"},\"channel\":{\"type\":\"EMAIL\"}}",
		`{"actor":{"name":"A","email":"a@example.com"},"channel":{"type":"EMAIL"},"expires_in":"PT59.9999999999999999S"}`} {
		f.Add(uint8(0), []byte(s))
	}
	for _, s := range []string{chainExample, chainWith(`[{"identification_type":"AGENT"},{"identification_type":"AGENT"}]`), chainWith(`[1,2,3,4,5]`), `{"sequence":[{"identification_type":"OTP","otp_step":{}}]}`} {
		f.Add(uint8(1), []byte(s))
	}
	for _, s := range []string{`{"reason":"customer asked"}`, ``, `{}`, `{"reason":"` + strings.Repeat("é", 501) + `"}`, `{"reason":5}`, `null`,
		`{"reason":"\u200b"}`, `{"reason":"two\nlines"}`, `{"reason":"a","reason":"b"}`} {
		f.Add(uint8(2), []byte(s))
		f.Add(uint8(3), []byte(s))
	}
	tree := newFuzzTree(f)
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		tgt := fuzzBodyTargets[int(target)%len(fuzzBodyTargets)]
		tree.reset()
		r := httptest.NewRequest(http.MethodPost, tgt.path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tree.token)
		r.Header.Set("User-Agent", "fuzz/1.0")
		rec := tree.serve(r)
		items := checkExchange(t, rec)
		parseErr := tgt.parse(body)
		if len(body) > httpapi.MaxBodyBytes {
			parseErr = identification.Invalid([]identification.FieldError{{Path: "body", Message: "is too large"}})
		}
		if parseErr == nil {
			if rec.Code != http.StatusCreated && rec.Code != http.StatusNoContent {
				t.Fatalf("the parser accepts the body, the API answers %d: %s", rec.Code, rec.Body)
			}
			if rec.Code == http.StatusCreated {
				checkCreatedResponse(t, tree, rec)
			}
			return
		}
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("the parser refuses the body (%v), the API answers %d", parseErr, rec.Code)
		}
		var de *identification.Error
		if !errors.As(parseErr, &de) {
			t.Fatalf("parser error %v is not a domain error", parseErr)
		}
		if len(body) <= httpapi.MaxBodyBytes && len(items) != len(de.Fields) {
			t.Fatalf("%d errors in the response, %d from the parser", len(items), len(de.Fields))
		}
		for n, it := range items {
			if it.Code != "MDOC_002" || it.Title != "INVALID_INPUT" {
				t.Fatalf("a refused body answered %s %s", it.Code, it.Title)
			}
			if len(body) <= httpapi.MaxBodyBytes && it.Details != de.Fields[n].String() {
				t.Fatalf("details %q, the parser says %q", it.Details, de.Fields[n].String())
			}
			if p, _, ok := strings.Cut(it.Details, ": "); !ok || p == "" {
				t.Fatalf("details %q do not start with a field path", it.Details)
			}
		}
	})
}

// checkCreatedResponse checks a 201: an identification whose Location
// reads back the same.
func checkCreatedResponse(t *testing.T, tree *fuzzTree, rec *httptest.ResponseRecorder) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("201 body is not JSON: %v", err)
	}
	loc := rec.Header().Get("Location")
	if id, _ := m["id"].(string); id == "" || !strings.HasSuffix(loc, "/"+id) || m["status"] != "CREATED" || m["org_id"] != fuzzOrg {
		t.Fatalf("201 with Location %q and body %s", loc, rec.Body)
	}
	r := httptest.NewRequest(http.MethodGet, loc, nil)
	r.Header.Set("Authorization", "Bearer "+tree.token)
	r.Header.Set("User-Agent", "fuzz/1.0")
	got := tree.serve(r)
	// The create alone carries the code the organisation delivers itself.
	delete(m, "otp_code")
	delete(m, "code_expires_at")
	var read map[string]any
	if got.Code != http.StatusOK || json.Unmarshal(got.Body.Bytes(), &read) != nil || !reflect.DeepEqual(read, m) {
		t.Fatalf("read back: %d %s, want 200 %s", got.Code, got.Body, rec.Body)
	}
}

// The nine routes, with a body that passes so that only the parameters
// decide.
var fuzzRoutes = []struct {
	method, pattern, body string
}{
	{http.MethodPost, "/v1/orgs/{org}/identifications/otp", otpExample},
	{http.MethodPost, "/v1/orgs/{org}/identifications/otp/{id}/cancel", `{"reason":"fuzz"}`},
	{http.MethodPost, "/v1/orgs/{org}/identifications/otp/{id}/close", ""},
	{http.MethodDelete, "/v1/orgs/{org}/identifications/otp/{id}", ""},
	{http.MethodPost, "/v1/orgs/{org}/identifications/chain", chainExample},
	{http.MethodPost, "/v1/orgs/{org}/identifications/chain/{id}/cancel", ""},
	{http.MethodPost, "/v1/orgs/{org}/identifications/chain/{id}/close", ""},
	{http.MethodGet, "/v1/orgs/{org}/identifications/otp/{id}", ""},
	{http.MethodGet, "/v1/orgs/{org}/identifications/chain/{id}", ""},
}

func FuzzPathAndQuery(f *testing.F) {
	seeds := []struct {
		route             uint8
		org, id, query, u string
	}{
		{3, "acme", fuzzOTPID, "force=true", "fuzz/1.0"},
		{3, "acme", fuzzOTPID, "force=false", ""},
		{3, "acme", fuzzOTPID, "force=yes", ""},
		{3, "acme", fuzzOTPID, "force=", ""},
		{3, "acme", fuzzOTPID, "force=true&force=true", ""},
		{3, "acme", fuzzOTPID, "force=%74rue", ""},
		{3, "acme", fuzzOTPID, "force=tr%ue", ""},
		{3, "acme", fuzzOTPID, "force=true;x=1", ""},
		{3, "acme", fuzzOTPID, "Force=true", ""},
		{3, "acme", strings.ToUpper(fuzzOTPID), "", ""},
		{7, "acme2", fuzzOTPID, "", ""},
		{7, "acm", fuzzOTPID, "", ""},
		{7, "ACME", fuzzOTPID, "", ""},
		{7, "acme%00", fuzzOTPID, "", ""},
		{7, "ac%2Fme", fuzzOTPID, "", ""},
		{7, "acme/identifications/otp/" + fuzzOTPID + "/x", fuzzOTPID, "", ""},
		{7, "..", fuzzOTPID, "", ""},
		{7, "%2e%2e", fuzzOTPID, "", ""},
		{7, "acme", "../" + fuzzOTPID, "", ""},
		{7, "acme", "{" + fuzzOTPID + "}", "", ""},
		{7, strings.Repeat("a", 65), fuzzOTPID, "", ""},
		{8, "acme", fuzzChainID, "", " "},
		{8, "acme", fuzzChainID, "", "\t"},
		{5, "acme", fuzzChainID, "", ""},
		{6, "acme", fuzzOTPID, "", "x"},
		{0, "-acme", "", "", ""},
		{4, "acme", "", "", ""},
		{1, "acme", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.route, s.org, s.id, s.query, s.u)
	}
	tree := newFuzzTree(f)
	f.Fuzz(func(t *testing.T, route uint8, org, id, query, userAgent string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		target := strings.NewReplacer("{org}", org, "{id}", id).Replace(rt.pattern)
		if query != "" {
			target += "?" + query
		}
		// What net/http's server would refuse before any handler runs.
		u, err := url.ParseRequestURI(target)
		if err != nil || !validHeaderValue(userAgent) {
			return
		}
		tree.reset()
		r := httptest.NewRequest(rt.method, "/", strings.NewReader(rt.body))
		r.URL, r.RequestURI = u, target
		r.Header.Set("Authorization", "Bearer "+tree.token)
		if userAgent != "" {
			r.Header.Set("User-Agent", userAgent)
		} else {
			r.Header.Del("User-Agent")
		}
		rec := tree.serve(r)
		if rec.Code >= 300 && rec.Code < 400 {
			// ServeMux redirects a path that is not in canonical form
			// (dot segments, double slashes) to the canonical one.
			if clean := path.Clean(u.Path); clean == u.Path || rec.Header().Get("Location") == "" {
				t.Fatalf("%s %s: redirect %d to %q from a canonical path", rt.method, target, rec.Code, rec.Header().Get("Location"))
			}
			return
		}
		items := checkExchange(t, rec)
		if rec.Code < 300 {
			// Success only for the token's own org and a seeded or new
			// record, however the path was spelled.
			segs := strings.Split(u.Path, "/")
			if len(segs) < 4 || segs[3] != fuzzOrg {
				t.Fatalf("%s %s: %d for org %q, the token is for %q only", rt.method, target, rec.Code, segs[3], fuzzOrg)
			}
		}
		for _, it := range items {
			if it.Code == "MDOC_001" && rec.Code == http.StatusBadRequest && !paramDetails.MatchString(it.Details) {
				t.Fatalf("%s %s: parameter error names no parameter: %q", rt.method, target, it.Details)
			}
		}
		if _, err := url.ParseQuery(u.RawQuery); err != nil && rt.method == http.MethodDelete && rec.Code < 300 {
			t.Fatalf("%s %s: %d for a malformed query; force must be true, false or absent", rt.method, target, rec.Code)
		}
		if forced, ok := tree.store.lastDelete(); ok && forced {
			if q, err := url.ParseQuery(u.RawQuery); err != nil || len(q["force"]) != 1 || q["force"][0] != "true" {
				t.Fatalf("%s %s: a forced delete without force=true in the query", rt.method, target)
			}
		}
	})
}

var paramDetails = regexp.MustCompile(`^(org_id|admin_identification_id|identification_chain_id|force|User-Agent): `)

// statusCodes is the table of docs/errors.md: the codes each error status
// may carry.
var statusCodes = map[int][]string{
	400: {"MDOC_001", "MDOC_002"},
	401: {"MDOC_003"},
	403: {"MDOC_003"},
	404: {"MDOC_004"},
	405: {"MDOC_001"},
	409: {"MDOC_005", "MDOC_006"},
	412: {"MDOC_010"},
	503: {"MDOC_000"},
}

// checkExchange checks what every answer must be: no 5xx but a 503, a
// 204 without a body, a JSON body otherwise and, for an error, the
// documented ErrorsResponse with codes matching the status. It returns the
// error items.
func checkExchange(t *testing.T, rec *httptest.ResponseRecorder) []httpapi.ErrorItem {
	t.Helper()
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusNoContent {
		if rec.Body.Len() != 0 {
			t.Fatalf("204 with a body: %s", rec.Body)
		}
		return nil
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
	}
	if rec.Code < 400 {
		return nil
	}
	var er httpapi.ErrorsResponse
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er); err != nil || len(er.Errors) == 0 {
		t.Fatalf("status %d without an ErrorsResponse: %v: %s", rec.Code, err, rec.Body)
	}
	codes, ok := statusCodes[rec.Code]
	if !ok {
		t.Fatalf("undocumented status %d: %s", rec.Code, rec.Body)
	}
	for _, it := range er.Errors {
		if !containsCode(codes, it.Code) || it.Title == "" || it.Details == "" || !strings.HasSuffix(it.Ref, "#"+it.Code) {
			t.Fatalf("status %d with error item %+v", rec.Code, it)
		}
	}
	return er.Errors
}

func containsCode(list []string, c string) bool {
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

// validHeaderValue reports whether net/http would send v as a header
// value (no control characters but tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// memStore is the in-memory store (internal/memstore, held to the same
// contract suite as the DynamoDB store) with a record of successful
// deletes, so the fuzz targets can check no delete was forced by mistake.
type memStore struct {
	mu      sync.Mutex
	inner   *memstore.Store
	deleted []bool
}

func (s *memStore) store() *memstore.Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inner == nil {
		s.inner = memstore.New()
	}
	return s.inner
}

func (s *memStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inner = memstore.New()
	s.deleted = nil
}

// lastDelete reports the force flag of the last delete that succeeded.
func (s *memStore) lastDelete() (force, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.deleted) == 0 {
		return false, false
	}
	return s.deleted[len(s.deleted)-1], true
}

func (s *memStore) Create(ctx context.Context, i *identification.Identification, code *identification.CodeMaterial) error {
	return s.store().Create(ctx, i, code)
}

func (s *memStore) Get(ctx context.Context, ref identification.Ref) (*identification.Identification, error) {
	return s.store().Get(ctx, ref)
}

func (s *memStore) Apply(ctx context.Context, ref identification.Ref, e identification.Effect) (identification.Result, error) {
	return s.store().Apply(ctx, ref, e)
}

func (s *memStore) Delete(ctx context.Context, ref identification.Ref, force bool, by identification.Caller, now time.Time) error {
	if err := s.store().Delete(ctx, ref, force, by, now); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleted = append(s.deleted, force)
	return nil
}
