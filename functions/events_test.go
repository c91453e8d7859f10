package functions_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
)

// sampleEvent is one events/<name>.json.
type sampleEvent struct {
	Name  string
	Event events.APIGatewayV2HTTPRequest
}

// mustEvents reads every events/*.json strictly (an unknown field is a typo
// the function would silently ignore) and checks there is exactly one per
// route.
func mustEvents(t *testing.T) map[string]sampleEvent {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(repoRoot(t), "events", "*.json"))
	if err != nil {
		t.Fatalf("glob events: %v", err)
	}
	out := map[string]sampleEvent{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if name == app.SweepName || name == app.StreamName {
			continue // a scheduled event and a stream batch, not HTTP ones: see sweep_test.go and shared/app's TestStreamSampleEvent
		}
		var ev events.APIGatewayV2HTTPRequest
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s is not an API Gateway HTTP API event: %v", p, err)
		}
		out[name] = sampleEvent{Name: name, Event: ev}
	}
	got := slices.Sorted(maps.Keys(out))
	want := slices.Sorted(maps.Keys(routesByName()))
	if !slices.Equal(got, want) {
		t.Fatalf("events/*.json = %v, want one per route %v", got, want)
	}
	return out
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// checkEventMatchesRoute reports where ev is not what API Gateway would send
// to rt's function: payload 2.0, the route key, the method, a path that
// matches the route with the path parameters filled in (after the stage),
// verified claims for the path's org and the route's scopes.
func checkEventMatchesRoute(t *testing.T, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	rc := ev.RequestContext
	routeKey := rt.Method + " " + rt.Path
	for _, c := range []struct{ field, got, want string }{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, routeKey},
		{"requestContext.routeKey", rc.RouteKey, routeKey},
		{"requestContext.http.method", rc.HTTP.Method, rt.Method},
		{"requestContext.http.path", rc.HTTP.Path, ev.RawPath},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if rc.RequestID == "" {
		t.Errorf("requestContext.requestId is empty")
	}

	var params []string
	wantPath := pathParam.ReplaceAllStringFunc(rt.Path, func(m string) string {
		name := m[1 : len(m)-1]
		params = append(params, name)
		return ev.PathParameters[name]
	})
	if rc.Stage != "$default" {
		wantPath = "/" + rc.Stage + wantPath
	}
	if ev.RawPath != wantPath {
		t.Errorf("rawPath = %q, want %q (the route's path on stage %q)", ev.RawPath, wantPath, rc.Stage)
	}
	if got := slices.Sorted(maps.Keys(ev.PathParameters)); !slices.Equal(got, slices.Sorted(slices.Values(params))) {
		t.Errorf("pathParameters = %v, want exactly %v", got, params)
	}
	for _, name := range params {
		if ev.PathParameters[name] == "" {
			t.Errorf("pathParameters.%s is empty", name)
		}
	}

	if rc.Authorizer == nil || rc.Authorizer.JWT == nil {
		t.Fatalf("requestContext.authorizer.jwt is missing: every route is behind the JWT authorizer")
	}
	claims := rc.Authorizer.JWT.Claims
	for _, c := range []string{"iss", "aud", "sub", "exp", "scope", auth.DefaultOrgClaim} {
		if claims[c] == "" {
			t.Errorf("claim %s is missing", c)
		}
	}
	if org := ev.PathParameters["org_id"]; !slices.Contains(strings.Fields(claims[auth.DefaultOrgClaim]), org) {
		t.Errorf("claim %s = %q does not hold the path's org %q", auth.DefaultOrgClaim, claims[auth.DefaultOrgClaim], org)
	}
	for _, s := range rt.Scopes {
		if !slices.Contains(rc.Authorizer.JWT.Scopes, s) || !slices.Contains(strings.Fields(claims["scope"]), s) {
			t.Errorf("scope %s is not in scopes %v and claim scope %q", s, rc.Authorizer.JWT.Scopes, claims["scope"])
		}
	}
	if (rt.Method == http.MethodPost || rt.Method == http.MethodPut) && ev.Body != "" && !strings.HasPrefix(ev.Headers["content-type"], "application/json") {
		t.Errorf("a body without content-type application/json")
	}
}

// routeType is the identification type a route acts on.
func routeType(rt httpapi.Route) identification.Type {
	if strings.Contains(rt.Path, "/identifications/chain") {
		return identification.TypeChain
	}
	return identification.TypeOTP
}

// seedState stores, through the store, the identification ev acts on in
// state st: the event's org and id, bound to the event's device when st
// binds one; a confirm's event then gets the key of an image uploaded
// for it (mustUpload). It reports false when the process in st takes no
// such upload.
func seedState(t *testing.T, deps app.Deps, rt httpapi.Route, st *routeState, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPRequest, bool) {
	t.Helper()
	ref := identification.Ref{Org: ev.PathParameters["org_id"], Type: routeType(rt), ID: ev.PathParameters[rt.IDParam()]}
	if err := deps.Store.(*dynamostore.Store).Purge(t.Context(), ref); err != nil {
		t.Fatalf("purge %s: %v", ref.ID, err)
	}
	i, code := st.seed(ref, time.Now().UTC().Truncate(time.Second))
	if i.Device != nil {
		i.Device = &identification.Device{InstallationID: ev.Headers["x-installation_id"], Fingerprint: ev.Headers["x-fingerprint"]}
	}
	if err := deps.Store.Create(t.Context(), i, code); err != nil {
		t.Fatalf("seed %s %s in %s (%s): %v", i.Type, i.ID, i.OrgID, st.name, err)
	}
	return mustUpload(t, deps, rt, ev)
}

// eventStates are the states of routeStates the sample event of rt is
// tried in, in order, until one answers its success: those of its type
// that are created through the store and owe nothing. A create or a
// listing acts on no process: one try, in no state (nil).
func eventStates(rt httpapi.Route) []*routeState {
	var out []*routeState
	switch {
	case namesEndpoint(rt):
		// A webhook route on an endpoint: the states with one.
		for n, st := range routeStates {
			if st.endpoint != nil {
				out = append(out, &routeStates[n])
			}
		}
		return out
	case rt.IDParam() == "":
		return []*routeState{nil}
	}
	for n, st := range routeStates {
		if st.typ == rt.Type() && st.seed != nil && !st.owed {
			out = append(out, &routeStates[n])
		}
	}
	return out
}

// seedEndpointState stores, through the store, the webhook endpoint ev
// names (and the delivery it names) in state st.
func seedEndpointState(t *testing.T, deps app.Deps, st *routeState, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	w := webhookRef{org: ev.PathParameters["org_id"], endpoint: ev.PathParameters["webhook_id"], delivery: ev.PathParameters["delivery_id"]}
	if w.delivery == "" {
		// A delivery in the log all the same: the state is the same one.
		w.delivery = newWebhookRef(w.org).delivery
	}
	if err := st.endpoint(t.Context(), deps.Dynamo, w, time.Now().UTC().Truncate(time.Second)); err != nil {
		t.Fatalf("seed webhook endpoint %s in %s (%s): %v", w.endpoint, w.org, st.name, err)
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// TestEventsThroughTheirFunctions drives every events/<name>.json through
// the handler function <name>'s main starts (app.NewLambdaHandler) against
// each engine, on a table built from template.yaml: the documented status,
// DynamoDB calls that keep routefacts.CheckSuccess's rules, a log line
// carrying both request ids, and TTL on the stored item. Then every other route's event through the same handler:
// 404, or 405 for the same path under another method, without touching
// DynamoDB.
func TestEventsThroughTheirFunctions(t *testing.T) {
	samples := mustEvents(t)
	routes := routesByName()
	for name, s := range samples {
		t.Run("shape/"+name, func(t *testing.T) { checkEventMatchesRoute(t, routes[name], s.Event) })
	}
	ttlName, ttlEnabled, err := samtemplate.TTLAttribute(filepath.Join(repoRoot(t), "template.yaml"), samtemplate.TableLogicalID)
	if err != nil || !ttlEnabled {
		t.Fatalf("template TTL attribute = %q enabled %t, error %v", ttlName, ttlEnabled, err)
	}

	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		for _, rt := range httpapi.Routes() {
			t.Run(rt.Name, func(t *testing.T) {
				t.Parallel()
				client, table, counter := enginetest.NewTable(t, e)
				logs := &syncBuffer{}
				cfg := app.Config{
					TableName: table,
					Region:    "us-east-1",
					OrgClaim:  auth.DefaultOrgClaim,
					DocsURL:   httpapi.DefaultDocsURL,
					Retention: dynamostore.DefaultRetention,
					Shards:    dynamostore.DefaultShards,
					LogLevel:  slog.LevelInfo,
				}
				opts := []identification.Option{identification.WithCodeKeys(fixture.CodeKeys())}
				if slices.Contains(rt.Needs, httpapi.NeedEvidence) {
					opts = append(opts, identification.WithEvidence(s3evidence.Objects{Bucket: mustBucket(t)}))
				}
				deps := app.NewDeps(cfg, client, app.NewLambdaLogger(logs, cfg.LogLevel), opts...)
				if slices.Contains(rt.Needs, httpapi.NeedWebhooks) {
					// As app.WithWebhooks wires it, on an in-process queue,
					// every host resolving to a public address.
					deps = deps.WithWebhooks(fixture.CodeKeys(), egress.New(egress.Options{Resolver: publicResolver{}}), memqueue.New(time.Now))
				}
				if slices.Contains(rt.Needs, httpapi.NeedSettings) {
					// As app.WithSettings wires it, on the table.
					deps = deps.WithSettings(deps.Dynamo, deps.Dynamo, nil)
				}
				handler, err := app.NewLambdaHandler(rt.Name, deps)
				if err != nil {
					t.Fatalf("NewLambdaHandler(%q) error = %v", rt.Name, err)
				}

				invocation := fmt.Sprintf("c0ffee00-%04x-4e5f-8a9b-0123456789ab", len(rt.Name))
				ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: invocation})
				var ev events.APIGatewayV2HTTPRequest
				var resp events.APIGatewayV2HTTPResponse
				var tried []string
				for _, st := range eventStates(rt) {
					ev = samples[rt.Name].Event
					state := "no process"
					switch {
					case st != nil && st.endpoint != nil:
						seedEndpointState(t, deps, st, ev)
						state = st.name
					case st != nil:
						var ok bool
						if ev, ok = seedState(t, deps, rt, st, ev); !ok {
							continue
						}
						state = st.name
					}
					counter.Reset()
					logs.Reset()
					if resp, err = handler(ctx, ev); err != nil {
						t.Fatalf("handler error = %v", err)
					}
					if resp.StatusCode == rt.Success {
						break
					}
					tried = append(tried, fmt.Sprintf("%s: %d %s", state, resp.StatusCode, resp.Body))
				}
				if want := rt.Success; resp.StatusCode != want {
					t.Fatalf("no state of routeStates (states_test.go) makes the sample event answer %d:\n%s", want, strings.Join(tried, "\n"))
				}
				// The calls are measured, and held to the rules every
				// route keeps; on this table, which holds only the
				// process, to the fewest they allow.
				ops := counter.Ops()
				if err := routefacts.CheckSuccess(rt, ops); err != nil {
					t.Errorf("DynamoDB calls: %v", err)
				}
				if most := routefacts.MaxSuccessCalls(rt); len(ops) > most {
					t.Errorf("DynamoDB calls %v, want at most %d", ops, most)
				}
				checkBody(t, rt, ev, resp)
				checkRequestLog(t, logs.String(), ev.RequestContext.RequestID, invocation, resp.StatusCode)
				checkTTL(t, client, table, ttlName)

				for _, other := range httpapi.Routes() {
					if other.Name == rt.Name {
						continue
					}
					counter.Reset()
					resp, err := handler(ctx, samples[other.Name].Event)
					if err != nil {
						t.Fatalf("%s event: handler error = %v", other.Name, err)
					}
					want := http.StatusNotFound
					if other.Path == rt.Path {
						want = http.StatusMethodNotAllowed
					}
					if resp.StatusCode != want {
						t.Errorf("%s event: status = %d, want %d; body %s", other.Name, resp.StatusCode, want, resp.Body)
					}
					if got := counter.Total(); got != 0 {
						t.Errorf("%s event: DynamoDB calls = %d, want 0", other.Name, got)
					}
				}
			})
		}
	})
}

// checkBody checks what a success carries: JSON for the identification on
// creates and reads (with a Location on creates), nothing on a 204.
func checkBody(t *testing.T, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if resp.StatusCode == http.StatusNoContent {
		if resp.Body != "" {
			t.Errorf("204 with body %q", resp.Body)
		}
		return
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if slices.Contains(rt.Needs, httpapi.NeedWebhooks) {
		checkWebhookBody(t, rt, ev, resp)
		return
	}
	if slices.Contains(rt.Needs, httpapi.NeedSettings) {
		checkSettingsBody(t, rt, resp)
		return
	}
	var list struct {
		Items   *[]json.RawMessage `json:"items"`
		Uploads *[]json.RawMessage `json:"uploads"`
	}
	if json.Unmarshal([]byte(resp.Body), &list) == nil && (list.Items != nil || list.Uploads != nil) {
		return // a history, a listing, evidence or upload forms: checked by the HTTP suites
	}
	var got struct {
		ID     string `json:"id"`
		OrgID  string `json:"org_id"`
		Type   string `json:"type"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("body is not an identification: %v; %s", err, resp.Body)
	}
	org := ev.PathParameters["org_id"]
	if got.OrgID != org || got.Type != string(routeType(rt)) || got.Status != string(identification.StatusCreated) {
		t.Errorf("body org_id, type, status = %q, %q, %q; want %q, %q, %q", got.OrgID, got.Type, got.Status, org, routeType(rt), identification.StatusCreated)
	}
	if id := ev.PathParameters["admin_identification_id"] + ev.PathParameters["identification_chain_id"]; id != "" && got.ID != id {
		t.Errorf("body id = %q, want the path's %q", got.ID, id)
	}
	if resp.StatusCode == http.StatusCreated {
		// On the stage the request came through: the event's rawPath
		// carries it.
		if loc, want := resp.Headers["Location"], ev.RawPath+"/"+got.ID; loc != want {
			t.Errorf("Location = %q, want %q", loc, want)
		}
	}
}

// checkWebhookBody checks what a webhook route's success carries: a
// listing (checked by the HTTP suites), the delivery id a queueing route
// answers, or the endpoint (the path's, or on a registration a new one,
// with a Location), its secret only where it is shown once.
// checkSettingsBody checks a settings route's answer: the document with
// its version and ETag (one up after a change), or the audit list's page.
func checkSettingsBody(t *testing.T, rt httpapi.Route, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	var got struct {
		Items   *[]json.RawMessage `json:"items"`
		Buckets *[]json.RawMessage `json:"buckets"`
		Version *int64             `json:"version"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("body is not JSON: %v; %s", err, resp.Body)
	}
	if got.Items != nil || got.Buckets != nil {
		return // a page, or the statistics: checked by the HTTP suites
	}
	if got.Version == nil {
		t.Fatalf("%s: no version in %s", rt.Name, resp.Body)
	}
	etag := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "ETag") {
			etag = v
		}
	}
	if etag != fmt.Sprintf("%q", fmt.Sprint(*got.Version)) {
		t.Errorf("%s: ETag %q for version %d", rt.Name, etag, *got.Version)
	}
	if rt.Method == http.MethodPut && *got.Version < 1 {
		t.Errorf("%s: version %d after a change", rt.Name, *got.Version)
	}
}

func checkWebhookBody(t *testing.T, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	var got struct {
		Items      *[]json.RawMessage `json:"items"`
		ID         string             `json:"id"`
		Secret     string             `json:"secret"`
		DeliveryID string             `json:"delivery_id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("body is not JSON: %v; %s", err, resp.Body)
	}
	switch {
	case got.Items != nil:
		return
	case resp.StatusCode == http.StatusAccepted:
		if !strings.HasPrefix(got.DeliveryID, "msg_") {
			t.Errorf("delivery_id = %q, want a webhook-id (msg_…)", got.DeliveryID)
		}
		if want := ev.PathParameters["delivery_id"]; want != "" && got.DeliveryID != want {
			t.Errorf("delivery_id = %q, want the path's %q", got.DeliveryID, want)
		}
		return
	}
	if want := ev.PathParameters["webhook_id"]; want != "" && got.ID != want {
		t.Errorf("body id = %q, want the path's %q", got.ID, want)
	}
	if !strings.HasPrefix(got.ID, "wh_") {
		t.Errorf("body id = %q, want an endpoint id (wh_…)", got.ID)
	}
	shown := rt.Name == httpapi.CreateWebhook.Name || rt.Name == httpapi.RotateWebhookSecret.Name
	if (got.Secret != "") != shown {
		t.Errorf("secret shown = %v, want %v (only the registration and the rotation show it)", got.Secret != "", shown)
	}
	if resp.StatusCode == http.StatusCreated {
		if loc, want := resp.Headers["Location"], ev.RawPath+"/"+got.ID; loc != want {
			t.Errorf("Location = %q, want %q", loc, want)
		}
	}
}

// checkRequestLog finds the handler tree's request line and checks that it
// is JSON carrying API Gateway's request id and the Lambda invocation's.
func checkRequestLog(t *testing.T, logs, requestID, invocation string, status int) {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] != "request" {
			continue
		}
		if rec["request_id"] != requestID || rec["aws_request_id"] != invocation || rec["status"] != float64(status) {
			t.Errorf("request log = %s, want request_id %q, aws_request_id %q, status %d", strings.TrimSpace(line), requestID, invocation, status)
		}
		return
	}
	t.Errorf("no request log line in %q", logs)
}

// keptUntilDeleted are the kinds of item no TTL removes: an
// organisation's webhook endpoints and their count live until deleted
// (their deliveries log, like everything else, has a TTL), and its
// settings and their audit list as long as the organisation.
var keptUntilDeleted = map[string]bool{"webhook": true, "webhook-count": true, "settings": true, "settings-change": true}

// checkTTL checks that every stored item carries the template's TTL
// attribute as a number in the future: the attribute DynamoDB's TTL reads
// is the one the store writes. (A test may scan its own table.)
func checkTTL(t *testing.T, client *dynamodb.Client, table, ttlName string) {
	t.Helper()
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	for _, item := range out.Items {
		if kind, _ := item["kind"].(*types.AttributeValueMemberS); kind != nil && keptUntilDeleted[kind.Value] {
			if _, ok := item[ttlName]; ok {
				t.Errorf("item %v of kind %s has %q: it is kept until deleted", item["pk"], kind.Value, ttlName)
			}
			continue
		}
		n, ok := item[ttlName].(*types.AttributeValueMemberN)
		if !ok {
			t.Errorf("item %v has no number attribute %q for TTL", item["pk"], ttlName)
			continue
		}
		var epoch int64
		if _, err := fmt.Sscan(n.Value, &epoch); err != nil || epoch <= time.Now().Unix() {
			t.Errorf("item %v: %s = %s, want Unix seconds in the future", item["pk"], ttlName, n.Value)
		}
	}
}

// mustBucket is an evidence bucket of the test's own on moto_server.
func mustBucket(t *testing.T) *s3evidence.Bucket {
	t.Helper()
	return s3local.NewBucket(t, mototest.Start(t), "us-east-1")
}

// mustUpload does what the actor's client does before a confirm, when ev
// confirms an upload (its body names a kind and a key): asks for the form
// of the event's kind, uploads an image with it, and returns the event
// with that form's key (a key carries a MAC of its own, so the sample's is
// only its shape). It reports false when the process takes no image of
// that kind now.
func mustUpload(t *testing.T, deps app.Deps, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPRequest, bool) {
	t.Helper()
	var body struct {
		Kind identification.EvidenceKind `json:"kind"`
		Key  string                      `json:"key"`
	}
	if json.Unmarshal([]byte(ev.Body), &body) != nil || body.Kind == "" || body.Key == "" {
		return ev, true
	}
	ref := identification.Ref{Org: ev.PathParameters["org_id"], Type: routeType(rt), ID: ev.PathParameters[rt.IDParam()]}
	by := identification.Caller{Kind: identification.CallerActor, Device: &identification.Device{InstallationID: ev.Headers["x-installation_id"], Fingerprint: ev.Headers["x-fingerprint"]}}
	ups, err := deps.Service.RequestUploads(t.Context(), ref, identification.UploadRequest{Files: []identification.UploadFile{{Kind: body.Kind, ContentType: "image/png"}}}, by)
	if err != nil {
		return ev, false
	}
	if status, answer := s3local.Upload(t, ups[0].Form.URL, ups[0].Form.Fields, "front.png", "image/png", s3local.PNG(t)); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, answer)
	}
	out := ev
	out.Body = fmt.Sprintf(`{"kind":%q,"key":%q}`, body.Kind, ups[0].Key)
	return out, true
}
