package functions_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/webhooks"
)

// TestTemplatePoliciesGrantWhatRoutesCall derives what each route's
// function must be allowed from what its route is seen to do, and holds
// the function's policy in template.yaml to exactly that: every grant
// used, every use granted. On each engine it drives every route, with its
// example (internal/routefacts), through the whole handler tree on a
// recording DynamoDB client (enginetest.CallCounter) and a recording S3
// client, in every state of routeStates its type has, by each caller its
// scopes admit, with each of its example queries, and, for a route that
// takes an Idempotency-Key, once without one and once with a new one,
// then again with the same one (its replay). So the derived set is the
// union over the route's success, its refusals, its idempotent
// transaction and replay, the settlements a read or an attempt writes,
// and a delete's erasure of a create's key record. What a function needs
// is then:
//
//   - each DynamoDB action a call needed (enginetest.NeedsOf: a
//     transaction's item actions, a Query's on its index), on the table or
//     the index;
//   - each S3 action on the evidence bucket's objects a request the
//     function made needed, and each one the forms and links it handed out
//     allow: they are signed with the function's own credentials, so S3
//     honours them only if the function may do what they do (a POST form
//     puts an object; a link with a versionId gets that version);
//   - reading the code key secret when its route needs code keys (which
//     TestMainsWireExactlyWhatTheirRouteNeeds ties to its main), or
//     manages webhooks (their secrets are sealed under the code keys);
//   - sqs:SendMessage on the webhook queue when a request sent to it
//     (the webhooks service's queue, recorded: SQS authorises the
//     adapter's SendMessageBatch as sqs:SendMessage).
//
// On the way it holds each route's first success (no key, a state owing
// nothing) to routefacts.CheckSuccess.
func TestTemplatePoliciesGrantWhatRoutesCall(t *testing.T) {
	tmpl := mustWiredTemplate(t)
	fns := map[string]function{}
	for _, f := range mustFunctions(t, tmpl) {
		fns[f.Name] = f
	}
	s3Endpoint := mototest.Start(t)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		seen := driveRoutes(t, e, s3Endpoint)
		for _, rt := range httpapi.Routes() {
			f, ok := fns[rt.Name]
			if !ok {
				continue // TestTemplateFunctionsAreTheRouteTable reports it
			}
			o := seen[rt.Name]
			if o.success == nil {
				t.Errorf("%s: no scenario answered its success %d: is its example in internal/routefacts, or does it need a state routeStates lacks?\n%s",
					rt.Name, rt.Success, o.answers())
			}
			want := o.grants
			if needsCodeKeys(rt) {
				want["secretsmanager:GetSecretValue on "+codeKeySecret] = "its route needs code keys"
			}
			granted := mustGrants(t, f)
			t.Logf("%s: success %v; needs:", rt.Name, o.success)
			for _, g := range slices.Sorted(maps.Keys(want)) {
				t.Logf("  %s (%s)", g, want[g])
			}
			for _, g := range granted {
				if _, ok := want[g]; !ok {
					t.Errorf("function %s grants %s, which no scenario of route %s used: remove it, or drive the path that needs it\n%s",
						f.LogicalID, g, rt.Name, o.answers())
				}
			}
			for _, g := range slices.Sorted(maps.Keys(want)) {
				if !slices.Contains(granted, g) {
					t.Errorf("function %s lacks %s, which route %s needed (%s)", f.LogicalID, g, rt.Name, want[g])
				}
			}
		}
	})
}

// evidenceBucketARN is the evidence bucket as mustWiredTemplate reads it.
const evidenceBucketARN = "EvidenceBucket.Arn"

// webhookQueueARN is the webhook queue as mustWiredTemplate reads it.
const webhookQueueARN = "WebhookQueue.Arn"

// queueRecorder is the webhooks service's queue: it counts the sends and
// passes them on.
type queueRecorder struct {
	webhooks.Queue
	mu    sync.Mutex
	sends int
}

func (q *queueRecorder) Send(ctx context.Context, msgs []webhooks.Message) error {
	q.mu.Lock()
	q.sends++
	q.mu.Unlock()
	return q.Queue.Send(ctx, msgs)
}

// take returns the sends since the last take.
func (q *queueRecorder) take() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.sends
	q.sends = 0
	return n
}

// publicResolver resolves every host to one public address, so that a
// webhook URL's check passes without a lookup on the network.
type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
}

// observed is what driving one route showed.
type observed struct {
	// grants are the "action on resource" pairs used, each with the first
	// scenario that used it.
	grants map[string]string
	// success is the operations of the first success without a key on a
	// state owing nothing.
	success []string
	// tried lists each scenario's answer, for the failure messages.
	tried []string
}

func (o *observed) use(grant, scenario string) {
	if _, ok := o.grants[grant]; !ok {
		o.grants[grant] = scenario
	}
}

func (o *observed) answers() string {
	return "  " + strings.Join(o.tried, "\n  ")
}

// s3Recorder is the evidence bucket's HTTP client's transport: it records
// the method and URL of every request.
type s3Recorder struct {
	mu   sync.Mutex
	reqs []*url.URL
	meth []string
}

func (r *s3Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.URL)
	r.meth = append(r.meth, req.Method)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *s3Recorder) take() (methods []string, urls []*url.URL) {
	r.mu.Lock()
	defer r.mu.Unlock()
	methods, urls = r.meth, r.reqs
	r.meth, r.reqs = nil, nil
	return methods, urls
}

// s3Action is the IAM action S3 checks for a request of method on an
// object, versioned or not.
func s3Action(method string, u *url.URL) string {
	version := u.Query().Has("versionId")
	switch method {
	case http.MethodGet, http.MethodHead:
		if version {
			return "s3:GetObjectVersion"
		}
		return "s3:GetObject"
	case http.MethodPost, http.MethodPut:
		return "s3:PutObject"
	case http.MethodDelete:
		if version {
			return "s3:DeleteObjectVersion"
		}
		return "s3:DeleteObject"
	}
	return "s3:" + method
}

// s3Resource is the resource a request on key of the evidence bucket is
// granted on, as the template names it: the objects under orgs/.
func s3Resource(key string) string {
	if strings.HasPrefix(key, "orgs/") {
		return evidenceObjects
	}
	return evidenceBucketARN + "/" + key
}

// routeDriver drives the routes on one Env.
type routeDriver struct {
	t     *testing.T
	env   *apitest.Env
	s3    *s3Recorder
	queue *queueRecorder
	seen  map[string]*observed
}

// driveRoutes drives every route in every scenario on engine e, the
// evidence bucket on the S3 engine at s3Endpoint, and returns what each
// route was seen to do, by route name.
func driveRoutes(t *testing.T, e enginetest.Engine, s3Endpoint string) map[string]*observed {
	rec := &s3Recorder{}
	queue := &queueRecorder{}
	d := &routeDriver{t: t, s3: rec, queue: queue, seen: map[string]*observed{},
		// At the real time: the S3 engine stamps objects with it, and a
		// confirm compares that with its form's time.
		env: apitest.NewWithOptions(t, e, apitest.Options{S3Endpoint: s3Endpoint, S3HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second},
			Start: time.Now().UTC().Truncate(time.Second), Resolver: publicResolver{},
			WrapQueue: func(q webhooks.Queue) webhooks.Queue { queue.Queue = q; return queue }}),
	}
	for _, rt := range httpapi.Routes() {
		o := &observed{grants: map[string]string{}}
		d.seen[rt.Name] = o
		// Each route's function starts cold: it reads the organisation's
		// settings, where it does, as its first request in AWS would.
		d.env.SettingsCache.Forget()
		states := []*routeState{nil} // a create or a listing acts on no process
		switch {
		case rt.IDParam() != "":
			states = nil
			for n := range routeStates {
				if routeStates[n].typ == rt.Type() && routeStates[n].endpoint == nil {
					states = append(states, &routeStates[n])
				}
			}
		case namesEndpoint(rt):
			states = nil
			for n := range routeStates {
				if routeStates[n].endpoint != nil {
					states = append(states, &routeStates[n])
				}
			}
		}
		queries := routefacts.Of(rt.Name).Queries
		if len(queries) == 0 {
			queries = []string{""}
		}
		modes := []string{""}
		if rt.Idempotent {
			// A new key, then the same request with it again.
			modes = append(modes, "replay")
		}
		for _, st := range states {
			for _, scope := range rt.Scopes {
				for _, q := range queries {
					for _, mode := range modes {
						d.drive(rt, o, st, scope, q, mode)
					}
				}
			}
		}
	}
	// The routes that issue codes again, with the organisation's sending
	// guard counting every send (its budgets and limits: an UpdateItem of
	// each counter before the route's write), then refusing every send
	// (a country it does not allow: a guard event, PutItem, and no write
	// of the process).
	for _, g := range []struct {
		name  string
		guard settings.Guard
	}{
		{"the guard counting", settings.Guard{MaxSendsPerHour: 1000, MaxSendsPerDay: 10000, MaxSendsPerDestinationPerDay: 100, PrefixDigits: 6, PrefixMaxPerHour: 1000}},
		{"the guard refusing", settings.Guard{AllowedCountries: []string{"IS"}}},
	} {
		cur, err := d.env.Settings.Get(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.env.Settings.Put(t.Context(), "acme", settings.Settings{Guard: g.guard}, cur.Version, identification.Caller{Kind: identification.CallerAdmin, Sub: "iam"}); err != nil {
			t.Fatal(err)
		}
		for _, rt := range httpapi.Routes() {
			if rt.Method == http.MethodGet || !slices.Contains(rt.Needs, httpapi.NeedCodeKeys) {
				continue
			}
			d.env.SettingsCache.Forget()
			o := d.seen[rt.Name]
			states := []*routeState{nil}
			if rt.IDParam() != "" {
				states = nil
				for n := range routeStates {
					if routeStates[n].typ == rt.Type() && routeStates[n].endpoint == nil {
						states = append(states, &routeStates[n])
					}
				}
			}
			for _, st := range states {
				d.driveAs(rt, o, st, rt.Scopes[0], "", "", g.name)
			}
		}
	}
	return d.seen
}

// drive sends one request of rt (two in mode "replay": the first with a
// new key, then the same again) on a fresh process in state st (none for a
// route that names no process), as a caller holding scope, with query q,
// and records what each request did in o.
func (d *routeDriver) drive(rt httpapi.Route, o *observed, st *routeState, scope, q, mode string) {
	d.driveAs(rt, o, st, scope, q, mode, "")
}

// driveAs is drive, its scenario named with settings (the organisation's
// settings of the moment) when not "".
func (d *routeDriver) driveAs(rt httpapi.Route, o *observed, st *routeState, scope, q, mode, settings string) {
	t := d.t
	path := strings.ReplaceAll(rt.Path, "{org_id}", "acme")
	scenario := "as " + scope
	if settings != "" {
		scenario = settings + ", " + scenario
	}
	owed := false
	body := routefacts.Example(rt.Name)
	if settings != "" {
		// The guard checks only the codes the service delivers.
		body = strings.ReplaceAll(body, `"external":"true"`, `"external":false`)
	}
	switch {
	case st != nil && st.endpoint != nil:
		scenario = st.name + ", " + scenario
		w := newWebhookRef("acme")
		if err := st.endpoint(t.Context(), d.env.Store, w, d.env.Clock.Now()); err != nil {
			t.Fatalf("seed %s (%s): %v", w.endpoint, st.name, err)
		}
		path = strings.ReplaceAll(strings.ReplaceAll(path, "{webhook_id}", w.endpoint), "{delivery_id}", w.delivery)
	case st != nil:
		scenario = st.name + ", " + scenario
		owed = st.owed
		id := d.seed(rt, st)
		path = strings.ReplaceAll(path, "{"+rt.IDParam()+"}", id)
		body = d.withUpload(identification.Ref{Org: "acme", Type: rt.Type(), ID: id}, body)
	}
	if q != "" {
		path += "?" + q
		scenario += ", ?" + q
	}
	req := apitest.Request{Method: rt.Method, Path: path, Body: body, Token: d.env.Token(t, "acme", scope, auth.ScopeForceDelete), Header: http.Header{}}
	if rt.Device {
		req.Header.Set("x-installation_id", seedDevice.InstallationID)
		req.Header.Set("x-fingerprint", seedDevice.Fingerprint)
	}
	if mode != "" {
		scenario += ", with an Idempotency-Key"
		req.Header.Set("Idempotency-Key", uuid.NewString())
	}
	if rt.Method == http.MethodPut && slices.Contains(rt.Needs, httpapi.NeedSettings) {
		// A change of the settings is made from the version read.
		read := d.env.Do(t, apitest.Request{Method: http.MethodGet, Path: strings.ReplaceAll(rt.Path, "{org_id}", "acme"), Token: req.Token})
		req.Header.Set("If-Match", read.Header.Get("ETag"))
	}
	if mode == "replay" {
		d.send(rt, o, req, scenario+" (first)")
		scenario += " (replayed)"
	}
	resp, ops := d.send(rt, o, req, scenario)
	if resp.Status == rt.Success && mode == "" && !owed && o.success == nil {
		o.success = ops
		if err := routefacts.CheckSuccess(rt, ops); err != nil {
			t.Errorf("success (%s): %v", scenario, err)
		}
	}
}

// send sends req and records the calls it made, and the S3 actions of
// the forms and links it answered, in o.
func (d *routeDriver) send(rt httpapi.Route, o *observed, req apitest.Request, scenario string) (*apitest.Response, []string) {
	d.env.Counter.Reset()
	d.s3.take()
	d.queue.take()
	resp := d.env.Do(d.t, req)
	calls := d.env.Counter.Calls()
	methods, urls := d.s3.take()
	if d.queue.take() > 0 {
		o.use("sqs:SendMessage on "+webhookQueueARN, scenario+" (queued a webhook delivery)")
	}
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.Op)
		for _, n := range c.Needs {
			res := tableARN
			if n.Index != "" {
				res += "/index/" + n.Index
			}
			o.use(n.Action+" on "+res, scenario)
		}
	}
	for n, u := range urls {
		o.use(s3Action(methods[n], u)+" on "+s3Resource(d.objectKey(u)), scenario+" (a request it made)")
	}
	if resp.Status < 300 {
		for _, a := range d.signed(resp.Body) {
			o.use(a, scenario+" (a form or link it handed out)")
		}
	}
	o.tried = append(o.tried, fmt.Sprintf("%s: %d, calls %v", scenario, resp.Status, ops))
	return resp, ops
}

// objectKey is the key of the object u addresses on the evidence bucket
// (path-style, as on a local engine: /bucket/key).
func (d *routeDriver) objectKey(u *url.URL) string {
	_, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"+d.env.Bucket.Name()), "/")
	return key
}

// signed are the "action on resource" pairs the upload forms and download
// links of an answer allow.
func (d *routeDriver) signed(body []byte) []string {
	var v struct {
		Uploads []struct {
			URL    string            `json:"url"`
			Fields map[string]string `json:"fields"`
		} `json:"uploads"`
		Items []struct {
			DownloadURL string `json:"download_url"`
		} `json:"items"`
	}
	if json.Unmarshal(body, &v) != nil {
		return nil
	}
	var out []string
	for _, up := range v.Uploads {
		u, err := url.Parse(up.URL)
		if err != nil {
			d.t.Errorf("upload form URL %q: %v", up.URL, err)
			continue
		}
		// A POST form: the object's key is a field.
		out = append(out, s3Action(http.MethodPost, u)+" on "+s3Resource(up.Fields["key"]))
	}
	for _, it := range v.Items {
		if it.DownloadURL == "" {
			continue
		}
		u, err := url.Parse(it.DownloadURL)
		if err != nil {
			d.t.Errorf("download URL %q: %v", it.DownloadURL, err)
			continue
		}
		out = append(out, s3Action(http.MethodGet, u)+" on "+s3Resource(d.objectKey(u)))
	}
	return out
}

// seed stores a fresh process in state st for rt and returns its id.
func (d *routeDriver) seed(rt httpapi.Route, st *routeState) string {
	t := d.t
	if st.keyedCreate {
		return d.createWithKey(rt.Type())
	}
	ref := identification.Ref{Org: "acme", Type: rt.Type(), ID: uuid.Must(uuid.NewV7()).String()}
	i, code := st.seed(ref, d.env.Clock.Now())
	if err := d.env.Store.Create(t.Context(), i, code); err != nil {
		t.Fatalf("seed %s (%s): %v", ref.ID, st.name, err)
	}
	return ref.ID
}

// createWithKey creates a process of type typ through its create route,
// with its example and an Idempotency-Key, and returns its id.
func (d *routeDriver) createWithKey(typ identification.Type) string {
	t := d.t
	for _, rt := range httpapi.Routes() {
		if rt.IDParam() != "" || rt.Method != http.MethodPost || rt.Type() != typ {
			continue
		}
		resp := d.env.Do(t, apitest.Request{Method: rt.Method, Path: strings.ReplaceAll(rt.Path, "{org_id}", "acme"), Body: routefacts.Example(rt.Name),
			Token: d.env.AdminToken(t, "acme"), Header: http.Header{"Idempotency-Key": {uuid.NewString()}}})
		var v struct {
			ID string `json:"id"`
		}
		if resp.Status != rt.Success || json.Unmarshal(resp.Body, &v) != nil || v.ID == "" {
			t.Fatalf("%s with an Idempotency-Key: %d %s", rt.Name, resp.Status, resp.Body)
		}
		return v.ID
	}
	t.Fatalf("no create route for %s", typ)
	return ""
}

// withUpload returns body with the key of a fresh upload when the body
// confirms an upload (a kind and a key; the example's key is only its
// shape): the actor asks process ref for a form of that kind, through the
// service, and uploads an image with it. When the process takes no image
// of that kind now, body is sent as it is.
func (d *routeDriver) withUpload(ref identification.Ref, body string) string {
	var v struct {
		Kind identification.EvidenceKind `json:"kind"`
		Key  string                      `json:"key"`
	}
	if json.Unmarshal([]byte(body), &v) != nil || v.Kind == "" || v.Key == "" {
		return body
	}
	t := d.t
	by := identification.Caller{Kind: identification.CallerActor, Device: &seedDevice}
	ups, err := d.env.Service.RequestUploads(t.Context(), ref, identification.UploadRequest{Files: []identification.UploadFile{{Kind: v.Kind, ContentType: "image/png"}}}, by)
	if err != nil {
		return body
	}
	if status, answer := s3local.Upload(t, ups[0].Form.URL, ups[0].Form.Fields, "front.png", "image/png", s3local.PNG(t)); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, answer)
	}
	out, err := json.Marshal(map[string]string{"kind": string(v.Kind), "key": ups[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// namesEndpoint reports whether rt acts on a webhook endpoint named in its
// path (every webhook route but the registration and the listing).
func namesEndpoint(rt httpapi.Route) bool {
	return strings.Contains(rt.Path, "{webhook_id}")
}

// newWebhookRef names a fresh endpoint of org and a delivery of its log,
// ids of the shapes the routes check: "wh_" and 32 hex digits; "msg_", 11
// hex digits and 24 lower-case base32 characters.
func newWebhookRef(org string) webhookRef {
	b := make([]byte, 16)
	rand.Read(b)
	d := make([]byte, 6)
	rand.Read(d)
	return webhookRef{org: org, endpoint: "wh_" + hex.EncodeToString(b),
		delivery: "msg_" + hex.EncodeToString(d)[:11] + strings.ToLower(rand.Text()[:24])}
}
