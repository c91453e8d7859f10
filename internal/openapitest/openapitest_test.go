package openapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/idadmin/api/docs"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/openapitest"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/webhooks"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func mustDocument(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapitest.Document()
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	return doc
}

func TestDocumentIsValid(t *testing.T) {
	if _, err := openapitest.Load(docs.OpenAPI); err != nil {
		t.Fatalf("docs/openapi.yaml does not pass kin-openapi's checks: %v", err)
	}
	doc := mustDocument(t)
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi = %q, want %q (API Gateway HTTP APIs import 3.0)", got, want)
	}
}

// TestLoadRejectsBrokenDocuments proves Load is not a rubber stamp: each
// mutation of the real document must make it fail.
func TestLoadRejectsBrokenDocuments(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
	}{
		{"not YAML", "openapi: 3.0.3", "openapi: [3.0.3"},
		{"dangling reference", "$ref: '#/components/schemas/OrgID'", "$ref: '#/components/schemas/NoSuchSchema'"},
		{"example breaking its schema", "phone_number: 6123456789", "phone_number: 12"},
		{"pattern that does not compile", "pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'", "pattern: '^[A-Z'"},
		{"no version", "openapi: 3.0.3", "x-openapi: 3.0.3"},
		{"oauth2 scheme without flows", "      flows:\n        clientCredentials:", "      x-flows:\n        clientCredentials:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := string(docs.OpenAPI)
			if !strings.Contains(src, tt.old) {
				t.Fatalf("the document no longer contains %q; update the mutation", tt.old)
			}
			broken := strings.ReplaceAll(src, tt.old, tt.new)
			if _, err := openapitest.Load([]byte(broken)); err == nil {
				t.Errorf("Load accepted the document with %q replaced by %q", tt.old, tt.new)
			}
		})
	}
}

// devServerExtras are operations the document may describe beyond the route
// table. It is empty: /healthz and /openapi.yaml are dev-server conveniences,
// not routes of the deployed API, so the document leaves them out.
var devServerExtras []openapitest.Route

func TestDocumentMatchesRouteTable(t *testing.T) {
	documented, err := openapitest.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var table []openapitest.Route
	for _, r := range httpapi.Routes() {
		table = append(table, openapitest.Route{Method: r.Method, Path: r.Path})
	}
	table = append(table, devServerExtras...)
	if len(table) == 0 {
		t.Fatal("the route table is empty")
	}
	onlyDoc, onlyTable := openapitest.CompareRoutes(documented, table)
	for _, r := range onlyDoc {
		t.Errorf("%s is in docs/openapi.yaml but not in httpapi.Routes()", r)
	}
	for _, r := range onlyTable {
		t.Errorf("%s is in httpapi.Routes() but not in docs/openapi.yaml", r)
	}
}

func TestCompareRoutes(t *testing.T) {
	a := openapitest.Route{Method: "POST", Path: "/v1/orgs/{org_id}/identifications/otp"}
	b := openapitest.Route{Method: "GET", Path: "/v1/orgs/{org_id}/identifications/otp/{admin_identification_id}"}
	c := openapitest.Route{Method: "DELETE", Path: "/v1/orgs/{org_id}/identifications/otp/{admin_identification_id}"}
	tests := []struct {
		name                   string
		document, table        []openapitest.Route
		wantOnlyDoc, wantTable []openapitest.Route
	}{
		{name: "same routes, any order", document: []openapitest.Route{a, b}, table: []openapitest.Route{b, a}},
		{name: "missing from the document", document: []openapitest.Route{a}, table: []openapitest.Route{a, b}, wantTable: []openapitest.Route{b}},
		{name: "missing from the table", document: []openapitest.Route{a, b, c}, table: []openapitest.Route{b}, wantOnlyDoc: []openapitest.Route{a, c}},
		{name: "method differs", document: []openapitest.Route{b}, table: []openapitest.Route{c}, wantOnlyDoc: []openapitest.Route{b}, wantTable: []openapitest.Route{c}},
		{name: "both empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotDoc, gotTable := openapitest.CompareRoutes(tt.document, tt.table)
			if !slices.Equal(gotDoc, tt.wantOnlyDoc) {
				t.Errorf("only in document = %v, want %v", gotDoc, tt.wantOnlyDoc)
			}
			if !slices.Equal(gotTable, tt.wantTable) {
				t.Errorf("only in table = %v, want %v", gotTable, tt.wantTable)
			}
		})
	}
}

// TestErrorCodesAreDocumented checks that every code the document allows
// has its anchor and section in docs/errors.md, where every ref points.
func TestErrorCodesAreDocumented(t *testing.T) {
	doc := mustDocument(t)
	md, err := os.ReadFile(filepath.Join("..", "..", "docs", "errors.md"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for name, s := range doc.Components.Schemas {
		if !strings.HasPrefix(name, "MDOC_") {
			continue
		}
		codes = append(codes, name)
		if enum := s.Value.Properties["code"].Value.Enum; len(enum) != 1 || enum[0] != name {
			t.Errorf("schema %s: code enum = %v, want [%s]", name, enum, name)
		}
	}
	if len(codes) != 11 {
		t.Errorf("the document has %d error code schemas, want MDOC_000..MDOC_010", len(codes))
	}
	for _, code := range codes {
		if anchor := `<a id="` + code + `"></a>`; !bytes.Contains(md, []byte(anchor)) {
			t.Errorf("docs/errors.md has no anchor %s", anchor)
		}
		if heading := "## " + code + " - "; !bytes.Contains(md, []byte(heading)) {
			t.Errorf("docs/errors.md has no section %q", heading)
		}
	}
	if !strings.HasSuffix(httpapi.DefaultDocsURL, "/docs/errors.md") {
		t.Errorf("httpapi.DefaultDocsURL = %q, want it to point at docs/errors.md", httpapi.DefaultDocsURL)
	}
}

// api is the real handler tree on a real engine, and the means to call it.
type api struct {
	handler  http.Handler
	verifier *auth.Verifier
	// queue takes the webhook routes' test events and replays; sender
	// delivers them to a receiver that answers 204 to everything.
	queue  *memqueue.Queue
	sender *webhooks.Sender
}

// anyAddress resolves every name to one public address: the examples'
// webhook URLs (hooks.example.com) pass registration without a lookup.
type anyAddress struct{}

func (anyAddress) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
}

// acceptAll is a webhook receiver that answers 204 to every delivery,
// without a network.
type acceptAll struct{}

func (acceptAll) Post(context.Context, string, map[string]string, []byte) (int, error) {
	return http.StatusNoContent, nil
}

func newAPI(t *testing.T, e enginetest.Engine) *api {
	t.Helper()
	client, table, _ := enginetest.NewTable(t, e)
	deps := app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, client, slog.New(slog.DiscardHandler), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence())
	verifier := &auth.Verifier{Secret: []byte("test-secret-0123456789"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	queue := memqueue.New(time.Now)
	deps = deps.WithWebhooks(fixture.CodeKeys(), egress.New(egress.Options{Resolver: anyAddress{}}), queue)
	deps = deps.WithSettings(memstore.NewSettings(), memstore.NewGuard(), nil)
	h, err := deps.DevHandler(verifier)
	if err != nil {
		t.Fatal(err)
	}
	sender := &webhooks.Sender{Store: deps.Dynamo, Sealer: fixture.CodeKeys(), Post: acceptAll{}}
	return &api{handler: h, verifier: verifier, queue: queue, sender: sender}
}

// deliver delivers what the queue holds now.
func (a *api) deliver(t *testing.T) {
	t.Helper()
	for range 10 {
		n, err := a.queue.Step(t.Context(), a.sender.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (a *api) mustToken(t *testing.T, org string, scopes ...string) string {
	t.Helper()
	token, err := a.verifier.Mint("t", []string{org}, scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// exchange is one request and the API's answer, already checked against
// the document.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// mustDo sends the request to the API and fails the test unless the
// exchange conforms to the document.
func (a *api) mustDo(t *testing.T, method, target string, header http.Header, body []byte) exchange {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	if err := openapitest.Check(req, body, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("Check: %v", err)
	}
	return exchange{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// exampleCase is one request built from the document's examples.
type exampleCase struct {
	name   string
	route  openapitest.Route
	query  string
	body   []byte
	header http.Header
	want   int
}

// exampleCases builds a request for every example of every operation: each
// request-body example, and each example of a query parameter (with the
// operation's first body example, if it has a body). Path and header
// parameters take their examples, except the identification ids, which
// name identifications the test creates first (the example ids exist in no
// table). Each request expects the operation's documented success status.
func exampleCases(t *testing.T, doc *openapi3.T) []exampleCase {
	t.Helper()
	var cases []exampleCase
	admin := map[string]bool{}
	for _, rt := range httpapi.Routes() {
		admin[rt.Method+" "+rt.Path] = adminRoute(rt)
	}
	for _, r := range openapitest.RoutesOf(doc) {
		// The admin routes' examples replay on a fresh identification; an
		// actor's or agent's need a process in a state of its own (a code,
		// a bound device), and the flow suites hold every such exchange to
		// the document instead.
		if !admin[r.Method+" "+r.Path] {
			continue
		}
		item := doc.Paths.Value(r.Path)
		op := item.GetOperation(r.Method)
		base := exampleCase{route: r, header: http.Header{}, want: successStatus(t, r, op)}
		var queryParams []*openapi3.Parameter
		for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
			switch p.Value.In {
			case openapi3.ParameterInHeader:
				// An optional header (Idempotency-Key) changes what the
				// examples do to each other; the suites exercise it.
				if !p.Value.Required {
					continue
				}
				base.header.Set(p.Value.Name, fmt.Sprint(paramExample(t, r, p.Value)))
			case openapi3.ParameterInQuery:
				queryParams = append(queryParams, p.Value)
			}
		}
		bodies := bodyExamples(t, op)
		var variants []exampleCase
		for _, b := range bodies {
			c := base
			c.name, c.body = r.String()+" body "+b.name, b.json
			variants = append(variants, c)
		}
		for _, p := range queryParams {
			for _, name := range sortedKeys(p.Examples) {
				c := base
				c.name = r.String() + " " + p.Name + " " + name
				c.query = p.Name + "=" + fmt.Sprint(p.Examples[name].Value.Value)
				if len(bodies) > 0 {
					c.body = bodies[0].json
				}
				variants = append(variants, c)
			}
		}
		if len(variants) == 0 {
			base.name = r.String()
			variants = append(variants, base)
		}
		cases = append(cases, variants...)
	}
	return cases
}

// successStatus is the operation's one documented 2xx.
func successStatus(t *testing.T, r openapitest.Route, op *openapi3.Operation) int {
	t.Helper()
	var found []int
	for code := range op.Responses.Map() {
		var n int
		if _, err := fmt.Sscanf(code, "%d", &n); err == nil && n >= 200 && n < 300 {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s documents %d success statuses, want 1", r, len(found))
	}
	return found[0]
}

func paramExample(t *testing.T, r openapitest.Route, p *openapi3.Parameter) any {
	t.Helper()
	if p.Example != nil {
		return p.Example
	}
	for _, name := range sortedKeys(p.Examples) {
		return p.Examples[name].Value.Value
	}
	t.Fatalf("%s: parameter %s has no example", r, p.Name)
	return nil
}

type namedBody struct {
	name string
	json []byte
}

// bodyExamples returns the operation's request-body examples, sorted by name.
func bodyExamples(t *testing.T, op *openapi3.Operation) []namedBody {
	t.Helper()
	if op.RequestBody == nil {
		return nil
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil {
		t.Fatalf("request body without application/json")
	}
	var out []namedBody
	for _, name := range sortedKeys(mt.Examples) {
		b, err := json.Marshal(mt.Examples[name].Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, namedBody{name: name, json: b})
	}
	if len(out) == 0 {
		t.Fatalf("request body without examples")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestExamplesGetTheirDocumentedStatus sends every example of the document
// to the real API and checks every exchange with Check: the examples are
// accepted as documented, and the same requests without a token get the
// documented 401.
func TestExamplesGetTheirDocumentedStatus(t *testing.T) {
	doc := mustDocument(t)
	cases := exampleCases(t, doc)
	adminRoutes := 0
	for _, rt := range httpapi.Routes() {
		if adminRoute(rt) {
			adminRoutes++
		}
	}
	if len(cases) < adminRoutes {
		t.Fatalf("%d example requests for %d admin routes", len(cases), adminRoutes)
	}
	org := doc.Components.Parameters["OrgID"].Value.Example.(string)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		a := newAPI(t, e)
		// Both scopes, so that the force=true example is one the API
		// accepts, and the settings' for the webhook routes.
		token := a.mustToken(t, org, auth.ScopeAdmin, auth.ScopeForceDelete, auth.ScopeSettings)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				target := a.mustTarget(t, doc, c, org, token)
				header := c.header.Clone()
				header.Set("Content-Type", "application/json")
				header.Set("Authorization", "Bearer "+token)
				if header.Get("If-Match") != "" {
					// A change made from the version read: the ETag of
					// a read of the same path, as a client sends it.
					read := a.mustDo(t, http.MethodGet, target, header, nil)
					if read.status != http.StatusOK || read.header.Get("ETag") == "" {
						t.Fatalf("read for If-Match: GET %s = %d: %s", target, read.status, read.body)
					}
					header.Set("If-Match", read.header.Get("ETag"))
				}
				got := a.mustDo(t, c.route.Method, target, header, c.body)
				if got.status != c.want {
					t.Errorf("%s %s = %d, want %d: %s", c.route.Method, target, got.status, c.want, got.body)
				}

				header.Del("Authorization")
				if got := a.mustDo(t, c.route.Method, target, header, c.body); got.status != http.StatusUnauthorized {
					t.Errorf("without a token: %s %s = %d, want 401: %s", c.route.Method, target, got.status, got.body)
				}
			})
		}
	})
}

// adminRoute reports whether rt is an administrator's: the back office's
// (identifications/admin) or the organisation's settings
// (identifications/settings: the webhook and settings routes), or either
// (the settings' reads).
func adminRoute(rt httpapi.Route) bool {
	return slices.Equal(rt.Scopes, []string{auth.ScopeAdmin}) || slices.Equal(rt.Scopes, []string{auth.ScopeSettings}) ||
		slices.Equal(rt.Scopes, []string{auth.ScopeAdmin, auth.ScopeSettings})
}

// mustTarget fills the path of c: org_id with its example, an
// identification id with a fresh identification created from the
// document's first example for its type, a webhook id with a fresh
// endpoint (deleted when the case ends, so that the cases stay under the
// organisation's 10) and a delivery id with its test event, delivered.
func (a *api) mustTarget(t *testing.T, doc *openapi3.T, c exampleCase, org, token string) string {
	t.Helper()
	const orgParam = "{org_id}"
	tmpl := c.route.Path
	afterOrg := strings.Index(tmpl, orgParam) + len(orgParam)
	if i := strings.Index(tmpl[afterOrg:], "/{"); i >= 0 {
		open := afterOrg + i
		end := open + strings.Index(tmpl[open:], "}")
		createPath := tmpl[:open]
		create := doc.Paths.Value(createPath)
		if create == nil || create.Post == nil {
			t.Fatalf("%s: no POST %s to create an identification with", c.route, createPath)
		}
		header := http.Header{}
		header.Set("Authorization", "Bearer "+token)
		header.Set("Content-Type", "application/json")
		header.Set("User-Agent", "openapitest")
		got := a.mustDo(t, http.MethodPost, strings.ReplaceAll(createPath, orgParam, org), header, bodyExamples(t, create.Post)[0].json)
		if got.status != http.StatusCreated {
			t.Fatalf("create for %s = %d: %s", c.route, got.status, got.body)
		}
		var created struct{ ID string }
		if err := json.Unmarshal(got.body, &created); err != nil || created.ID == "" {
			t.Fatalf("create for %s: no id in %s (%v)", c.route, got.body, err)
		}
		tmpl = tmpl[:open+1] + created.ID + tmpl[end+1:]
		if strings.HasPrefix(created.ID, "wh_") {
			endpoint := strings.ReplaceAll(tmpl[:open+1]+created.ID, orgParam, org)
			t.Cleanup(func() {
				header.Del("Content-Type")
				a.mustDo(t, http.MethodDelete, endpoint, header, nil)
			})
			if strings.Contains(tmpl, "{delivery_id}") {
				got := a.mustDo(t, http.MethodPost, endpoint+"/test", header, nil)
				var accepted struct {
					DeliveryID string `json:"delivery_id"`
				}
				if err := json.Unmarshal(got.body, &accepted); got.status != http.StatusAccepted || err != nil {
					t.Fatalf("test event for %s = %d: %s", c.route, got.status, got.body)
				}
				a.deliver(t)
				tmpl = strings.ReplaceAll(tmpl, "{delivery_id}", accepted.DeliveryID)
			}
		}
	}
	path := strings.ReplaceAll(tmpl, orgParam, org)
	if c.query != "" {
		path += "?" + c.query
	}
	return path
}

// TestCheckRejectsExchangesThatBreakTheDocument feeds Check exchanges that
// conform and ones that do not, built by hand: Check must tell them apart.
func TestCheckRejectsExchangesThatBreakTheDocument(t *testing.T) {
	const (
		otpPath   = "/v1/orgs/acme/identifications/otp"
		otpID     = "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
		closePath = otpPath + "/" + otpID + "/close"
	)
	createBody := `{"actor":{"name":"Ana","email":"ana@example.com"},"channel":{"type":"EMAIL"}}`
	created := map[string]any{
		"id": otpID, "org_id": "acme", "type": "OTP", "status": "CREATED",
		"created_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:00Z", "expires_at": "2026-12-21T10:00:00Z",
		"actor":   map[string]any{"name": "Ana", "email": "ana@example.com", "msisdn": map[string]any{"phone_number": 6123456789, "country_code": "34"}},
		"channel": map[string]any{"type": "EMAIL", "external": false},
		"version": 1,
	}
	createdWith := func(change func(m map[string]any)) string {
		m := map[string]any{}
		b, _ := json.Marshal(created)
		_ = json.Unmarshal(b, &m)
		change(m)
		out, _ := json.Marshal(m)
		return string(out)
	}
	errorBody := func(status int, code, title string) string {
		return fmt.Sprintf(`{"errors":[{"code":%q,"title":%q,"ref":"https://github.com/idadmin/api/blob/main/docs/errors.md#%s","details":"status %d"}]}`,
			code, title, code, status)
	}
	headers := func(kv ...string) http.Header {
		h := http.Header{"X-Request-Id": {"req-1"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	jsonHeaders := func(kv ...string) http.Header {
		return headers(append([]string{"Content-Type", "application/json"}, kv...)...)
	}
	location := "Location"

	tests := []struct {
		name        string
		method      string
		target      string
		noToken     bool
		contentType string
		reqBody     string
		status      int
		header      http.Header
		respBody    string
		wantErr     string // a part of Check's error; empty for none
	}{
		{name: "conforming 201", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {})},
		{name: "201 without id", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(m map[string]any) { delete(m, "id") }), wantErr: "property \"id\" is missing"},
		{name: "201 without Location", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(), respBody: createdWith(func(map[string]any) {}), wantErr: "\"Location\" missing"},
		{name: "201 without X-Request-Id", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: http.Header{"Content-Type": {"application/json"}, location: {otpPath + "/" + otpID}}, respBody: createdWith(func(map[string]any) {}), wantErr: "\"X-Request-Id\" missing"},
		{name: "201 with phone_number as a string", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID),
			respBody: createdWith(func(m map[string]any) {
				m["actor"].(map[string]any)["msisdn"].(map[string]any)["phone_number"] = "6123456789"
			}), wantErr: "/actor/msisdn/phone_number"},
		{name: "201 with an undocumented member", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(m map[string]any) { m["created_user_agent"] = "x" }), wantErr: "\"created_user_agent\" is unsupported"},
		{name: "201 with ended_at on an open process", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(m map[string]any) { m["ended_at"] = "2026-11-21T10:00:00Z" }), wantErr: "ended_at must be present exactly when the status is final"},
		{name: "201 with a cancel_reason on an open process", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(m map[string]any) { m["cancel_reason"] = "x" }), wantErr: "cancel_reason must be present exactly"},
		{name: "page with a cancelled item without its reason", method: "GET", target: otpPath, status: 200,
			header:   jsonHeaders(),
			respBody: `{"items":[` + createdWith(func(m map[string]any) { m["status"] = "CANCELLED"; m["ended_at"] = "2026-11-21T10:00:00Z" }) + `],"next_cursor":null}`, wantErr: "/items/0: cancel_reason"},
		{name: "201 with a time that is not UTC", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(m map[string]any) { m["created_at"] = "2026-11-21T11:00:00+01:00" }), wantErr: "/created_at"},
		{name: "201 as text", method: "POST", target: otpPath, reqBody: createBody, status: 201,
			header: headers("Content-Type", "text/plain", location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {}), wantErr: "Content-Type has unexpected value"},
		{name: "201 to a request the document rejects", method: "POST", target: otpPath, reqBody: `{"actor":{"name":"Ana"}}`, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {}), wantErr: "must answer 4xx"},
		{name: "500 to a request the document rejects", method: "POST", target: otpPath, reqBody: `{}`, status: 500,
			header: jsonHeaders(), respBody: errorBody(500, "MDOC_000", "INTERNAL_SERVER_ERROR"), wantErr: "must answer 4xx"},
		{name: "conforming 400 to a request the document rejects", method: "POST", target: otpPath, reqBody: `{"actor":{"name":"Ana"}}`, status: 400,
			header: jsonHeaders(), respBody: errorBody(400, "MDOC_002", "INVALID_INPUT")},
		{name: "400 without errors", method: "POST", target: otpPath, reqBody: `{}`, status: 400,
			header: jsonHeaders(), respBody: `{}`, wantErr: "property \"errors\" is missing"},
		{name: "400 with an empty errors list", method: "POST", target: otpPath, reqBody: `{}`, status: 400,
			header: jsonHeaders(), respBody: `{"errors":[]}`, wantErr: "minimum number of items is 1"},
		{name: "400 with the code of a 409", method: "POST", target: otpPath, reqBody: `{}`, status: 400,
			header: jsonHeaders(), respBody: errorBody(400, "MDOC_006", "CONFLICT"), wantErr: "/errors/0"},
		{name: "400 whose title is not its code's", method: "POST", target: otpPath, reqBody: `{}`, status: 400,
			header: jsonHeaders(), respBody: errorBody(400, "MDOC_001", "INVALID_INPUT"), wantErr: "/title"},
		{name: "undocumented status", method: "POST", target: otpPath, reqBody: createBody, status: 418,
			header: jsonHeaders(), respBody: errorBody(418, "MDOC_000", "INTERNAL_SERVER_ERROR"), wantErr: "status is not supported"},
		{name: "conforming 401 without a token", method: "POST", target: otpPath, noToken: true, reqBody: createBody, status: 401,
			header: jsonHeaders(), respBody: errorBody(401, "MDOC_003", "UNAUTHORIZED")},
		{name: "201 without a token", method: "POST", target: otpPath, noToken: true, reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {}), wantErr: "Authorization"},
		{name: "null members are absent", method: "POST", target: otpPath, reqBody: `{"actor":{"name":"Ana","email":"ana@example.com","last_name":null},"expires_in":null,"channel":{"type":"EMAIL","external":null}}`, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {})},
		{name: "the body is JSON whatever its Content-Type", method: "POST", target: otpPath, contentType: "text/plain", reqBody: createBody, status: 201,
			header: jsonHeaders(location, otpPath+"/"+otpID), respBody: createdWith(func(map[string]any) {})},
		{name: "conforming 204", method: "POST", target: closePath, status: 204, header: headers()},
		{name: "204 with a body", method: "POST", target: closePath, status: 204, header: jsonHeaders(), respBody: `{}`, wantErr: "no body"},
		{name: "conforming 409", method: "POST", target: closePath, status: 409,
			header: jsonHeaders(), respBody: errorBody(409, "MDOC_006", "CONFLICT")},
		{name: "conforming 503", method: "POST", target: closePath, status: 503,
			header: jsonHeaders("Retry-After", "2"), respBody: errorBody(503, "MDOC_000", "INTERNAL_SERVER_ERROR")},
		{name: "503 without Retry-After", method: "POST", target: closePath, status: 503,
			header: jsonHeaders(), respBody: errorBody(503, "MDOC_000", "INTERNAL_SERVER_ERROR"), wantErr: "\"Retry-After\" missing"},
		{name: "409 on a route that never conflicts", method: "GET", target: otpPath + "/" + otpID, status: 409,
			header: jsonHeaders(), respBody: errorBody(409, "MDOC_006", "CONFLICT"), wantErr: "status is not supported"},
		{name: "unknown path answered with an ErrorsResponse", method: "GET", target: "/v1/nowhere", status: 404,
			header: jsonHeaders(), respBody: errorBody(404, "MDOC_004", "RESOURCE_NOT_FOUND")},
		{name: "unknown method answered with an ErrorsResponse", method: "PUT", target: otpPath, status: 405,
			header: jsonHeaders(), respBody: errorBody(405, "MDOC_001", "PARAMETER_ERROR")},
		{name: "unknown path answered with text", method: "GET", target: "/v1/nowhere", status: 404,
			header: headers("Content-Type", "text/plain"), respBody: "404 page not found", wantErr: "application/json"},
		{name: "unknown path answered with 200", method: "GET", target: "/v1/nowhere", status: 200,
			header: jsonHeaders(), respBody: `{"status":"ok"}`, wantErr: "404 or 405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.reqBody))
			if !tt.noToken {
				req.Header.Set("Authorization", "Bearer any-token")
			}
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			err := openapitest.Check(req, []byte(tt.reqBody), tt.status, tt.header, []byte(tt.respBody))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Check accepted the exchange, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Check: %v\nwant an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestRejectedRequestsGetA4xx sends requests that break the document to the
// real API: each must get a 4xx that matches the document (mustDo checks),
// and requests the document's prose rules accept must be accepted.
func TestRejectedRequestsGetA4xx(t *testing.T) {
	const org = "acme"
	otp := "/v1/orgs/" + org + "/identifications/otp"
	chain := "/v1/orgs/" + org + "/identifications/chain"
	tests := []struct {
		name    string
		method  string
		target  string
		noUA    bool
		body    string
		want    int
		noToken bool
	}{
		{name: "org_id with a space", method: "POST", target: "/v1/orgs/ac%20me/identifications/otp", body: `{}`, want: 400},
		{name: "id not a UUID", method: "GET", target: otp + "/not-a-uuid", want: 400},
		{name: "force neither true nor false", method: "DELETE", target: otp + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a?force=yes", want: 400},
		{name: "chain without User-Agent", method: "GET", target: chain + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", noUA: true, want: 400},
		{name: "unknown member", method: "POST", target: otp, body: `{"actor":{"name":"Ana","email":"ana@example.com"},"channel":{"type":"EMAIL"},"colour":"red"}`, want: 400},
		{name: "not JSON", method: "POST", target: otp, body: `{"actor":`, want: 400},
		{name: "OTP cancel without body", method: "POST", target: otp + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a/cancel", want: 400},
		{name: "year designator", method: "POST", target: chain, body: `{"actor":{"name":"Ana"},"expires_in":"P1Y","sequence":[{"identification_type":"AGENT"}]}`, want: 400},
		{name: "sub-object of another step type", method: "POST", target: chain, body: `{"actor":{"name":"Ana"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT","otp_step":{"channel":{"type":"SMS","external":true}}}]}`, want: 400},
		{name: "four steps", method: "POST", target: chain, body: `{"actor":{"name":"Ana"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"}]}`, want: 400},
		{name: "no token", method: "GET", target: otp + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", noToken: true, want: 401},
		{name: "unknown route", method: "GET", target: "/v1/orgs/acme/identifications/other", want: 404},
		{name: "unknown method", method: "PUT", target: otp, want: 405},
		{name: "missing identification", method: "GET", target: otp + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", want: 404},
		{name: "null members and a numeric country code", method: "POST", target: otp,
			body: `{"actor":{"name":" Ana ","last_name":null,"msisdn":{"phone_number":"612345678","country_code":34}},"expires_in":"","two_factor_type":null,"channel":{"type":"SMS","external":"false"}}`, want: 201},
		{name: "chain with defaults", method: "POST", target: chain,
			body: `{"actor":{"name":"Ana"},"expires_in":"P1D","sequence":[{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":null}]}`, want: 201},
		{name: "zero year designator", method: "POST", target: chain,
			body: `{"actor":{"name":"Ana"},"expires_in":"P0Y1D","sequence":[{"identification_type":"AGENT"}]}`, want: 400},
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		a := newAPI(t, e)
		token := a.mustToken(t, org, auth.ScopeAdmin)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				header := http.Header{}
				if !tt.noToken {
					header.Set("Authorization", "Bearer "+token)
				}
				if !tt.noUA {
					header.Set("User-Agent", "openapitest")
				}
				got := a.mustDo(t, tt.method, tt.target, header, []byte(tt.body))
				if got.status != tt.want {
					t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.target, got.status, tt.want, got.body)
				}
			})
		}
	})
}
