package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// TestIsolationMatrix points every route, with tokens of other
// organisations (look-alike names included), at org B's records in every
// state: never a 2xx, never a change, and an answer that does not depend on
// whether the record exists, byte for byte the answer for a random id.
// Org B's records include its webhook endpoints (one enabled, one
// disabled) and their deliveries: another organisation can neither read,
// change, delete, test nor replay them (nothing is queued to them), and
// its own endpoint cannot name B's delivery.
func TestIsolationMatrix(t *testing.T) {
	const victim = "globex"
	// attackers hold admin and force-delete for orgs that are not victim.
	attackers := []string{"acme", "globex2", "GLOBEX"}
	routes := httpapi.Routes()
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		victimToken := env.AdminToken(t, victim)

		// The victim's records, one per state and type.
		records := map[identification.Type][]string{}
		before := map[string][]byte{}
		for _, typ := range []identification.Type{identification.TypeOTP, identification.TypeChain} {
			for _, s := range seeds {
				id := seed(t, env, victim, typ, s)
				records[typ] = append(records[typ], id)
				before[id] = env.Do(t, apitest.Request{Method: http.MethodGet, Path: matrixPath(typ, victim, id), Token: victimToken}).Body
			}
		}

		// The victim's webhook endpoints, each with a delivery.
		hooks := seedWebhooks(t, env, victim)
		settingsToken := env.Token(t, victim, auth.ScopeSettings)
		for _, h := range hooks {
			for _, path := range []string{h.path(victim), h.path(victim) + "/deliveries"} {
				before[path] = env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: settingsToken}).Body
			}
		}
		victimIDs := append(records[identification.TypeOTP], records[identification.TypeChain]...)
		for _, h := range hooks {
			victimIDs = append(victimIDs, h.endpoint, h.delivery)
		}

		// The victim's settings, changed twice.
		settingsBefore := seedSettings(t, env, victim, settingsToken)
		victimIDs = append(victimIDs, matrixSettingsName)

		for _, attacker := range attackers {
			token := env.Token(t, attacker, auth.ScopeAdmin, auth.ScopeForceDelete, auth.ScopeActor, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider,
				auth.ScopeSettings)
			// The attacker's own endpoint, to name the victim's delivery on.
			own := seedWebhooks(t, env, attacker)[0]
			for _, rt := range routes {
				if isWebhookRoute(rt) {
					webhookMatrix(t, env, rt, victim, attacker, token, hooks, own, victimIDs)
					continue
				}
				if isSettingsRoute(rt) {
					settingsMatrix(t, env, rt, victim, attacker, token, victimIDs)
					continue
				}
				typ := rt.Type()
				// Creates and listings name no id: on the attacker's own
				// org they succeed, and must show nothing of the victim's.
				create := rt.IDParam() == ""
				// On the victim's path (401) and on the attacker's own path
				// with the victim's id (404): the same answer as for an id
				// that exists nowhere.
				for _, org := range []string{victim, attacker} {
					random := env.Do(t, matrixRequest(rt, org, newID(t), token))
					if random.Status < 400 && !create {
						t.Fatalf("%s as %s on org %s with a random id: %d", rt.Name, attacker, org, random.Status)
					}
					ids := records[typ]
					if create {
						ids = []string{""}
					}
					for _, id := range ids {
						resp := env.Do(t, matrixRequest(rt, org, id, token))
						if resp.Status < 300 {
							if org == attacker && create {
								for _, victimID := range victimIDs {
									if bytes.Contains(resp.Body, []byte(victimID)) {
										t.Errorf("%s as %s on its own org shows the victim's %s: %s", rt.Name, attacker, victimID, resp.Body)
									}
								}
								continue // creating in, listing, one's own org is allowed
							}
							t.Errorf("%s as %s on org %s, record %s: %d %s", rt.Name, attacker, org, id, resp.Status, resp.Body)
							continue
						}
						if resp.Status != random.Status || !bytes.Equal(resp.Body, random.Body) {
							t.Errorf("%s as %s on org %s: the victim's record answers %d %s, a random id %d %s",
								rt.Name, attacker, org, resp.Status, resp.Body, random.Status, random.Body)
						}
						want := map[string]int{victim: http.StatusUnauthorized, attacker: http.StatusNotFound}[org]
						if !create && resp.Status != want {
							t.Errorf("%s as %s on org %s: got %d, want %d", rt.Name, attacker, org, resp.Status, want)
						}
					}
				}
			}
		}

		for typ, ids := range records {
			for _, id := range ids {
				after := env.Do(t, apitest.Request{Method: http.MethodGet, Path: matrixPath(typ, victim, id), Token: victimToken})
				if !bytes.Equal(after.Body, before[id]) {
					t.Errorf("the victim's record %s changed:\nbefore %s\nafter  %s", id, before[id], after.Body)
				}
			}
		}
		for _, h := range hooks {
			for _, path := range []string{h.path(victim), h.path(victim) + "/deliveries"} {
				after := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: settingsToken})
				if after.Status != http.StatusOK || !bytes.Equal(after.Body, before[path]) {
					t.Errorf("the victim's %s changed:\nbefore %s\nafter  %d %s", path, before[path], after.Status, after.Body)
				}
			}
		}
		for path, body := range settingsBefore {
			after := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: settingsToken})
			if after.Status != http.StatusOK || !bytes.Equal(after.Body, body) {
				t.Errorf("the victim's %s changed:\nbefore %s\nafter  %d %s", path, body, after.Status, after.Body)
			}
		}
		// Nothing was queued: no test event or replay reached a victim's
		// endpoint (nor any other).
		if n := env.Queue.Len(); n != 0 {
			t.Errorf("%d webhook messages queued by the attackers", n)
		}
	})
}

// matrixHook is one of an organisation's webhook endpoints with one
// delivery of it.
type matrixHook struct{ endpoint, delivery string }

func (h matrixHook) path(org string) string { return "/v1/orgs/" + org + "/webhooks/" + h.endpoint }

// accept204 is a receiver answering 204 to every delivery.
type accept204 struct{}

func (accept204) Post(context.Context, string, map[string]string, []byte) (int, error) {
	return http.StatusNoContent, nil
}

// seedWebhooks registers two endpoints of org (the second disabled) and
// delivers a test event to each, so that each has a delivery in its log.
func seedWebhooks(t *testing.T, env *apitest.Env, org string) []matrixHook {
	t.Helper()
	ctx := t.Context()
	url := "https://93.184.215.14/" + org + "/hooks"
	sender := &webhooks.Sender{Store: env.Store, Sealer: fixture.CodeKeys(), Post: accept204{}, Now: env.Clock.Now}
	var out []matrixHook
	for n := range 2 {
		e, _, err := env.Webhooks.Register(ctx, org, webhooks.Input{URL: &url, Events: []string{"*"}, HasEvents: true})
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			disabled := webhooks.StatusDisabled
			if _, err := env.Webhooks.Change(ctx, org, e.ID, webhooks.Input{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
		}
		did, err := env.Webhooks.Test(ctx, org, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		for {
			k, err := env.Queue.Step(ctx, sender.Handle)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				break
			}
		}
		if _, _, err := env.Store.Delivery(ctx, org, e.ID, did); err != nil {
			t.Fatalf("the test event of %s was not logged: %v", e.ID, err)
		}
		out = append(out, matrixHook{endpoint: e.ID, delivery: did})
	}
	return out
}

func isWebhookRoute(rt httpapi.Route) bool { return strings.Contains(rt.Path, "/webhooks") }

func isSettingsRoute(rt httpapi.Route) bool { return strings.Contains(rt.Path, "/settings") }

// matrixSettingsName is the victim's display name, which no answer to
// another organisation may show.
const matrixSettingsName = "Victim Bank Zeta"

// seedSettings changes org's settings twice and returns what its reads
// answer, by path.
func seedSettings(t *testing.T, env *apitest.Env, org, token string) map[string][]byte {
	t.Helper()
	base := "/v1/orgs/" + org + "/settings"
	for n, body := range []string{`{"display_name":"Victim Bank"}`, `{"display_name":"` + matrixSettingsName + `","code":{"length":9}}`} {
		resp := env.Do(t, apitest.Request{Method: http.MethodPut, Path: base, Token: token, Body: body,
			Header: http.Header{"If-Match": {`"` + strconv.Itoa(n) + `"`}}})
		if resp.Status != http.StatusOK {
			t.Fatalf("seed settings of %s: %d %s", org, resp.Status, resp.Body)
		}
	}
	out := map[string][]byte{}
	for _, path := range []string{base, base + "/history"} {
		out[path] = env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Body
	}
	return out
}

// settingsMatrix is the matrix of one settings route: on the victim's path
// a 401 (a PUT with the victim's current ETag included); on the
// attacker's own path its own settings, showing nothing of the victim's.
func settingsMatrix(t *testing.T, env *apitest.Env, rt httpapi.Route, victim, attacker, token string, victimIDs []string) {
	t.Helper()
	for _, org := range []string{victim, attacker} {
		path := strings.ReplaceAll(rt.Path, "{org_id}", org)
		req := apitest.Request{Method: rt.Method, Path: path, Token: token, Body: routefacts.Example(rt.Name)}
		if q := routefacts.Query(rt.Name); q != "" {
			req.Path += "?" + q
		}
		if rt.Method == http.MethodPut {
			etag := `"2"` // the victim's
			if org == attacker {
				etag = env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Header.Get("ETag")
			}
			req.Header = http.Header{"If-Match": {etag}}
		}
		resp := env.Do(t, req)
		switch {
		case org == victim && resp.Status != http.StatusUnauthorized:
			t.Errorf("%s as %s on org %s: got %d, want 401: %s", rt.Name, attacker, org, resp.Status, resp.Body)
		case org == attacker && resp.Status != rt.Success:
			t.Errorf("%s as %s on its own org: got %d, want %d: %s", rt.Name, attacker, resp.Status, rt.Success, resp.Body)
		}
		for _, id := range victimIDs {
			if bytes.Contains(resp.Body, []byte(id)) {
				t.Errorf("%s as %s on org %s shows the victim's %s: %s", rt.Name, attacker, org, id, resp.Body)
			}
		}
	}
}

// randomHex is n random lower-case hex digits.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

// randomHook is a webhook id and a delivery id of the right shapes that
// exist nowhere.
func randomHook(t *testing.T) matrixHook {
	return matrixHook{endpoint: "wh_" + randomHex(t, 32), delivery: "msg_" + randomHex(t, 11) + strings.Repeat("a", 24)}
}

// webhookMatrix is the matrix of one webhook route: on the victim's path a
// 401, on the attacker's own path with the victim's ids a 404 (and the
// attacker's own endpoint with the victim's delivery a 404), each byte for
// byte the answer for ids that exist nowhere. The registration and the
// listing, which name no id, succeed on the attacker's own org and show
// nothing of the victim's.
func webhookMatrix(t *testing.T, env *apitest.Env, rt httpapi.Route, victim, attacker, token string, hooks []matrixHook, own matrixHook, victimIDs []string) {
	t.Helper()
	named := strings.Contains(rt.Path, "{webhook_id}")
	req := func(org string, h matrixHook) apitest.Request {
		path := strings.NewReplacer("{org_id}", org, "{webhook_id}", h.endpoint, "{delivery_id}", h.delivery).Replace(rt.Path)
		if q := routefacts.Query(rt.Name); q != "" {
			path += "?" + q
		}
		return apitest.Request{Method: rt.Method, Path: path, Token: token, Body: routefacts.Example(rt.Name)}
	}
	for _, org := range []string{victim, attacker} {
		if !named {
			resp := env.Do(t, req(org, matrixHook{}))
			switch {
			case org == victim && resp.Status != http.StatusUnauthorized:
				t.Errorf("%s as %s on org %s: got %d, want 401: %s", rt.Name, attacker, org, resp.Status, resp.Body)
			case org == attacker && resp.Status != rt.Success:
				t.Errorf("%s as %s on its own org: got %d, want %d: %s", rt.Name, attacker, resp.Status, rt.Success, resp.Body)
			}
			for _, id := range victimIDs {
				if bytes.Contains(resp.Body, []byte(id)) {
					t.Errorf("%s as %s on org %s shows the victim's %s: %s", rt.Name, attacker, org, id, resp.Body)
				}
			}
			continue
		}
		want := map[string]int{victim: http.StatusUnauthorized, attacker: http.StatusNotFound}[org]
		random := env.Do(t, req(org, randomHook(t)))
		if random.Status != want {
			t.Errorf("%s as %s on org %s with random ids: got %d, want %d: %s", rt.Name, attacker, org, random.Status, want, random.Body)
		}
		cases := append([]matrixHook(nil), hooks...)
		if strings.Contains(rt.Path, "{delivery_id}") && org == attacker {
			// The attacker's own endpoint with the victim's delivery: the
			// answer of its own endpoint with a delivery that exists nowhere.
			ownRandom := env.Do(t, req(org, matrixHook{endpoint: own.endpoint, delivery: randomHook(t).delivery}))
			for _, h := range hooks {
				resp := env.Do(t, req(org, matrixHook{endpoint: own.endpoint, delivery: h.delivery}))
				if resp.Status != http.StatusNotFound || resp.Status != ownRandom.Status || !bytes.Equal(resp.Body, ownRandom.Body) {
					t.Errorf("%s as %s on its own endpoint with the victim's delivery %s: %d %s, a random one %d %s",
						rt.Name, attacker, h.delivery, resp.Status, resp.Body, ownRandom.Status, ownRandom.Body)
				}
			}
		}
		for _, h := range cases {
			resp := env.Do(t, req(org, h))
			if resp.Status != random.Status || !bytes.Equal(resp.Body, random.Body) {
				t.Errorf("%s as %s on org %s: the victim's endpoint %s answers %d %s, random ids %d %s",
					rt.Name, attacker, org, h.endpoint, resp.Status, resp.Body, random.Status, random.Body)
			}
		}
	}
}

func matrixPath(typ identification.Type, org, id string) string {
	kind := "otp"
	if typ == identification.TypeChain {
		kind = "chain"
	}
	return "/v1/orgs/" + org + "/identifications/" + kind + "/" + id
}

// matrixRequest fills a route's path, gives it its example body (which
// passes) and the device headers, so only the org and the id decide;
// deletes are forced.
func matrixRequest(rt httpapi.Route, org, id, token string) apitest.Request {
	path := strings.NewReplacer("{org_id}", org, "{"+rt.IDParam()+"}", id).Replace(rt.Path)
	if q := routefacts.Query(rt.Name); q != "" {
		path += "?" + q
	}
	req := apitest.Request{Method: rt.Method, Path: path, Token: token, Body: routefacts.Example(rt.Name),
		Header: http.Header{"X-Installation_id": {"matrix-install"}, "X-Fingerprint": {"matrix-fp"}}}
	if rt.Method == http.MethodDelete {
		req.Path += "?force=true"
	}
	return req
}
