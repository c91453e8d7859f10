package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/idadmin/api/internal/fixture"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// offlineDeps are Deps whose client points at a closed port: enough for
// requests that never reach the store.
func offlineDeps(t *testing.T, logs *bytes.Buffer) Deps {
	t.Helper()
	cfg := Config{TableName: "t", Region: "us-east-1", Endpoint: "http://127.0.0.1:1"}
	return NewDeps(cfg, NewDynamoDB(cfg), NewLambdaLogger(logs, slog.LevelInfo), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence())
}

func TestNewLambdaHandlerUnknownRoute(t *testing.T) {
	if _, err := NewLambdaHandler("expire-otp", offlineDeps(t, &bytes.Buffer{})); err == nil {
		t.Errorf("NewLambdaHandler(%q) error = nil, want an unknown-route error", "expire-otp")
	}
}

func TestWithoutStage(t *testing.T) {
	tests := []struct {
		path, stage, want string
	}{
		{"/v1/orgs/acme", "$default", "/v1/orgs/acme"},
		{"/v1/orgs/acme", "", "/v1/orgs/acme"},
		{"/dev/v1/orgs/acme", "dev", "/v1/orgs/acme"},
		{"/dev", "dev", "/"},
		{"/development/v1", "dev", "/development/v1"},
		{"/v1/dev/x", "dev", "/v1/dev/x"},
	}
	for _, tt := range tests {
		if got := withoutStage(tt.path, tt.stage); got != tt.want {
			t.Errorf("withoutStage(%q, %q) = %q, want %q", tt.path, tt.stage, got, tt.want)
		}
	}
}

// TestNewLambdaHandlerRoutesOnEveryStage sends an event without authorizer
// context: 401 proves the request reached the route (the caller is checked
// before the store is used), 404 that it did not.
func TestNewLambdaHandlerRoutesOnEveryStage(t *testing.T) {
	var logs bytes.Buffer
	h, err := NewLambdaHandler("get-otp", offlineDeps(t, &logs))
	if err != nil {
		t.Fatalf("NewLambdaHandler error = %v", err)
	}
	const path = "/v1/orgs/acme/identifications/otp/0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81"
	tests := []struct {
		name, stage, rawPath string
		want                 int
	}{
		{"default stage", "$default", path, http.StatusUnauthorized},
		{"named stage", "prod", "/prod" + path, http.StatusUnauthorized},
		{"path of another stage", "prod", "/dev" + path, http.StatusNotFound},
		{"another route", "prod", "/prod/v1/orgs/acme/identifications/chain", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := events.APIGatewayV2HTTPRequest{
				Version:  "2.0",
				RawPath:  tt.rawPath,
				Headers:  map[string]string{"user-agent": "test"},
				RouteKey: "GET /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}",
				RequestContext: events.APIGatewayV2HTTPRequestContext{
					Stage:     tt.stage,
					RequestID: "req-1",
					HTTP:      events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: http.MethodGet, Path: tt.rawPath},
				},
			}
			resp, err := h(context.Background(), ev)
			if err != nil {
				t.Fatalf("handler error = %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d; body %s", resp.StatusCode, tt.want, resp.Body)
			}
		})
	}
}

func TestNewLambdaLoggerAddsTheInvocationID(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLambdaLogger(&buf, slog.LevelInfo).With(slog.String("request_id", "api-1"))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "inv-1"})
	logger.InfoContext(ctx, "inside")
	logger.InfoContext(context.Background(), "outside")
	logger.DebugContext(ctx, "filtered")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2:\n%s", len(lines), buf.String())
	}
	tests := []struct {
		line        string
		wantMsg     string
		wantAWSID   any
		wantRequest any
	}{
		{lines[0], "inside", "inv-1", "api-1"},
		{lines[1], "outside", nil, "api-1"},
	}
	for _, tt := range tests {
		var rec map[string]any
		if err := json.Unmarshal([]byte(tt.line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", tt.line)
		}
		if rec["msg"] != tt.wantMsg || rec["aws_request_id"] != tt.wantAWSID || rec["request_id"] != tt.wantRequest {
			t.Errorf("log line %s: want msg %q, aws_request_id %v, request_id %v", tt.line, tt.wantMsg, tt.wantAWSID, tt.wantRequest)
		}
	}
}

func TestLambdaFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"outside Lambda", map[string]string{RuntimeAPIEnv: "", "TABLE_NAME": "t", "AWS_REGION": "eu-west-1"}, RuntimeAPIEnv + " is not set"},
		{"no table", map[string]string{RuntimeAPIEnv: "127.0.0.1:9001", "TABLE_NAME": "", "AWS_REGION": "eu-west-1"}, "TABLE_NAME is required"},
		{"bad log level", map[string]string{RuntimeAPIEnv: "127.0.0.1:9001", "TABLE_NAME": "t", "AWS_REGION": "eu-west-1", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"ready", map[string]string{RuntimeAPIEnv: "127.0.0.1:9001", "TABLE_NAME": "t", "AWS_REGION": "eu-west-1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"LOG_LEVEL", "RETENTION_DAYS", "OPEN_INDEX_SHARDS", "DYNAMODB_ENDPOINT", "AWS_DEFAULT_REGION"} {
				t.Setenv(name, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			h, err := lambdaFromEnv(httpapi.GetOTP, &bytes.Buffer{})
			if tt.wantErr == "" {
				if err != nil || h == nil {
					t.Errorf("lambdaFromEnv = %v, %v; want a handler", h != nil, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("lambdaFromEnv error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// lambdaChildEnv makes this test binary run Lambda instead of the tests.
const lambdaChildEnv = "APP_TEST_RUN_LAMBDA"

// TestLambdaOutsideLambda runs Lambda in a child process started without
// AWS_LAMBDA_RUNTIME_API, as someone running a bootstrap by hand would: it
// must stop at once, say why on stderr and exit non-zero.
func TestLambdaOutsideLambda(t *testing.T) {
	if os.Getenv(lambdaChildEnv) == "1" {
		Lambda(httpapi.GetOTP)
		return // not reached: Lambda exits
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLambdaOutsideLambda$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, RuntimeAPIEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, lambdaChildEnv+"=1", "TABLE_NAME=t", "AWS_REGION=eu-west-1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)

	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("Lambda outside Lambda: %v after %v, want a non-zero exit status; stderr %q", err, elapsed, stderr.String())
	}
	if elapsed >= 5*time.Second {
		t.Errorf("Lambda took %v to give up, want well under 5s", elapsed)
	}
	if msg := stderr.String(); !strings.Contains(msg, RuntimeAPIEnv+" is not set") || !strings.Contains(msg, "not running in AWS Lambda") {
		t.Errorf("stderr = %q, want it to say %s is not set, so it is not running in AWS Lambda", msg, RuntimeAPIEnv)
	}
}

// memDeps are Deps on the in-memory store, logging to logs: enough to serve
// every route through NewLambdaHandler without an engine.
func memDeps(logs *bytes.Buffer) (Deps, *memstore.Store) {
	store := memstore.New()
	return Deps{
		Store:   store,
		Service: identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys())),
		Logger:  NewLambdaLogger(logs, slog.LevelInfo),
	}, store
}

// hardeningCreateBody is the body of events/create-otp.json.
const hardeningCreateBody = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`

// stageEvent is the event API Gateway sends for method and path (the
// route's path, without a stage) on stage, behind the JWT authorizer with
// claims and the authorizer's scopes list.
func stageEvent(method, routeKey, stage, path, query, body string, claims map[string]string, scopes []string) events.APIGatewayV2HTTPRequest {
	raw := path
	if stage != "$default" {
		raw = "/" + stage + path
	}
	return events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       routeKey,
		RawPath:        raw,
		RawQueryString: query,
		Headers:        map[string]string{"content-type": "application/json", "user-agent": "acme-backoffice/2.4.1", "x-request-id": "client-chosen-id"},
		Body:           body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   routeKey,
			Stage:      stage,
			RequestID:  "Qx1cFgYuoAMEVbw=",
			DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: raw},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims, Scopes: scopes},
			},
		},
	}
}

func adminClaims(scope string) map[string]string {
	return map[string]string{"sub": "5f0c3a8e-2d41-4b7a-9c15-7e2a9d4b6f01", "org_id": "acme", "scope": scope}
}

// TestLocationWorksOnTheStageOfTheRequest creates an OTP through the
// create-otp function on a named stage and on $default: Location must be
// the new identification's path on that stage (the stage the handler
// removed before routing put back), and following it through the get-otp
// function on the same stage must read the identification back.
func TestLocationWorksOnTheStageOfTheRequest(t *testing.T) {
	const otp = "/v1/orgs/acme/identifications/otp"
	for _, stage := range []string{"dev", "$default"} {
		t.Run(stage, func(t *testing.T) {
			var logs bytes.Buffer
			deps, _ := memDeps(&logs)
			create, err := NewLambdaHandler("create-otp", deps)
			if err != nil {
				t.Fatal(err)
			}
			get, err := NewLambdaHandler("get-otp", deps)
			if err != nil {
				t.Fatal(err)
			}
			ev := stageEvent(http.MethodPost, "POST "+otp, stage, otp, "", hardeningCreateBody, adminClaims(auth.ScopeAdmin), []string{auth.ScopeAdmin})
			resp, err := create(t.Context(), ev)
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d %v: %s", resp.StatusCode, err, resp.Body)
			}
			var created struct{ ID string }
			if err := json.Unmarshal([]byte(resp.Body), &created); err != nil || created.ID == "" {
				t.Fatalf("create body %s: %v", resp.Body, err)
			}
			prefix := ""
			if stage != "$default" {
				prefix = "/" + stage
			}
			loc := resp.Headers["Location"]
			if want := prefix + otp + "/" + created.ID; loc != want {
				t.Errorf("Location = %q, want %q (the path on stage %s)", loc, want, stage)
			}

			// Follow it as a client would: API Gateway sends the path as
			// requested, stage included.
			follow := stageEvent(http.MethodGet, "GET "+otp+"/{admin_identification_id}", stage, "", "", "", adminClaims(auth.ScopeAdmin), []string{auth.ScopeAdmin})
			follow.RawPath, follow.RequestContext.HTTP.Path = loc, loc
			got, err := get(t.Context(), follow)
			if err != nil || got.StatusCode != http.StatusOK || !strings.Contains(got.Body, created.ID) {
				t.Errorf("GET Location %q: %d %v: %s; want 200 with the identification", loc, got.StatusCode, err, got.Body)
			}
		})
	}
}

// TestForcedDeleteReadsScopesFromTheToken: API Gateway's scopes list may
// hold only the scope the route matched. A forced delete whose list names
// only identifications/admin, by a token whose scope claim holds both
// scopes, must succeed; a list naming the force-delete scope must not
// grant it to a token whose claim lacks it.
func TestForcedDeleteReadsScopesFromTheToken(t *testing.T) {
	const id = "0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81"
	const path = "/v1/orgs/acme/identifications/otp/" + id
	tests := []struct {
		name   string
		claim  string
		scopes []string
		want   int
	}{
		{"claim holds both scopes, list only the route's", auth.ScopeAdmin + " " + auth.ScopeForceDelete, []string{auth.ScopeAdmin}, http.StatusNoContent},
		{"claim holds only admin, list both", auth.ScopeAdmin, []string{auth.ScopeAdmin, auth.ScopeForceDelete}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			deps, store := memDeps(&logs)
			at := time.Now().UTC().Truncate(time.Second)
			// CANCELLED: only a forced delete may remove it.
			if err := store.Create(t.Context(), &identification.Identification{
				ID: id, OrgID: "acme", Type: identification.TypeOTP, Status: identification.StatusCancelled,
				CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour), Version: 1,
				Actor: identification.Actor{Name: "James"}, Channel: &identification.Channel{Type: "SMS", External: true},
			}, nil); err != nil {
				t.Fatal(err)
			}
			del, err := NewLambdaHandler("delete-otp", deps)
			if err != nil {
				t.Fatal(err)
			}
			ev := stageEvent(http.MethodDelete, "DELETE /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}", "dev", path, "force=true", "", adminClaims(tt.claim), tt.scopes)
			resp, err := del(t.Context(), ev)
			if err != nil || resp.StatusCode != tt.want {
				t.Fatalf("forced delete: %d %v: %s; want %d", resp.StatusCode, err, resp.Body, tt.want)
			}
			_, err = store.Get(t.Context(), identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: id})
			if deleted := err != nil; deleted != (tt.want == http.StatusNoContent) {
				t.Errorf("after %d the identification is deleted = %v", tt.want, deleted)
			}
		})
	}
}
