package functions_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// Names the template must use (the Makefile and the tests rely on them).
const (
	apiLogicalID  = "IdentificationsApi"
	codeURIPrefix = "functions/"
	tableARN      = samtemplate.TableLogicalID + ".Arn"
	testIssuer    = "https://issuer.test/realms/idadmin"
	testAudience  = "idadmin-test-client"
)

// function is an AWS::Serverless::Function of the template.
type function struct {
	LogicalID string
	// Name is the directory under functions/ (CodeUri), which is also the
	// route's Name in httpapi.Routes.
	Name string
	Fn   *serverless.Function
}

// repoRoot returns the directory holding go.mod and template.yaml.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot() error = %v", err)
	}
	return root
}

// mustTemplate parses template.yaml as the rest of the tooling does: Refs
// to resources resolve to logical ids, Refs to parameters to their defaults.
func mustTemplate(t *testing.T) *cloudformation.Template {
	t.Helper()
	tmpl, err := samtemplate.Template(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatalf("samtemplate.Template error = %v", err)
	}
	return tmpl
}

// mustWiredTemplate parses template.yaml with the parameters without
// default set to test values and Fn::GetAtt resolved to "LogicalID.Attr"
// (samtemplate.Template leaves GetAtt unresolved, as nil), also inside
// Fn::Sub (`!Sub ${T.Arn}/index/i` reads "T.Arn/index/i"), so that tests can
// see what the authorizer and the policies are wired to.
func mustWiredTemplate(t *testing.T) *cloudformation.Template {
	t.Helper()
	path := filepath.Join(repoRoot(t), "template.yaml")
	tmpl, err := samtemplate.Open(path, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Fn::GetAtt": getAttName,
			"Ref":        refName,
			"Fn::Sub":    samtemplate.SubHandler(intrinsics.Ref, getAttName),
		},
		ParameterOverrides: map[string]any{
			"JwtIssuer":   testIssuer,
			"JwtAudience": []any{testAudience},
		},
	})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return tmpl
}

// refName resolves a Ref to a parameter to its value and a Ref to a
// resource to its logical id (goformation resolves the latter to nothing).
func refName(name string, input, tmpl any) any {
	if v := intrinsics.Ref(name, input, tmpl); v != nil {
		return v
	}
	return input
}

// getAttName resolves Fn::GetAtt to "LogicalID.Attribute".
func getAttName(_ string, input, _ any) any {
	switch v := input.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, p := range v {
			s, ok := p.(string)
			if !ok {
				return nil
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ".")
	}
	return nil
}

// mustFunctions returns the template's functions, sorted by logical id.
func mustFunctions(t *testing.T, tmpl *cloudformation.Template) []function {
	t.Helper()
	var out []function
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		if fn.CodeUri == nil || fn.CodeUri.String == nil {
			t.Errorf("function %s: CodeUri is not a path", id)
			continue
		}
		uri := filepath.ToSlash(filepath.Clean(*fn.CodeUri.String))
		name, ok := strings.CutPrefix(uri, codeURIPrefix)
		if !ok || name == "" || strings.Contains(name, "/") {
			t.Errorf("function %s: CodeUri = %q, want %s<name>", id, uri, codeURIPrefix)
			continue
		}
		out = append(out, function{LogicalID: id, Name: name, Fn: fn})
	}
	slices.SortFunc(out, func(a, b function) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	if len(out) == 0 {
		t.Fatalf("template has no functions")
	}
	return out
}

// httpAPIEvents returns fn's HttpApi events by name. goformation also fills
// ApiEvent for them, so the event's Type decides.
func httpAPIEvents(fn *serverless.Function) map[string]*serverless.Function_HttpApiEvent {
	out := map[string]*serverless.Function_HttpApiEvent{}
	for name, ev := range fn.Events {
		if ev.Type == "HttpApi" && ev.Properties != nil && ev.Properties.HttpApiEvent != nil {
			out[name] = ev.Properties.HttpApiEvent
		}
	}
	return out
}

// routesByName returns httpapi.Routes keyed by Name.
func routesByName() map[string]httpapi.Route {
	out := map[string]httpapi.Route{}
	for _, rt := range httpapi.Routes() {
		out[rt.Name] = rt
	}
	return out
}

// pascal turns a function name into the logical-id stem: "create-otp" is
// "CreateOtp".
func pascal(name string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(name, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func TestTemplateFunctionsAreTheRouteTable(t *testing.T) {
	root := repoRoot(t)
	tmpl := mustTemplate(t)
	fns := mustFunctions(t, tmpl)
	routes := routesByName()

	type endpoint struct{ method, path string }
	var gotEndpoints, wantEndpoints []endpoint
	for _, rt := range httpapi.Routes() {
		wantEndpoints = append(wantEndpoints, endpoint{rt.Method, rt.Path})
	}
	byName := map[string]function{}
	for _, f := range fns {
		if prev, dup := byName[f.Name]; dup {
			t.Errorf("functions %s and %s share CodeUri %s%s", prev.LogicalID, f.LogicalID, codeURIPrefix, f.Name)
		}
		byName[f.Name] = f

		if want := pascal(f.Name) + "Function"; f.LogicalID != want {
			t.Errorf("function with CodeUri %s%s has logical id %s, want %s (make invoke derives it from the name)",
				codeURIPrefix, f.Name, f.LogicalID, want)
		}
		pkg, err := build.ImportDir(filepath.Join(root, "functions", f.Name), 0)
		if err != nil {
			t.Errorf("function %s: CodeUri %s%s: %v", f.LogicalID, codeURIPrefix, f.Name, err)
		} else if pkg.Name != "main" {
			t.Errorf("function %s: CodeUri %s%s is package %s, want main", f.LogicalID, codeURIPrefix, f.Name, pkg.Name)
		}
		if got, want := f.Fn.AWSCloudFormationMetadata["BuildMethod"], any("go1.x"); got != want {
			t.Errorf("function %s: Metadata.BuildMethod = %v, want %v", f.LogicalID, got, want)
		}
		if f.Fn.Runtime != nil || f.Fn.Handler != nil || f.Fn.Architectures != nil {
			t.Errorf("function %s overrides Runtime, Handler or Architectures of Globals", f.LogicalID)
		}

		evs := httpAPIEvents(f.Fn)
		rt, isRoute := routes[f.Name]
		if !isRoute {
			// A function that is no HTTP endpoint (the expiry sweep) has no route.
			if len(evs) > 0 {
				t.Errorf("function %s (%s) has HttpApi events but no route named %q in httpapi.Routes", f.LogicalID, f.Name, f.Name)
			}
			continue
		}
		if len(f.Fn.Events) != 1 || len(evs) != 1 {
			t.Errorf("function %s has %d events, %d of them HttpApi; want exactly one HttpApi event", f.LogicalID, len(f.Fn.Events), len(evs))
		}
		for evName, ev := range evs {
			got := endpoint{deref(ev.Method), deref(ev.Path)}
			gotEndpoints = append(gotEndpoints, got)
			if want := (endpoint{rt.Method, rt.Path}); got != want {
				t.Errorf("function %s event %s = %s %s, want %s %s (route %s)", f.LogicalID, evName, got.method, got.path, want.method, want.path, rt.Name)
			}
			if got := deref(ev.ApiId); got != apiLogicalID {
				t.Errorf("function %s event %s: ApiId = %q, want %q", f.LogicalID, evName, got, apiLogicalID)
			}
			if got := deref(ev.PayloadFormatVersion); got != "2.0" {
				t.Errorf("function %s event %s: PayloadFormatVersion = %q, want \"2.0\" (the proxy adapter reads format 2.0)", f.LogicalID, evName, got)
			}
		}
	}

	for _, rt := range httpapi.Routes() {
		if _, ok := byName[rt.Name]; !ok {
			t.Errorf("route %s (%s %s) has no function with CodeUri %s%s", rt.Name, rt.Method, rt.Path, codeURIPrefix, rt.Name)
		}
	}
	sortEndpoints := func(es []endpoint) {
		slices.SortFunc(es, func(a, b endpoint) int { return strings.Compare(a.method+" "+a.path, b.method+" "+b.path) })
	}
	sortEndpoints(gotEndpoints)
	sortEndpoints(wantEndpoints)
	if !slices.Equal(gotEndpoints, wantEndpoints) {
		t.Errorf("HttpApi events (method, path) =\n%v\nwant httpapi.Routes() =\n%v", gotEndpoints, wantEndpoints)
	}

	// Every function directory is deployed.
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatalf("read functions/: %v", err)
	}
	for _, d := range dirs {
		if d.IsDir() {
			if _, ok := byName[d.Name()]; !ok {
				t.Errorf("functions/%s is not a function of template.yaml", d.Name())
			}
		}
	}
}

func TestTemplateRoutesAreBehindTheJWTAuthorizer(t *testing.T) {
	tmpl := mustWiredTemplate(t)
	apis := tmpl.GetAllServerlessHttpApiResources()
	api, ok := apis[apiLogicalID]
	if !ok || len(apis) != 1 {
		t.Fatalf("template has HTTP APIs %v, want exactly %s", keys(apis), apiLogicalID)
	}
	if api.Auth == nil || deref(api.Auth.DefaultAuthorizer) == "" {
		t.Fatalf("%s has no Auth.DefaultAuthorizer", apiLogicalID)
	}
	defaultAuthorizer := *api.Auth.DefaultAuthorizer
	authorizers, _ := api.Auth.Authorizers.(map[string]any)
	authorizer, _ := authorizers[defaultAuthorizer].(map[string]any)
	if authorizer == nil {
		t.Fatalf("%s: default authorizer %q is not among Auth.Authorizers %v", apiLogicalID, defaultAuthorizer, keys(authorizers))
	}
	if got, want := authorizer["IdentitySource"], any("$request.header.Authorization"); got != want {
		t.Errorf("authorizer %s: IdentitySource = %v, want %v", defaultAuthorizer, got, want)
	}
	jwt, _ := authorizer["JwtConfiguration"].(map[string]any)
	if jwt == nil {
		t.Fatalf("authorizer %s is not a JWT authorizer (no JwtConfiguration)", defaultAuthorizer)
	}
	if got := jwt["issuer"]; got != testIssuer {
		t.Errorf("authorizer %s: issuer = %v, want the JwtIssuer parameter (%s)", defaultAuthorizer, got, testIssuer)
	}
	if got, _ := jwt["audience"].([]any); !slices.Equal(got, []any{testAudience}) {
		t.Errorf("authorizer %s: audience = %v, want the JwtAudience parameter ([%s])", defaultAuthorizer, jwt["audience"], testAudience)
	}

	routes := routesByName()
	for _, f := range mustFunctions(t, tmpl) {
		rt, ok := routes[f.Name]
		if !ok {
			continue
		}
		for evName, ev := range httpAPIEvents(f.Fn) {
			if ev.Auth == nil {
				t.Errorf("function %s event %s has no Auth, so no scopes are required", f.LogicalID, evName)
				continue
			}
			if a := deref(ev.Auth.Authorizer); a != "" && a != defaultAuthorizer {
				t.Errorf("function %s event %s: Authorizer = %q, want the default %q", f.LogicalID, evName, a, defaultAuthorizer)
			}
			got := slices.Sorted(slices.Values(ev.Auth.AuthorizationScopes))
			want := slices.Sorted(slices.Values(rt.Scopes))
			if !slices.Equal(got, want) {
				t.Errorf("function %s event %s: AuthorizationScopes = %v, want route %s's scopes %v", f.LogicalID, evName, got, rt.Name, want)
			}
		}
	}
}

// codeKeySecret is the logical id of the code key secret.
const codeKeySecret = "CodeKeySecret"

// webhookQueue is the logical id of the SQS FIFO queue of webhook
// deliveries.
const webhookQueue = "WebhookQueue"

// evidenceObjects is the evidence bucket's objects under orgs/ as
// mustWiredTemplate reads `!Sub ${EvidenceBucket.Arn}/orgs/*`: the one
// resource S3 actions may be granted on (never the bucket itself).
const evidenceObjects = "EvidenceBucket.Arn/orgs/*"

// TestTemplatePoliciesAreLeastPrivilege holds every function's policy to
// the rules no derivation needs: inline statements only, no wildcard
// action, nothing granted on every resource. What a route's function is
// granted is derived from what its route does and held to exactly that by
// TestTemplatePoliciesGrantWhatRoutesCall (iam_test.go).
func TestTemplatePoliciesAreLeastPrivilege(t *testing.T) {
	tmpl := mustWiredTemplate(t)
	for _, f := range mustFunctions(t, tmpl) {
		t.Run(f.Name, func(t *testing.T) {
			granted, _ := mustPolicy(t, f)
			for _, a := range granted {
				if strings.ContainsAny(a, "*?") {
					t.Errorf("function %s grants wildcard action %q", f.LogicalID, a)
				}
			}
			for _, g := range mustGrants(t, f) {
				// An SMS to a phone number has no resource ARN: the stream
				// function may publish on "*", topics excluded by a condition
				// (docs/delivery-and-events.md). Nothing else may.
				if strings.HasSuffix(g, " on *") && !(f.Name == app.StreamName && g == "sns:Publish on *") {
					t.Errorf("function %s grants %s: on every resource", f.LogicalID, g)
				}
			}
		})
	}
}

// mustGrants lists "action on resource" for every allowed pair of f's
// inline policy, sorted.
func mustGrants(t *testing.T, f function) []string {
	t.Helper()
	var out []string
	for _, doc := range *f.Fn.Policies.IAMPolicyDocumentArray {
		for _, raw := range doc.Statement {
			st, _ := raw.(map[string]any)
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range samtemplate.StringList(st["Action"]) {
				for _, r := range samtemplate.StringList(st["Resource"]) {
					out = append(out, a+" on "+r)
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// mustPolicy returns the sorted actions f's inline policy statements allow
// and the resources they allow them on. It fails the test for anything but
// inline statements (managed policies, SAM policy templates) and for
// NotAction and NotResource, which grant by exclusion.
func mustPolicy(t *testing.T, f function) (actions, resources []string) {
	t.Helper()
	p := f.Fn.Policies
	if p == nil || p.IAMPolicyDocumentArray == nil || len(*p.IAMPolicyDocumentArray) == 0 {
		t.Fatalf("function %s: Policies is not a list of inline policy documents", f.LogicalID)
	}
	// goformation decodes the list into every shape it might be: a name
	// where an entry is a string, "" where it is a document.
	if p.String != nil {
		t.Errorf("function %s: Policies names managed policy %s", f.LogicalID, *p.String)
	}
	if p.StringArray != nil {
		for _, name := range *p.StringArray {
			if name != "" {
				t.Errorf("function %s: Policies names managed policy %s", f.LogicalID, name)
			}
		}
	}
	if p.SAMPolicyTemplateArray != nil {
		for _, tpl := range *p.SAMPolicyTemplateArray {
			if !reflect.ValueOf(tpl).IsZero() {
				t.Errorf("function %s: Policies uses a SAM policy template", f.LogicalID)
			}
		}
	}
	for _, doc := range *p.IAMPolicyDocumentArray {
		if len(doc.Statement) == 0 {
			t.Errorf("function %s: a Policies entry has no Statement (a SAM policy template or managed policy?)", f.LogicalID)
		}
		for _, raw := range doc.Statement {
			st, _ := raw.(map[string]any)
			for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
				if _, ok := st[k]; ok {
					t.Errorf("function %s: statement uses %s", f.LogicalID, k)
				}
			}
			if st["Effect"] != "Allow" {
				continue
			}
			actions = append(actions, samtemplate.StringList(st["Action"])...)
			resources = append(resources, samtemplate.StringList(st["Resource"])...)
		}
	}
	slices.Sort(actions)
	slices.Sort(resources)
	return slices.Compact(actions), slices.Compact(resources)
}

// TestTemplateEnvironmentIsTheAppConfig proves the functions run with the
// table the tests create (enginetest and samtemplate build it from the same
// logical id) and that the template's environment, parameters at their
// defaults, is a configuration ConfigFromEnv accepts with the code's own
// defaults.
func TestTemplateEnvironmentIsTheAppConfig(t *testing.T) {
	tmpl := mustTemplate(t)
	global, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("Globals.Function: %v", err)
	}
	for _, c := range []struct{ field, got, want string }{
		{"Runtime", deref(global.Runtime), "provided.al2023"},
		{"Handler", deref(global.Handler), "bootstrap"},
		{"Tracing", deref(global.Tracing), "Active"},
	} {
		if c.got != c.want {
			t.Errorf("Globals.Function.%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if global.Architectures == nil || !slices.Equal(*global.Architectures, []string{"arm64"}) {
		t.Errorf("Globals.Function.Architectures = %v, want [arm64]", global.Architectures)
	}
	if global.Environment == nil {
		t.Fatalf("Globals.Function has no Environment")
	}
	env := global.Environment.Variables

	if samtemplate.TableLogicalID != enginetest.TableLogicalID {
		t.Errorf("samtemplate creates tables from %s, enginetest from %s", samtemplate.TableLogicalID, enginetest.TableLogicalID)
	}
	if got := env["TABLE_NAME"]; got != enginetest.TableLogicalID {
		t.Errorf("TABLE_NAME refs %q, want the table the tests create, %q", got, enginetest.TableLogicalID)
	}
	if _, ok := env["AWS_REGION"]; ok {
		t.Errorf("the environment sets AWS_REGION, a name Lambda reserves (and sets itself)")
	}
	routes := routesByName()
	for _, f := range mustFunctions(t, tmpl) {
		// The one variable a function sets itself is the code key secret's
		// ARN, on exactly the functions whose routes need code keys: the
		// others must not even know where the secret is.
		rt, isRoute := routes[f.Name]
		wantSecret := (isRoute && needsCodeKeys(rt)) || f.Name == app.StreamName || f.Name == app.SenderName
		var own map[string]string
		if f.Fn.Environment != nil {
			own = f.Fn.Environment.Variables
		}
		if _, ok := own[app.CodeKeySecretEnv]; ok != wantSecret {
			t.Errorf("function %s: %s set = %v, want %v (its route's needs)", f.LogicalID, app.CodeKeySecretEnv, ok, wantSecret)
		}
		// The evidence bucket, likewise, on exactly the functions whose
		// routes need it, and the stream's (a tombstone deletes images).
		wantBucket := (isRoute && slices.Contains(rt.Needs, httpapi.NeedEvidence)) || f.Name == app.StreamName
		if _, ok := own["EVIDENCE_BUCKET"]; ok != wantBucket {
			t.Errorf("function %s: EVIDENCE_BUCKET set = %v, want %v (its route's needs)", f.LogicalID, ok, wantBucket)
		}
		// The webhook queue, on the functions that build the webhooks
		// service (app.WithWebhooks needs it), the stream function, which
		// queues every event for the endpoints that want it, and the
		// sender, which the queue feeds: the queue itself (its Ref is its
		// URL).
		wantQueue := (isRoute && slices.Contains(rt.Needs, httpapi.NeedWebhooks)) || f.Name == app.StreamName || f.Name == app.SenderName
		if q, ok := own["WEBHOOK_QUEUE_URL"]; ok != wantQueue {
			t.Errorf("function %s: WEBHOOK_QUEUE_URL set = %v, want %v (its route's needs)", f.LogicalID, ok, wantQueue)
		} else if ok && q != webhookQueue {
			t.Errorf("function %s: WEBHOOK_QUEUE_URL refs %q, want %s", f.LogicalID, q, webhookQueue)
		}
		// The stream function's providers are its own: no other function
		// may know them.
		streamOnly := map[string]bool{"EVENT_BUS_NAME": true, "SENDER_EMAIL": true, "WHATSAPP_PHONE_NUMBER_ID": true, "WHATSAPP_TEMPLATE_NAME": true}
		for k := range own {
			if k != app.CodeKeySecretEnv && k != "EVIDENCE_BUCKET" && k != "WEBHOOK_QUEUE_URL" && !(f.Name == app.StreamName && streamOnly[k]) {
				t.Errorf("function %s sets its own %s; keep configuration in Globals so every function sees one", f.LogicalID, k)
			}
		}
	}

	// Lambda adds AWS_REGION; nothing else may leak in from the test's environment.
	for _, name := range []string{"TABLE_NAME", "ORG_CLAIM", "DOCS_URL", "RETENTION_DAYS", "OPEN_INDEX_SHARDS", "LOG_LEVEL", "CODE_TTL", "DYNAMODB_ENDPOINT", "AWS_DEFAULT_REGION",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", app.CodeKeySecretEnv, app.SecretsManagerEndpointEnv, "EVIDENCE_BUCKET", "S3_ENDPOINT",
		"EVENT_BUS_NAME", "SENDER_EMAIL", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_TEMPLATE_NAME", "WEBHOOK_QUEUE_URL", "AWS_ENDPOINT_URL_SQS", app.WebhookLoopbackEnv} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		t.Fatalf("ConfigFromEnv with the template's environment: %v", err)
	}
	want := app.Config{
		TableName: samtemplate.TableLogicalID,
		Region:    "eu-west-1",
		OrgClaim:  auth.DefaultOrgClaim,
		DocsURL:   httpapi.DefaultDocsURL,
		Retention: dynamostore.DefaultRetention,
		Shards:    dynamostore.DefaultShards,
		LogLevel:  slog.LevelInfo,
		CodeTTL:   identification.DefaultCodeTTL,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ConfigFromEnv with the template's environment =\n%+v\nwant the code's defaults\n%+v", cfg, want)
	}
}

// TestTemplateNeverAllowsLoopbackWebhooks: no function of the template,
// nor Globals, sets WEBHOOK_ALLOW_LOOPBACK, which lets webhooks go to
// loopback addresses over http (the dev server's and the tests' alone).
func TestTemplateNeverAllowsLoopbackWebhooks(t *testing.T) {
	tmpl := mustTemplate(t)
	global, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("Globals.Function: %v", err)
	}
	if global.Environment != nil {
		if _, ok := global.Environment.Variables[app.WebhookLoopbackEnv]; ok {
			t.Errorf("Globals.Function sets %s", app.WebhookLoopbackEnv)
		}
	}
	for _, f := range mustFunctions(t, tmpl) {
		if f.Fn.Environment == nil {
			continue
		}
		if _, ok := f.Fn.Environment.Variables[app.WebhookLoopbackEnv]; ok {
			t.Errorf("function %s sets %s", f.LogicalID, app.WebhookLoopbackEnv)
		}
	}
	// Nor anywhere else in the file (a Lambda::Function, a parameter).
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(src), app.WebhookLoopbackEnv) {
		t.Errorf("template.yaml mentions %s", app.WebhookLoopbackEnv)
	}
}

func TestTemplateTableTTL(t *testing.T) {
	name, enabled, err := samtemplate.TTLAttribute(filepath.Join(repoRoot(t), "template.yaml"), samtemplate.TableLogicalID)
	if err != nil {
		t.Fatalf("TTLAttribute error = %v", err)
	}
	// The events test checks that stored items carry this attribute.
	if name != "ttl" || !enabled {
		t.Errorf("table TTL = %q enabled %t, want \"ttl\" enabled (the attribute dynamostore writes)", name, enabled)
	}
}

func TestTemplateLogGroups(t *testing.T) {
	tmpl := mustTemplate(t)
	groups := tmpl.GetAllLogsLogGroupResources()
	for _, f := range mustFunctions(t, tmpl) {
		id := pascal(f.Name) + "LogGroup"
		g, ok := groups[id]
		if !ok {
			t.Errorf("function %s has no log group %s", f.LogicalID, id)
			continue
		}
		if got, want := deref(g.LogGroupName), "/aws/lambda/"+f.LogicalID; got != want {
			t.Errorf("log group %s is named %q, want %q (the function's own group)", id, got, want)
		}
		if g.RetentionInDays == nil {
			t.Errorf("log group %s keeps logs forever; set RetentionInDays", id)
		}
	}
	for id, g := range groups {
		if g.RetentionInDays == nil {
			t.Errorf("log group %s keeps logs forever; set RetentionInDays", id)
		}
	}
}

func TestTemplateOutputs(t *testing.T) {
	tmpl := mustTemplate(t)
	for _, name := range []string{"ApiUrl", "TableName"} {
		if _, ok := tmpl.Outputs[name]; !ok {
			t.Errorf("template has no output %s", name)
		}
	}
	if got := tmpl.Outputs["TableName"].Value; got != samtemplate.TableLogicalID {
		t.Errorf("output TableName = %v, want a Ref to %s", got, samtemplate.TableLogicalID)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func keys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}

// TestMainsWireExactlyWhatTheirRouteNeeds reads each function's main.go: it
// serves its own route's literal (so only that route is linked) and imports
// the code key loader exactly when its route needs code keys.
func TestMainsWireExactlyWhatTheirRouteNeeds(t *testing.T) {
	fset := token.NewFileSet()
	literals := routeLiterals(t)
	for _, rt := range httpapi.Routes() {
		path := filepath.Join(repoRoot(t), "functions", rt.Name, "main.go")
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", rt.Name, err)
		}
		imports := map[string]bool{}
		for _, imp := range f.Imports {
			imports[strings.Trim(imp.Path.Value, `"`)] = true
		}
		needs := needsCodeKeys(rt)
		if got := imports["github.com/idadmin/api/shared/codekey"]; got != needs {
			t.Errorf("%s: imports shared/codekey = %v, its route needs code keys = %v", rt.Name, got, needs)
		}
		// The webhook routes' service queues on SQS (WithWebhooks with
		// sqs.NewWebhookQueue); no other route links the SQS client.
		hooks := slices.Contains(rt.Needs, httpapi.NeedWebhooks)
		if got := imports["github.com/idadmin/api/shared/sqs"]; got != hooks {
			t.Errorf("%s: imports shared/sqs = %v, its route needs the webhooks service = %v", rt.Name, got, hooks)
		}
		evidence := slices.Contains(rt.Needs, httpapi.NeedEvidence)
		if got := imports["github.com/idadmin/api/shared/s3evidence"]; got != evidence {
			t.Errorf("%s: imports shared/s3evidence = %v, its route needs the evidence bucket = %v", rt.Name, got, evidence)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		literal := literals[rt.Name]
		if literal == "" || !strings.Contains(string(src), "app.Lambda(httpapi."+literal) {
			t.Errorf("%s: main does not serve httpapi.%s", rt.Name, literal)
		}
		for _, c := range []struct {
			option string
			want   bool
		}{
			{"app.WithCodeKeys(codekey.FromSecretsManager)", needs},
			{"app.WithEvidence(s3evidence.Open)", evidence},
			{"app.WithWebhooks(sqs.NewWebhookQueue)", hooks},
			{"app.WithSettings()", slices.Contains(rt.Needs, httpapi.NeedSettings)},
		} {
			if got := strings.Contains(string(src), c.option); got != c.want {
				t.Errorf("%s: main passes %s = %v, want %v (its route's needs)", rt.Name, c.option, got, c.want)
			}
		}
	}
}

// needsCodeKeys reports whether rt's function loads the code keys: its
// route issues or checks codes (NeedCodeKeys), or manages webhooks, whose
// secrets are sealed under a key derived from them (app.WithWebhooks needs
// app.WithCodeKeys before it).
func needsCodeKeys(rt httpapi.Route) bool {
	return slices.Contains(rt.Needs, httpapi.NeedCodeKeys) || slices.Contains(rt.Needs, httpapi.NeedWebhooks)
}

// routeLiterals reads shared/httpapi's source for its package-level
// Route literals and returns each one's identifier by the route's Name:
// "create-otp" is CreateOTP.
func routeLiterals(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	dir := filepath.Join(repoRoot(t), "shared", "httpapi")
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for n, v := range vs.Values {
					lit, ok := v.(*ast.CompositeLit)
					if !ok {
						continue
					}
					if typ, ok := lit.Type.(*ast.Ident); !ok || typ.Name != "Route" {
						continue
					}
					for _, elt := range lit.Elts {
						kv, ok := elt.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						if key, ok := kv.Key.(*ast.Ident); !ok || key.Name != "Name" {
							continue
						}
						if bl, ok := kv.Value.(*ast.BasicLit); ok && bl.Kind == token.STRING {
							name := strings.Trim(bl.Value, `"`)
							if prev, dup := out[name]; dup {
								t.Errorf("route %s is both httpapi.%s and httpapi.%s", name, prev, vs.Names[n].Name)
							}
							out[name] = vs.Names[n].Name
						}
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Route literals in %s", dir)
	}
	return out
}

// TestTemplateWebhookQueueKeepsWhatWaitsBehindARetry: a webhook message
// waits in its group (endpoint and process) until the one before it is
// delivered or given up, which takes up to webhooks.GiveUpAfter of
// retries, and is then retried for as long itself. SQS deletes a message
// MessageRetentionPeriod after it was sent, whatever its group: four days
// dropped the second event of a process whose first one the receiver
// refused for three days, unattempted past its first day of retries and
// left PENDING in the log. The queue keeps its messages as long as SQS
// allows (14 days), and at least two retry spans and a visibility timeout.
func TestTemplateWebhookQueueKeepsWhatWaitsBehindARetry(t *testing.T) {
	tmpl := mustTemplate(t)
	q, err := tmpl.GetSQSQueueWithName(webhookQueue)
	if err != nil {
		t.Fatalf("%s: %v", webhookQueue, err)
	}
	const sqsMax = 14 * 24 * 60 * 60
	if q.MessageRetentionPeriod == nil {
		t.Fatalf("%s keeps messages SQS's default of four days, want %d s", webhookQueue, sqsMax)
	}
	retention := time.Duration(*q.MessageRetentionPeriod) * time.Second
	visibility := time.Duration(deref(q.VisibilityTimeout)) * time.Second
	if *q.MessageRetentionPeriod != sqsMax || retention < 2*webhooks.GiveUpAfter+visibility {
		t.Errorf("%s keeps messages %s, want SQS's maximum, %d s (a message waiting behind a retried one gets its own %s of retries)",
			webhookQueue, retention, sqsMax, webhooks.GiveUpAfter)
	}
}
