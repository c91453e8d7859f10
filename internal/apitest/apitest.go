// Package apitest runs the whole handler tree in-process against a real
// local DynamoDB engine, for the HTTP suites: a fresh table per test, a
// controllable clock, tokens for any org and scope, captured logs, and one
// place every exchange goes through (so every exchange can be checked).
package apitest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/openapitest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/webhooks"
)

// Start is the time every Env's clock starts at.
var Start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Checker inspects every exchange; a non-nil error fails the test.
type Checker func(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error

// Checkers run on every exchange of every Env: by default the conformance
// check against the OpenAPI document, so every request and response of the
// HTTP suites is held to it.
var Checkers = []Checker{openapitest.Check}

// Env is one handler tree on one engine with its own table.
type Env struct {
	Engine  enginetest.Engine
	Client  *dynamodb.Client
	Table   string
	Counter *enginetest.CallCounter
	Store   *dynamostore.Store
	Service *identification.Service
	// SettingsCache is the cache the service and the processor read
	// organisations' settings through (Forget makes the next read go to
	// the table).
	SettingsCache *settings.Cache
	// Webhooks is the webhook routes' service; Queue the in-process queue
	// its test events and replays go to.
	Webhooks *webhooks.Service
	Queue    *memqueue.Queue
	// Settings is the settings routes' service, on SettingsStore.
	Settings      *settings.Service
	SettingsStore settings.Store
	Clock         *Clock
	Verifier      *auth.Verifier
	Handler       http.Handler
	// Bucket is the evidence bucket.
	Bucket *s3evidence.Bucket
	Logs   *SyncBuffer
	// AllowInternalErrors stops Do from failing the test on a 500, for
	// tests that provoke one on purpose.
	AllowInternalErrors bool
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Options vary an Env for hostile-condition tests.
type Options struct {
	// ClientOptions configure the client the handler tree uses (fault
	// injection, say: see Faults). The table is created with a clean one.
	ClientOptions []func(*dynamodb.Options)
	// WrapStore, when set, wraps the store the service uses (a failing
	// store, say). Env.Store stays the plain DynamoDB store.
	WrapStore func(identification.Store) identification.Store
	// S3Endpoint is the S3 engine of the evidence bucket (a moto_server
	// from mototest.Start); a bucket of the Env's own is created on it.
	// Empty, the evidence routes are served but their bucket cannot be
	// reached.
	S3Endpoint string
	// S3HTTPClient, when set, is the client the evidence bucket makes its
	// requests with (a recording one, say).
	S3HTTPClient *http.Client
	// Start is the clock's first time (zero: Start). Evidence tests start
	// at the real time: S3 engines stamp objects with it.
	Start time.Time
	// WrapQueue, when set, wraps the webhook queue the webhooks service
	// sends to (a recording one, say). Env.Queue stays the plain one.
	WrapQueue func(webhooks.Queue) webhooks.Queue
	// Resolver, when set, looks up the hosts of webhook URLs (the
	// registration's check) instead of the system's resolver.
	Resolver egress.Resolver
}

// New builds an Env on engine e.
func New(t testing.TB, e enginetest.Engine) *Env {
	t.Helper()
	return NewWithOptions(t, e, Options{})
}

// NewWithOptions builds an Env on engine e varied by o. Like every Env,
// its logs are checked for the PII sent through Do when the test ends.
func NewWithOptions(t testing.TB, e enginetest.Engine, o Options) *Env {
	t.Helper()
	client, table, counter := enginetest.NewTable(t, e)
	if len(o.ClientOptions) > 0 {
		client, counter = enginetest.NewClientWithCounter(e, o.ClientOptions...)
	}
	env := &Env{
		Engine:   e,
		Client:   client,
		Table:    table,
		Counter:  counter,
		Clock:    NewClock(cmp.Or(o.Start, Start)),
		Logs:     &SyncBuffer{},
		Verifier: &auth.Verifier{Secret: []byte("apitest-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience},
	}
	cfg := app.Config{TableName: table, Region: "us-east-1", DocsURL: httpapi.DefaultDocsURL, Shards: dynamostore.DefaultShards, Retention: dynamostore.DefaultRetention}
	env.Bucket = evidenceBucket(t, o.S3Endpoint, o.S3HTTPClient)
	evidence := identification.WithEvidence(s3evidence.Objects{Bucket: env.Bucket})
	logger := app.NewLogger(env.Logs, slog.LevelDebug)
	sendGuard := app.SendGuard(cfg, app.NewStore(cfg, client), numbers.Numbers{}, logger)
	deps := app.NewDeps(cfg, client, logger, identification.WithClock(env.Clock.Now), identification.WithCodeKeys(fixture.CodeKeys()), evidence, sendGuard)
	env.Store = deps.Store.(*dynamostore.Store)
	env.SettingsCache = deps.SettingsCache
	if o.WrapStore != nil {
		deps.Store = o.WrapStore(deps.Store)
		deps.Service = identification.NewService(deps.Store, identification.WithClock(env.Clock.Now), identification.WithCodeKeys(fixture.CodeKeys()), evidence,
			identification.WithPolicies(deps.SettingsCache), sendGuard)
	}
	env.Service = deps.Service
	// Webhooks: test events and replays queue in process, on the test's
	// clock; a test delivers them with env.Queue and a webhooks.Sender.
	env.Queue = memqueue.New(env.Clock.Now)
	var queue webhooks.Queue = env.Queue
	if o.WrapQueue != nil {
		queue = o.WrapQueue(queue)
	}
	deps = deps.WithWebhooks(fixture.CodeKeys(), egress.New(egress.Options{AllowLoopback: true, Resolver: o.Resolver}), queue)
	env.Webhooks = deps.Webhooks
	env.SettingsStore = env.Store
	deps = deps.WithSettings(env.SettingsStore, env.Store, env.Clock.Now)
	env.Settings = deps.Settings
	h, err := deps.DevHandler(env.Verifier)
	if err != nil {
		t.Fatalf("apitest: handler: %v", err)
	}
	env.Handler = h
	pii.addLogs(env.Logs)
	t.Cleanup(func() {
		if err := pii.check(env.Logs); err != nil {
			t.Errorf("apitest: %v", err)
		}
		// Before the table goes (its cleanup was registered first).
		if err := checkErased(e, table); err != nil {
			t.Errorf("apitest: %v", err)
		}
	})
	return env
}

func evidenceBucket(t testing.TB, endpoint string, client *http.Client) *s3evidence.Bucket {
	t.Helper()
	if endpoint == "" {
		return fixture.UnreachableBucket()
	}
	return s3local.NewBucketWithClient(t, endpoint, "us-east-1", client)
}

// Token mints a valid token for orgs (space-separated) with scopes.
func (env *Env) Token(t testing.TB, orgs string, scopes ...string) string {
	t.Helper()
	tok, err := env.Verifier.Mint("apitest", strings.Fields(orgs), scopes, time.Hour)
	if err != nil {
		t.Fatalf("apitest: mint: %v", err)
	}
	return tok
}

// AdminToken is a token for org with the admin scope.
func (env *Env) AdminToken(t testing.TB, org string) string {
	return env.Token(t, org, auth.ScopeAdmin)
}

// Request describes one call.
type Request struct {
	Method string
	Path   string
	Body   string
	Token  string
	// Header is added as is; "User-Agent" defaults to "apitest/1.0" unless
	// NoUserAgent is set.
	Header      http.Header
	NoUserAgent bool
	// Context, when set, is the request's context (a deadline, say, as
	// Lambda's remaining time would give).
	Context context.Context
}

// Response is what the handler answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Errors decodes an ErrorsResponse body, failing the test if it is not one.
func (r *Response) Errors(t testing.TB) []httpapi.ErrorItem {
	t.Helper()
	var er httpapi.ErrorsResponse
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er); err != nil || len(er.Errors) == 0 {
		t.Fatalf("body is not an ErrorsResponse (status %d): %v: %s", r.Status, err, r.Body)
	}
	return er.Errors
}

// Identification decodes an identification body.
func (r *Response) Identification(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not JSON (status %d): %v: %s", r.Status, err, r.Body)
	}
	return m
}

// Do sends req through the handler tree and runs every Checker on the
// exchange.
func (env *Env) Do(t testing.TB, req Request) *Response {
	t.Helper()
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
	}
	hr := httptest.NewRequest(req.Method, req.Path, body)
	if req.Context != nil {
		hr = hr.WithContext(req.Context)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hr.Header.Add(k, v)
		}
	}
	if req.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.Token)
	}
	NotePII(actorValues([]byte(req.Body))...)
	NotePII(secretValues([]byte(req.Body), req.Header)...)
	if req.NoUserAgent {
		hr.Header.Del("User-Agent")
	} else if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "apitest/1.0")
	}
	checkReq := hr.Clone(hr.Context())
	rec := httptest.NewRecorder()
	env.Handler.ServeHTTP(rec, hr)
	resp := &Response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	NoteCode(codeIn(resp.Body))
	if resp.Status >= 500 && resp.Status != http.StatusServiceUnavailable && !(env.AllowInternalErrors && resp.Status == http.StatusInternalServerError) {
		t.Errorf("%s %s: status %d: %s", req.Method, req.Path, resp.Status, resp.Body)
	}
	for _, check := range Checkers {
		if err := check(checkReq, []byte(req.Body), resp.Status, resp.Header, resp.Body); err != nil {
			t.Errorf("%s %s (status %d) breaks the API description: %v", req.Method, req.Path, resp.Status, err)
		}
	}
	return resp
}

// Seed stores i directly through the store (for statuses the admin API
// cannot reach, such as IN_PROGRESS and COMPLETED).
func (env *Env) Seed(t testing.TB, i *identification.Identification) {
	t.Helper()
	if err := env.Store.Create(t.Context(), i, nil); err != nil {
		t.Fatalf("apitest: seed %s: %v", i.ID, err)
	}
}
