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
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
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

// mustSeed stores, through the store, the identification ev acts on: the
// event's org and id, expiring in a week, CREATED for the admin routes and
// where each actor route succeeds for the others (its code the event's
// k4khb9, its chain bound to the event's device). Creates need none.
func mustSeed(t *testing.T, deps app.Deps, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	id := ev.PathParameters["admin_identification_id"] + ev.PathParameters["identification_chain_id"]
	if id == "" {
		return
	}
	at := time.Now().UTC().Truncate(time.Second)
	i := &identification.Identification{
		ID:        id,
		OrgID:     ev.PathParameters["org_id"],
		Type:      routeType(rt),
		Status:    identification.StatusCreated,
		CreatedAt: at,
		UpdatedAt: at,
		ExpiresAt: at.Add(7 * 24 * time.Hour),
		Actor:     identification.Actor{Name: "James", LastName: "Smith", Language: "ES"},
		Version:   1,
	}
	i.Actor.IdentityDocument = &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF"}
	otpStep := identification.Step{IdentificationType: "OTP", OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}}
	if i.Type == identification.TypeOTP {
		i.TwoFactorType = "DOCUMENT_NUMBER"
		i.Channel = &identification.Channel{Type: "SMS", External: rt.Name != httpapi.ResendOTP.Name}
	} else {
		i.Sequence = []identification.Step{{IdentificationType: "AGENT", Status: identification.StepPending}}
		i.CreatedUserAgent = "seed"
	}
	device := &identification.Device{InstallationID: ev.Headers["x-installation_id"], Fingerprint: ev.Headers["x-fingerprint"]}
	switch rt.Name {
	case httpapi.ValidateChainOTP.Name, httpapi.ResendChainOTP.Name:
		i.Sequence = []identification.Step{otpStep, {IdentificationType: "AGENT"}}
		i.Status, i.Device, i.CurrentStep = identification.StatusInProgress, device, 1
	case httpapi.ValidateChainAgent.Name:
		i.Status, i.Device, i.CurrentStep = identification.StatusInProgress, device, 1
	case httpapi.RequestOTPEvidenceUploads.Name, httpapi.ConfirmOTPEvidence.Name:
		i.TwoFactorType = "PERSONAL_DOCUMENT_IMAGE"
	case httpapi.RequestChainEvidenceUploads.Name, httpapi.ConfirmChainEvidence.Name, httpapi.DecideChainDocument.Name:
		i.Sequence = []identification.Step{{IdentificationType: "IDENTITY_DOCUMENT", IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "INTERNAL"}}}
		i.Status, i.Device, i.CurrentStep = identification.StatusInProgress, device, 1
		if rt.Name == httpapi.DecideChainDocument.Name {
			for _, k := range []identification.EvidenceKind{identification.EvidenceDocumentFront, identification.EvidenceDocumentBack} {
				i.Evidence = append(i.Evidence, identification.Evidence{Kind: k, Key: "orgs/seed/" + string(k) + ".png", ContentType: "image/png", Size: 100, At: at, ByKind: identification.CallerActor})
			}
		}
	}
	i.SyncSteps()
	var code *identification.CodeMaterial
	if rt.Needs != nil && rt.Name != httpapi.ValidateChain.Name && rt.Name != httpapi.ValidateChainAgent.Name {
		hash, key := fixture.CodeKeys().Hash(i.Ref(), "k4khb9")
		code = &identification.CodeMaterial{Hash: hash, KeyID: key}
		i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: at.Add(5 * time.Minute), LastCodeAt: at.Add(-time.Hour), Delivery: identification.Delivery{Status: identification.DeliveryPending}}
	}
	if err := deps.Store.Create(t.Context(), i, code); err != nil {
		t.Fatalf("seed %s %s in %s: %v", i.Type, i.ID, i.OrgID, err)
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
				var bucket *s3evidence.Bucket
				if slices.Contains(rt.Needs, httpapi.NeedEvidence) {
					bucket = mustBucket(t)
					opts = append(opts, identification.WithEvidence(s3evidence.Objects{Bucket: bucket}))
				}
				deps := app.NewDeps(cfg, client, app.NewLambdaLogger(logs, cfg.LogLevel), opts...)
				handler, err := app.NewLambdaHandler(rt.Name, deps)
				if err != nil {
					t.Fatalf("NewLambdaHandler(%q) error = %v", rt.Name, err)
				}

				ev := samples[rt.Name].Event
				mustSeed(t, deps, rt, ev)
				if rt.Name == httpapi.ConfirmOTPEvidence.Name || rt.Name == httpapi.ConfirmChainEvidence.Name {
					ev = mustUpload(t, deps, bucket, rt, ev)
				}
				counter.Reset()
				invocation := fmt.Sprintf("c0ffee00-%04x-4e5f-8a9b-0123456789ab", len(rt.Name))
				ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: invocation})
				resp, err := handler(ctx, ev)
				if err != nil {
					t.Fatalf("handler error = %v", err)
				}
				if want := rt.Success; resp.StatusCode != want {
					t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, want, resp.Body)
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

// mustUpload does what the actor's client does before a confirm: asks for
// the form of the event's kind, uploads an image with it, and returns the
// event with that form's key (a key carries a MAC of its own, so the
// sample's is only its shape).
func mustUpload(t *testing.T, deps app.Deps, bucket *s3evidence.Bucket, rt httpapi.Route, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var body struct {
		Kind identification.EvidenceKind `json:"kind"`
	}
	if err := json.Unmarshal([]byte(ev.Body), &body); err != nil {
		t.Fatal(err)
	}
	ref := identification.Ref{Org: ev.PathParameters["org_id"], Type: routeType(rt), ID: ev.PathParameters["admin_identification_id"] + ev.PathParameters["identification_chain_id"]}
	by := identification.Caller{Kind: identification.CallerActor, Device: &identification.Device{InstallationID: ev.Headers["x-installation_id"], Fingerprint: ev.Headers["x-fingerprint"]}}
	ups, err := deps.Service.RequestUploads(t.Context(), ref, identification.UploadRequest{Files: []identification.UploadFile{{Kind: body.Kind, ContentType: "image/png"}}}, by)
	if err != nil {
		t.Fatalf("request the upload form: %v", err)
	}
	if status, answer := s3local.Upload(t, ups[0].Form.URL, ups[0].Form.Fields, "front.png", "image/png", s3local.PNG(t)); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, answer)
	}
	out := ev
	out.Body = fmt.Sprintf(`{"kind":%q,"key":%q}`, body.Kind, ups[0].Key)
	return out
}
