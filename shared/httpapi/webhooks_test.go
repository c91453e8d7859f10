package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

const hooksOrg = "acme"

// publicURL is a webhook URL whose host is a public address: registration
// accepts it without a lookup (the tests run without DNS).
const publicURL = "https://93.184.215.14/idadmin/hooks"

var (
	webhookIDShape  = regexp.MustCompile(`^wh_[0-9a-f]{32}$`)
	deliveryIDShape = regexp.MustCompile(`^msg_[0-9a-f]{11}[a-z2-7]{24}$`)
)

// hookView is a webhook endpoint as the API answers it; Secret is "" when
// absent (HasSecret says which).
type hookView struct {
	ID             string   `json:"id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Description    string   `json:"description"`
	Status         string   `json:"status"`
	DisabledReason *string  `json:"disabled_reason"`
	Version        int64    `json:"version"`
	Secret         string   `json:"secret"`
	HasSecret      bool     `json:"-"`
}

func decodeHook(t *testing.T, body []byte) hookView {
	t.Helper()
	var v hookView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not a webhook endpoint: %v: %s", err, body)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	_, v.HasSecret = m["secret"]
	return v
}

type deliveryView struct {
	ID               string  `json:"id"`
	EventType        string  `json:"event_type"`
	IdentificationID string  `json:"identification_id"`
	Status           string  `json:"status"`
	Attempts         int     `json:"attempts"`
	LastStatusCode   *int    `json:"last_status_code"`
	LastError        *string `json:"last_error"`
}

type deliveryPage struct {
	Items      []deliveryView `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

// hooksClient calls the webhook routes of one Env as hooksOrg with the
// settings scope.
type hooksClient struct {
	env   *apitest.Env
	token string
}

func newHooksClient(t *testing.T, env *apitest.Env) *hooksClient {
	return &hooksClient{env: env, token: env.Token(t, hooksOrg, auth.ScopeSettings)}
}

func (c *hooksClient) do(t *testing.T, method, path, body string) *apitest.Response {
	t.Helper()
	return c.env.Do(t, apitest.Request{Method: method, Path: "/v1/orgs/" + hooksOrg + "/webhooks" + path, Body: body, Token: c.token})
}

func (c *hooksClient) register(t *testing.T, url string) hookView {
	t.Helper()
	resp := c.do(t, http.MethodPost, "", `{"url":`+strconv.Quote(url)+`,"events":["*"],"description":"Back office"}`)
	if resp.Status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", url, resp.Status, resp.Body)
	}
	return decodeHook(t, resp.Body)
}

// wantFieldError checks resp is a 400 with an error whose details start
// with field.
func wantFieldError(t *testing.T, resp *apitest.Response, code, field string) {
	t.Helper()
	if resp.Status != http.StatusBadRequest {
		t.Errorf("got %d, want 400 at %s: %s", resp.Status, field, resp.Body)
		return
	}
	for _, e := range resp.Errors(t) {
		if e.Code == code && strings.HasPrefix(e.Details, field+":") {
			return
		}
	}
	t.Errorf("no %s error at %s: %s", code, field, resp.Body)
}

// TestWebhookRegisterReadList: a registration answers 201 with Location,
// ETag and the secret, which no read or listing shows again.
func TestWebhookRegisterReadList(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		resp := c.do(t, http.MethodPost, "", `{"url":"`+publicURL+`","events":["identification.completed","identification.failed"],"description":"Ends"}`)
		if resp.Status != http.StatusCreated {
			t.Fatalf("register: %d %s", resp.Status, resp.Body)
		}
		h := decodeHook(t, resp.Body)
		if !webhookIDShape.MatchString(h.ID) || h.Status != "ENABLED" || h.DisabledReason != nil || h.Version != 1 || h.URL != publicURL || h.Description != "Ends" {
			t.Errorf("registered: %s", resp.Body)
		}
		if !strings.HasPrefix(h.Secret, webhooks.SecretPrefix) {
			t.Errorf("the registration shows no secret: %s", resp.Body)
		}
		if got, want := resp.Header.Get("Location"), "/v1/orgs/"+hooksOrg+"/webhooks/"+h.ID; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		if got := resp.Header.Get("ETag"); got != `"1"` {
			t.Errorf("ETag = %q, want \"1\"", got)
		}

		get := c.do(t, http.MethodGet, "/"+h.ID, "")
		if get.Status != http.StatusOK || get.Header.Get("ETag") != `"1"` {
			t.Fatalf("get: %d %v %s", get.Status, get.Header, get.Body)
		}
		list := c.do(t, http.MethodGet, "", "")
		if list.Status != http.StatusOK || !strings.Contains(string(list.Body), h.ID) {
			t.Fatalf("list: %d %s", list.Status, list.Body)
		}
		for name, body := range map[string][]byte{"get": get.Body, "list": list.Body} {
			if strings.Contains(string(body), h.Secret) || strings.Contains(string(body), `"secret"`) || strings.Contains(string(body), webhooks.SecretPrefix) {
				t.Errorf("%s shows the secret: %s", name, body)
			}
		}
		if got := decodeHook(t, get.Body); got.HasSecret || got.ID != h.ID || got.Version != 1 {
			t.Errorf("get: %s", get.Body)
		}
		if q := c.do(t, http.MethodGet, "?limit=2", ""); q.Status != http.StatusBadRequest {
			t.Errorf("list with a query: %d %s", q.Status, q.Body)
		}
	})
}

// TestWebhookRegistrationRefusals: each bad registration is a 400 naming
// the field; the 11th endpoint of an organisation is a 409.
func TestWebhookRegistrationRefusals(t *testing.T) {
	long := "https://93.184.215.14/" + strings.Repeat("a", webhooks.MaxURL)
	tests := []struct {
		name, body, code, field string
	}{
		{"http", `{"url":"http://93.184.215.14/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"ftp", `{"url":"ftp://93.184.215.14/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"private address", `{"url":"https://10.0.0.1/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"private address 192.168", `{"url":"https://192.168.1.10/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"instance metadata", `{"url":"https://169.254.169.254/latest/meta-data","events":["*"]}`, "MDOC_002", "url"},
		{"unique local IPv6", `{"url":"https://[fd00::1]/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"loopback in another spelling", `{"url":"https://0x7f000001/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"user and password", `{"url":"https://user:pw@93.184.215.14/hooks","events":["*"]}`, "MDOC_002", "url"},
		{"over 2048 characters", `{"url":"` + long + `","events":["*"]}`, "MDOC_002", "url"},
		{"no url", `{"events":["*"]}`, "MDOC_002", "url"},
		{"unknown event type", `{"url":"` + publicURL + `","events":["identification.nope"]}`, "MDOC_002", "events[0]"},
		{"second unknown event type", `{"url":"` + publicURL + `","events":["identification.created","nope"]}`, "MDOC_002", "events[1]"},
		{"star with others", `{"url":"` + publicURL + `","events":["identification.created","*"]}`, "MDOC_002", "events[1]"},
		{"no events", `{"url":"` + publicURL + `","events":[]}`, "MDOC_002", "events"},
		{"events not a list", `{"url":"` + publicURL + `","events":"*"}`, "MDOC_002", "events"},
		{"unknown field", `{"url":"` + publicURL + `","events":["*"],"secret":"whsec_mine"}`, "MDOC_002", "secret"},
		{"status at registration", `{"url":"` + publicURL + `","events":["*"],"status":"DISABLED"}`, "MDOC_002", "status"},
		{"description over 500", `{"url":"` + publicURL + `","events":["*"],"description":"` + strings.Repeat("d", 501) + `"}`, "MDOC_002", "description"},
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				wantFieldError(t, c.do(t, http.MethodPost, "", tt.body), tt.code, tt.field)
			})
		}
		if list := c.do(t, http.MethodGet, "", ""); string(list.Body) != `{"items":[]}` {
			t.Errorf("a refused registration registered something: %s", list.Body)
		}
		for range webhooks.MaxEndpoints {
			c.register(t, publicURL)
		}
		resp := c.do(t, http.MethodPost, "", `{"url":"`+publicURL+`","events":["*"]}`)
		if resp.Status != http.StatusConflict || resp.Errors(t)[0].Code != "MDOC_006" {
			t.Errorf("the 11th endpoint: %d %s", resp.Status, resp.Body)
		}
		// Another organisation has its own ten.
		other := env.Token(t, "globex", auth.ScopeSettings)
		if resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/globex/webhooks", Token: other,
			Body: `{"url":"` + publicURL + `","events":["*"]}`}); resp.Status != http.StatusCreated {
			t.Errorf("another organisation's first endpoint: %d %s", resp.Status, resp.Body)
		}
	})
}

// TestWebhookLoopbackRefused: where loopback is not allowed (every
// deployment; apitest and the dev server allow it for their receivers),
// a loopback host, by address or by name, is a 400 at url.
func TestWebhookLoopbackRefused(t *testing.T) {
	v := &auth.Verifier{Secret: []byte("hooks-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	check := app.WebhookURLCheck(egress.New(egress.Options{}))
	h, err := httpapi.New(httpapi.Config{
		Routes:       []httpapi.Route{httpapi.CreateWebhook},
		Service:      identification.NewService(memstore.New(), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Webhooks:     webhooks.NewService(memstore.NewWebhooks(), fixture.CodeKeys(), check, memqueue.New(time.Now), nil),
		Authenticate: v.Authenticate,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := v.Mint("hooks", []string{hooksOrg}, []string{auth.ScopeSettings}, time.Hour)
	for _, url := range []string{"https://127.0.0.1/hooks", "https://127.0.0.2:8443/hooks", "https://[::1]/hooks", "https://localhost/hooks",
		"https://api.localhost/hooks", "https://[::ffff:127.0.0.1]/hooks", "https://0.0.0.0/hooks"} {
		r := httptest.NewRequest(http.MethodPost, "/v1/orgs/"+hooksOrg+"/webhooks", strings.NewReader(`{"url":"`+url+`","events":["*"]}`))
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var er httpapi.ErrorsResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &er)
		if rec.Code != http.StatusBadRequest || len(er.Errors) != 1 || !strings.HasPrefix(er.Errors[0].Details, "url:") {
			t.Errorf("%s: %d %s", url, rec.Code, rec.Body)
		}
	}
}

// TestWebhookChangeRotateDelete: a change answers the endpoint one version
// up (DISABLED with its reason, ENABLED clearing it); a rotation a new
// secret; a delete 204, then 404.
func TestWebhookChangeRotateDelete(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		h := c.register(t, publicURL)

		resp := c.do(t, http.MethodPatch, "/"+h.ID, `{"status":"DISABLED"}`)
		got := decodeHook(t, resp.Body)
		if resp.Status != http.StatusOK || got.Status != "DISABLED" || got.DisabledReason == nil || *got.DisabledReason == "" || got.Version != 2 ||
			resp.Header.Get("ETag") != `"2"` || got.HasSecret {
			t.Errorf("disable: %d %v %s", resp.Status, resp.Header, resp.Body)
		}
		resp = c.do(t, http.MethodPatch, "/"+h.ID, `{"status":"ENABLED"}`)
		got = decodeHook(t, resp.Body)
		if resp.Status != http.StatusOK || got.Status != "ENABLED" || got.DisabledReason != nil || got.Version != 3 {
			t.Errorf("enable: %d %s", resp.Status, resp.Body)
		}
		resp = c.do(t, http.MethodPatch, "/"+h.ID, `{"events":["identification.created"],"description":"","url":"https://93.184.215.15/other"}`)
		got = decodeHook(t, resp.Body)
		if resp.Status != http.StatusOK || len(got.Events) != 1 || got.Events[0] != "identification.created" || got.Description != "" ||
			got.URL != "https://93.184.215.15/other" || got.Version != 4 {
			t.Errorf("change: %d %s", resp.Status, resp.Body)
		}
		for body, field := range map[string]string{
			`{}`:                                 "body",
			`{"status":"PAUSED"}`:                "status",
			`{"url":"https://10.1.2.3/x"}`:       "url",
			`{"events":["identification.nope"]}`: "events[0]",
			`{"secret":"x"}`:                     "secret",
		} {
			resp := c.do(t, http.MethodPatch, "/"+h.ID, body)
			if resp.Status != http.StatusBadRequest {
				t.Errorf("change %s: %d %s", body, resp.Status, resp.Body)
				continue
			}
			if field != "body" {
				wantFieldError(t, resp, "MDOC_002", field)
			}
		}

		resp = c.do(t, http.MethodPost, "/"+h.ID+"/rotate-secret", "")
		rotated := decodeHook(t, resp.Body)
		if resp.Status != http.StatusOK || !strings.HasPrefix(rotated.Secret, webhooks.SecretPrefix) || rotated.Secret == h.Secret ||
			rotated.Version != 5 || resp.Header.Get("ETag") != `"5"` {
			t.Errorf("rotate: %d %v %s", resp.Status, resp.Header, resp.Body)
		}
		if get := c.do(t, http.MethodGet, "/"+h.ID, ""); strings.Contains(string(get.Body), rotated.Secret) || decodeHook(t, get.Body).HasSecret {
			t.Errorf("get after the rotation shows the secret: %s", get.Body)
		}
		if resp := c.do(t, http.MethodPost, "/"+h.ID+"/rotate-secret", `{"secret":"x"}`); resp.Status != http.StatusBadRequest {
			t.Errorf("rotate with a body: %d %s", resp.Status, resp.Body)
		}
		if resp := c.do(t, http.MethodPost, "/"+h.ID+"/rotate-secret", `{}`); resp.Status != http.StatusOK {
			t.Errorf("rotate with {}: %d %s", resp.Status, resp.Body)
		}

		if resp := c.do(t, http.MethodDelete, "/"+h.ID, ""); resp.Status != http.StatusNoContent || len(resp.Body) != 0 {
			t.Errorf("delete: %d %s", resp.Status, resp.Body)
		}
		for _, r := range [][2]string{{http.MethodGet, ""}, {http.MethodDelete, ""}, {http.MethodPatch, `{"status":"ENABLED"}`}} {
			if resp := c.do(t, r[0], "/"+h.ID, r[1]); resp.Status != http.StatusNotFound || resp.Errors(t)[0].Code != "MDOC_004" {
				t.Errorf("%s after the delete: %d %s", r[0], resp.Status, resp.Body)
			}
		}
		for _, p := range []string{"/rotate-secret", "/test"} {
			if resp := c.do(t, http.MethodPost, "/"+h.ID+p, ""); resp.Status != http.StatusNotFound {
				t.Errorf("%s after the delete: %d %s", p, resp.Status, resp.Body)
			}
		}
		if list := c.do(t, http.MethodGet, "", ""); string(list.Body) != `{"items":[]}` {
			t.Errorf("list after the delete: %s", list.Body)
		}
	})
}

// receiver is a TLS endpoint on loopback recording every delivery.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

type received struct {
	id, timestamp, signature string
	body                     []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"),
			signature: req.Header.Get("webhook-signature"), body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// sender delivers what env's queue holds to r's server (trusted, on
// loopback), through the egress client.
func (r *receiver) sender(env *apitest.Env) *webhooks.Sender {
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	out := egress.New(egress.Options{AllowLoopback: true, RootCAs: pool, Timeout: 5 * time.Second})
	return &webhooks.Sender{Store: env.Store, Sealer: fixture.CodeKeys(), Post: app.WebhookPoster(out), Now: env.Clock.Now,
		Jitter: func() float64 { return 0.5 }}
}

// deliverAll steps env's queue with s until nothing is visible.
func deliverAll(t *testing.T, env *apitest.Env, s *webhooks.Sender) {
	t.Helper()
	for range 100 {
		n, err := env.Queue.Step(t.Context(), s.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the queue does not empty")
}

// verifies is a receiver's check of a delivery, from the Standard Webhooks
// specification (as docs/webhooks.md shows it).
func verifies(secret string, r received) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.id + "." + r.timestamp + "."))
	m.Write(r.body)
	want := m.Sum(nil)
	for _, sig := range strings.Fields(r.signature) {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// TestWebhookTestDeliveriesReplay: the test route answers 202 with the
// delivery's id; delivered to a receiver, signed with the endpoint's
// secret, it shows in the deliveries log (paged by limit and cursor); a
// replay answers 202 and the receiver gets the same webhook-id again.
func TestWebhookTestDeliveriesReplay(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		rcv := newReceiver(t)
		h := c.register(t, rcv.srv.URL+"/hooks")
		sender := rcv.sender(env)

		var ids []string
		for range 3 {
			resp := c.do(t, http.MethodPost, "/"+h.ID+"/test", "")
			var acc struct {
				DeliveryID string `json:"delivery_id"`
			}
			if err := json.Unmarshal(resp.Body, &acc); resp.Status != http.StatusAccepted || err != nil || !deliveryIDShape.MatchString(acc.DeliveryID) {
				t.Fatalf("test: %d %s", resp.Status, resp.Body)
			}
			ids = append(ids, acc.DeliveryID)
			env.Clock.Advance(time.Second) // the log sorts by the event's time
		}
		if resp := c.do(t, http.MethodPost, "/"+h.ID+"/test", `{"event":"x"}`); resp.Status != http.StatusBadRequest {
			t.Errorf("test with a body: %d %s", resp.Status, resp.Body)
		}
		// Nothing is attempted before the sender runs.
		if page := c.do(t, http.MethodGet, "/"+h.ID+"/deliveries", ""); string(page.Body) != `{"items":[],"next_cursor":null}` {
			t.Errorf("the log before delivering: %s", page.Body)
		}
		deliverAll(t, env, sender)
		got := rcv.requests()
		if len(got) != 3 {
			t.Fatalf("the receiver got %d requests, want 3", len(got))
		}
		for n, r := range got {
			if r.id != ids[n] {
				t.Errorf("request %d: webhook-id %s, want %s", n, r.id, ids[n])
			}
			if !verifies(h.Secret, r) {
				t.Errorf("request %d: the signature does not verify with the registration's secret", n)
			}
			var body struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil || body.Type != webhooks.TestEvent {
				t.Errorf("request %d: body %s", n, r.body)
			}
		}

		// The log, newest first, two a page.
		first := c.do(t, http.MethodGet, "/"+h.ID+"/deliveries?limit=2", "")
		var p1 deliveryPage
		if err := json.Unmarshal(first.Body, &p1); first.Status != http.StatusOK || err != nil || len(p1.Items) != 2 || p1.NextCursor == nil {
			t.Fatalf("first page: %d %s", first.Status, first.Body)
		}
		second := c.do(t, http.MethodGet, "/"+h.ID+"/deliveries?limit=2&cursor="+*p1.NextCursor, "")
		var p2 deliveryPage
		if err := json.Unmarshal(second.Body, &p2); second.Status != http.StatusOK || err != nil || len(p2.Items) != 1 || p2.NextCursor != nil {
			t.Fatalf("second page: %d %s", second.Status, second.Body)
		}
		items := append(p1.Items, p2.Items...)
		for n, d := range items {
			if want := ids[len(ids)-1-n]; d.ID != want {
				t.Errorf("log item %d is %s, want %s (newest first)", n, d.ID, want)
			}
			if d.Status != "DELIVERED" || d.Attempts != 1 || d.LastStatusCode == nil || *d.LastStatusCode != http.StatusNoContent ||
				d.LastError != nil || d.EventType != webhooks.TestEvent {
				t.Errorf("log item %d: %+v", n, d)
			}
		}
		for _, q := range []string{"cursor=bm9wZQ", "cursor=" + strings.Repeat("A", 40), "limit=0", "limit=101", "limit=x", "limit=2&limit=3", "after=1"} {
			resp := c.do(t, http.MethodGet, "/"+h.ID+"/deliveries?"+q, "")
			field, _, _ := strings.Cut(q, "=")
			wantFieldError(t, resp, "MDOC_001", field)
		}

		// A replay: 202 with the same id, and the receiver gets it again.
		resp := c.do(t, http.MethodPost, "/"+h.ID+"/deliveries/"+ids[0]+"/replay", "")
		if resp.Status != http.StatusAccepted || !strings.Contains(string(resp.Body), ids[0]) {
			t.Fatalf("replay: %d %s", resp.Status, resp.Body)
		}
		deliverAll(t, env, sender)
		got = rcv.requests()
		if len(got) != 4 || got[3].id != ids[0] || string(got[3].body) != string(got[0].body) || !verifies(h.Secret, got[3]) {
			t.Errorf("after the replay the receiver got %d requests; the last %+v, want webhook-id %s and the first's body", len(got), got[len(got)-1], ids[0])
		}
		// A delivery id of the right shape that is no delivery of this
		// endpoint.
		if resp := c.do(t, http.MethodPost, "/"+h.ID+"/deliveries/msg_00000000000"+strings.Repeat("a", 24)+"/replay", ""); resp.Status != http.StatusNotFound {
			t.Errorf("replay of no delivery: %d %s", resp.Status, resp.Body)
		}
		// Another endpoint of the same organisation cannot replay it.
		other := c.register(t, publicURL)
		if resp := c.do(t, http.MethodPost, "/"+other.ID+"/deliveries/"+ids[0]+"/replay", ""); resp.Status != http.StatusNotFound {
			t.Errorf("replay through another endpoint: %d %s", resp.Status, resp.Body)
		}
		if n := env.Queue.Len(); n != 0 {
			t.Errorf("%d messages left queued", n)
		}
	})
}

// TestWebhookRoutesNeedTheSettingsScope: the admin scope alone (or any
// other but identifications/settings) is a 401 on every webhook route;
// and path ids of the wrong shape are a 400 naming the parameter.
func TestWebhookRoutesNeedTheSettingsScope(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		h := c.register(t, publicURL)
		did := "msg_00000000000" + strings.Repeat("a", 24)
		bodies := map[string]string{"create-webhook": `{"url":"` + publicURL + `","events":["*"]}`, "update-webhook": `{"status":"DISABLED"}`}
		admin := env.Token(t, hooksOrg, auth.ScopeAdmin, auth.ScopeForceDelete, auth.ScopeActor, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider)
		routes := 0
		for _, rt := range httpapi.Routes() {
			if !strings.Contains(rt.Path, "/webhooks") {
				continue
			}
			routes++
			if len(rt.Scopes) != 1 || rt.Scopes[0] != auth.ScopeSettings {
				t.Errorf("%s: scopes %v, want only %s", rt.Name, rt.Scopes, auth.ScopeSettings)
			}
			path := strings.NewReplacer("{org_id}", hooksOrg, "{webhook_id}", h.ID, "{delivery_id}", did).Replace(rt.Path)
			resp := env.Do(t, apitest.Request{Method: rt.Method, Path: path, Token: admin, Body: bodies[rt.Name]})
			if resp.Status != http.StatusUnauthorized || resp.Errors(t)[0].Code != "MDOC_003" {
				t.Errorf("%s with the admin scopes: %d %s", rt.Name, resp.Status, resp.Body)
			}
			if !strings.Contains(rt.Path, "{webhook_id}") {
				continue
			}
			for _, bad := range []string{"not-an-id", "wh_" + strings.Repeat("A", 32), "wh_" + strings.Repeat("a", 31), "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"} {
				path := strings.NewReplacer("{org_id}", hooksOrg, "{webhook_id}", bad, "{delivery_id}", did).Replace(rt.Path)
				wantFieldError(t, c.do(t, rt.Method, strings.TrimPrefix(path, "/v1/orgs/"+hooksOrg+"/webhooks"), bodies[rt.Name]), "MDOC_001", "webhook_id")
			}
			if strings.Contains(rt.Path, "{delivery_id}") {
				for _, bad := range []string{"not-an-id", "msg_" + strings.Repeat("A", 35), "msg_0000000000" + strings.Repeat("a", 24)} {
					path := strings.NewReplacer("{org_id}", hooksOrg, "{webhook_id}", h.ID, "{delivery_id}", bad).Replace(rt.Path)
					wantFieldError(t, c.do(t, rt.Method, strings.TrimPrefix(path, "/v1/orgs/"+hooksOrg+"/webhooks"), ""), "MDOC_001", "delivery_id")
				}
			}
		}
		if routes != 9 {
			t.Errorf("%d webhook routes, want 9", routes)
		}
		// Nothing the admin token sent changed the endpoint.
		if get := decodeHook(t, c.do(t, http.MethodGet, "/"+h.ID, "").Body); get.Version != 1 || get.Status != "ENABLED" {
			t.Errorf("the endpoint changed: %+v", get)
		}
	})
}

// TestWebhookRoutesWithoutFieldsRefuseNull: the routes that take no fields
// (rotate-secret, test, replay) accept an empty body or {} and refuse any
// other with a 400 at body: null too, which is no empty object.
func TestWebhookRoutesWithoutFieldsRefuseNull(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := newHooksClient(t, env)
		h := c.register(t, publicURL)
		for _, p := range []string{"/rotate-secret", "/test"} {
			for _, body := range []string{"null", " null ", "[]", `"x"`, `{"a":1}`} {
				resp := c.do(t, http.MethodPost, "/"+h.ID+p, body)
				if resp.Status != http.StatusBadRequest {
					t.Errorf("%s with %q: %d %s, want 400", p, body, resp.Status, resp.Body)
					continue
				}
				if errs := resp.Errors(t); len(errs) == 0 || !strings.HasPrefix(errs[0].Details, "body:") {
					t.Errorf("%s with %q: %s, want the error at body", p, body, resp.Body)
				}
			}
			for _, body := range []string{"", "{}", " { } "} {
				if resp := c.do(t, http.MethodPost, "/"+h.ID+p, body); resp.Status/100 != 2 {
					t.Errorf("%s with %q: %d %s, want it accepted", p, body, resp.Status, resp.Body)
				}
			}
		}
	})
}
