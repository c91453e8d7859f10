// Package openapitest holds the API to its OpenAPI description
// (docs/openapi.yaml, embedded as docs.OpenAPI): the HTTP tests pass every
// exchange they make to Check, and the document's own tests prove that every
// operation is a route of the route table and back.
//
// The contract Check enforces, for one request and the response the API
// gave it:
//
//   - Every response must match the document for its operation and status:
//     the status must be documented for the operation, required headers
//     (Location, Retry-After, X-Request-Id) present and well-formed, a body
//     of the documented media type and schema, and no body where none is
//     documented (204).
//   - A request the document rejects must get a 4xx. The suites send bad
//     requests on purpose, so a rejected request is not an error in itself;
//     the API accepting it (2xx) or failing on it (5xx) is. The converse is
//     not required: the API enforces rules a schema cannot express (distinct
//     step types, a destination for the channel, expiry bounds), so a
//     request the document accepts may still get a 400.
//   - The token is the API's business, not the document's: any request with
//     one "Authorization: Bearer <token>" header meets the document's
//     security requirement. A request without one is rejected by the
//     document, so the API must answer it with a 4xx, and its response is
//     checked against the documented 401 like any other.
//   - A request that matches no operation of the document (an unknown path
//     or method) must get a 404 whose body is a NotFoundErrors, or a 405
//     whose body is a BadRequestErrors.
//
// Two rules of the API that the document states in words rather than in
// schemas are applied to the request before it is validated: the body is
// read as JSON whatever its Content-Type, and a member whose value is null
// is the same as an absent one.
//
// The document keeps its schemas simple enough for client generators (one
// named object per identification, no allOf, anyOf or not), so the rules of
// an identification it states in words are checked here, on every response
// that holds one (a read, a create, a page of a listing): ended_at is
// present exactly when the status is final, cancel_reason exactly when it is
// CANCELLED.
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/idadmin/api/docs"
)

// Route is one operation: a method and a path template such as
// "/v1/orgs/{org_id}/identifications/otp", spelled as in the route table.
type Route struct {
	Method string
	Path   string
}

// String renders the route as "METHOD path".
func (r Route) String() string { return r.Method + " " + r.Path }

// Load parses data as an OpenAPI document, resolves its references and
// validates it with kin-openapi's own checks, examples included.
func Load(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load: %w", err)
	}
	if err := doc.Validate(context.Background(),
		openapi3.EnableExamplesValidation(),
		openapi3.EnableSchemaDefaultsValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.EnableSchemaFormatValidation(),
	); err != nil {
		return nil, fmt.Errorf("openapitest: validate: %w", err)
	}
	return doc, nil
}

// checker validates exchanges against one loaded document.
type checker struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
	// notFound and badRequest are the bodies of the 404 and 405 that answer
	// requests that match no operation.
	notFound, badRequest *openapi3.Schema
}

func newChecker(data []byte) (*checker, error) {
	doc, err := Load(data)
	if err != nil {
		return nil, err
	}
	// The servers name hosts (the dev server, a deployment); the tests send
	// requests to any host, so routing ignores them. The router works on a
	// copy so the document stays as published.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("openapitest: router: %w", err)
	}
	notFound := doc.Components.Schemas["NotFoundErrors"]
	badRequest := doc.Components.Schemas["BadRequestErrors"]
	if notFound == nil || notFound.Value == nil || badRequest == nil || badRequest.Value == nil {
		return nil, errors.New("openapitest: the document has no NotFoundErrors or BadRequestErrors schema")
	}
	return &checker{
		doc:        doc,
		router:     router,
		notFound:   notFound.Value,
		badRequest: badRequest.Value,
		opts: &openapi3filter.Options{
			AuthenticationFunc:    bearerPresent,
			IncludeResponseStatus: true,
			SkipSettingDefaults:   true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.DisableSchemaErrorDetails(),
			},
		},
	}, nil
}

var shared struct {
	once sync.Once
	c    *checker
	err  error
}

func defaultChecker() (*checker, error) {
	shared.once.Do(func() { shared.c, shared.err = newChecker(docs.OpenAPI) })
	return shared.c, shared.err
}

// Document returns the API's document, loaded and validated once per test
// binary. Callers must not modify it.
func Document() (*openapi3.T, error) {
	c, err := defaultChecker()
	if err != nil {
		return nil, err
	}
	return c.doc, nil
}

// Routes lists the operations of the API's document, sorted.
func Routes() ([]Route, error) {
	doc, err := Document()
	if err != nil {
		return nil, err
	}
	return RoutesOf(doc), nil
}

// RoutesOf lists the operations of doc, sorted by path, then method.
func RoutesOf(doc *openapi3.T) []Route {
	var out []Route
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, Route{Method: strings.ToUpper(method), Path: path})
		}
	}
	sortRoutes(out)
	return out
}

// CompareRoutes compares the operations of a document with a route table:
// it returns the routes only the document has and those only the table has,
// each sorted. Both empty means they agree.
func CompareRoutes(document, table []Route) (onlyInDocument, onlyInTable []Route) {
	inDoc := make(map[Route]bool, len(document))
	for _, r := range document {
		inDoc[r] = true
	}
	inTable := make(map[Route]bool, len(table))
	for _, r := range table {
		inTable[r] = true
	}
	for r := range inDoc {
		if !inTable[r] {
			onlyInDocument = append(onlyInDocument, r)
		}
	}
	for r := range inTable {
		if !inDoc[r] {
			onlyInTable = append(onlyInTable, r)
		}
	}
	sortRoutes(onlyInDocument)
	sortRoutes(onlyInTable)
	return onlyInDocument, onlyInTable
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
}

// Check validates one exchange with the API against the API's document,
// under the contract of the package comment. req is the request as sent
// (its body may have been read: reqBody is the body), status, respHeader
// and respBody the response. It returns nil when the exchange conforms.
func Check(req *http.Request, reqBody []byte, status int, respHeader http.Header, respBody []byte) error {
	c, err := defaultChecker()
	if err != nil {
		return err
	}
	return c.check(req, reqBody, status, respHeader, respBody)
}

func (c *checker) check(req *http.Request, reqBody []byte, status int, respHeader http.Header, respBody []byte) error {
	ctx := context.Background()
	r := req.Clone(ctx)
	body := normaliseBody(reqBody)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	if len(body) > 0 {
		r.Header.Set("Content-Type", "application/json")
	}
	exchange := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.RequestURI(), status)

	route, pathParams, routeErr := c.router.FindRoute(r)
	if routeErr != nil {
		if err := c.checkUnrouted(status, respHeader, respBody); err != nil {
			return fmt.Errorf("%s: no operation of the document matches (%v): %w", exchange, routeErr, err)
		}
		return nil
	}

	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: route, Options: c.opts}
	if reqErr := openapi3filter.ValidateRequest(ctx, in); reqErr != nil && (status < 400 || status > 499) {
		return fmt.Errorf("%s: the document rejects the request, so the API must answer 4xx: %w", exchange, reqErr)
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 respHeader,
		Options:                c.opts,
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: the response does not match the document: %w\nbody: %s", exchange, err, abbreviate(respBody))
	}
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil &&
		len(resp.Value.Content) == 0 && len(respBody) > 0 {
		return fmt.Errorf("%s: the document gives this response no body, got %d bytes: %s", exchange, len(respBody), abbreviate(respBody))
	}
	if status >= 200 && status < 300 && len(respBody) > 0 {
		if err := identificationRules(respBody); err != nil {
			return fmt.Errorf("%s: %w\nbody: %s", exchange, err, abbreviate(respBody))
		}
	}
	return nil
}

// finalStatus are the statuses after which a process never changes.
var finalStatus = map[string]bool{"FAILED": true, "CANCELLED": true, "CLOSED": true, "EXPIRED": true}

// identificationRules checks the rules the document states in words on the
// identifications of a success body: the body itself when it is one (it
// has an id, a type and a status), or each item of a page.
func identificationRules(body []byte) error {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil // not an object; the schema has had its say
	}
	if items, ok := v["items"].([]any); ok {
		for i, it := range items {
			if m, ok := it.(map[string]any); ok {
				if err := identificationRule(m); err != nil {
					return fmt.Errorf("/items/%d: %w", i, err)
				}
			}
		}
		return nil
	}
	return identificationRule(v)
}

func identificationRule(m map[string]any) error {
	status, _ := m["status"].(string)
	if _, ok := m["id"]; !ok || status == "" || (m["type"] != "OTP" && m["type"] != "CHAIN") {
		return nil
	}
	_, ended := m["ended_at"]
	if ended != finalStatus[status] {
		return fmt.Errorf("ended_at must be present exactly when the status is final: status %s, ended_at present: %t", status, ended)
	}
	_, reason := m["cancel_reason"]
	if reason != (status == "CANCELLED") {
		return fmt.Errorf("cancel_reason must be present exactly when the status is CANCELLED: status %s, cancel_reason present: %t", status, reason)
	}
	return nil
}

// checkUnrouted checks the answer to a request that matches no operation:
// a 404 with a NotFoundErrors, or a 405 with a BadRequestErrors.
func (c *checker) checkUnrouted(status int, header http.Header, body []byte) error {
	schema, name := c.notFound, "NotFoundErrors"
	switch status {
	case http.StatusNotFound:
	case http.StatusMethodNotAllowed:
		schema, name = c.badRequest, "BadRequestErrors"
	default:
		return fmt.Errorf("the API must answer 404 or 405, got %d", status)
	}
	mt, _, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("the body must be application/json, got Content-Type %q", header.Get("Content-Type"))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("the body is not JSON: %v: %s", err, abbreviate(body))
	}
	if err := schema.VisitJSON(v, openapi3.VisitAsResponse(), openapi3.DisableSchemaErrorDetails()); err != nil {
		return fmt.Errorf("the body is not a %s: %v: %s", name, err, abbreviate(body))
	}
	return nil
}

// bearerPresent meets the document's security requirement for any request
// with exactly one "Authorization: Bearer <token>" header: whether the token
// is valid, for the organisation and with the scopes, is the API's to say
// (and the response's to show).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	switch s := in.SecurityScheme; {
	case s.Type == "oauth2", s.Type == "openIdConnect", s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
	default:
		return in.NewError(fmt.Errorf("security scheme %q of type %q is not a bearer token", in.SecuritySchemeName, s.Type))
	}
	values := in.RequestValidationInput.Request.Header.Values("Authorization")
	if len(values) != 1 {
		return in.NewError(fmt.Errorf("want one Authorization header, got %d", len(values)))
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New(`the Authorization header is not "Bearer <token>"`))
	}
	return nil
}

// normaliseBody applies the API's reading of a body: blank is empty, and a
// member whose value is null is absent. A body that is not one JSON value
// is returned as is, for the document to reject.
func normaliseBody(body []byte) []byte {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return body
	}
	out, err := json.Marshal(dropNulls(v))
	if err != nil {
		return body
	}
	return out
}

// dropNulls removes the null members of every object in v.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
	case []any:
		for i, e := range x {
			x[i] = dropNulls(e)
		}
	}
	return v
}

func abbreviate(b []byte) string {
	const limit = 600
	if len(b) <= limit {
		return string(b)
	}
	return string(b[:limit]) + "…"
}
