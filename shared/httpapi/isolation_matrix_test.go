package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// TestIsolationMatrix points every route, with tokens of other
// organisations (look-alike names included), at org B's records in every
// state: never a 2xx, never a change, and an answer that does not depend on
// whether the record exists, byte for byte the answer for a random id.
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

		for _, attacker := range attackers {
			token := env.Token(t, attacker, auth.ScopeAdmin, auth.ScopeForceDelete, auth.ScopeActor, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider)
			for _, rt := range routes {
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
								for _, victimID := range append(records[identification.TypeOTP], records[identification.TypeChain]...) {
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
	})
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
