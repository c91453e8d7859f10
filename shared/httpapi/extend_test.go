package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

// extendWant is what an extend by three hours answers from each seeded
// state (docs/api.md, "Extend an OTP identification"), written out by hand.
var extendWant = map[string]outcome{
	"CREATED":                 {204, "", "CREATED"},
	"IN_PROGRESS":             {204, "", "IN_PROGRESS"},
	"COMPLETED":               {409, "MDOC_006", ""},
	"CANCELLED":               {409, "MDOC_006", ""},
	"CLOSED":                  {409, "MDOC_006", ""},
	"EXPIRED":                 {409, "MDOC_005", ""},
	"CREATED past expiry":     {409, "MDOC_005", ""},
	"IN_PROGRESS past expiry": {409, "MDOC_005", ""},
	"COMPLETED past expiry":   {409, "MDOC_006", ""},
}

func extendPath(kind, id string) string {
	return "/v1/orgs/acme/identifications/" + kind + "/" + id + "/extend"
}

// TestExtendFromEveryState: from CREATED and IN_PROGRESS before the
// expiry, an extend moves expires_at to expires_in from now and nothing
// else but the version, updated_at and the history; from anywhere else it
// is refused and changes nothing.
func TestExtendFromEveryState(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		for _, kind := range []string{"otp", "chain"} {
			typ := map[string]identification.Type{"otp": identification.TypeOTP, "chain": identification.TypeChain}[kind]
			for _, s := range seeds {
				want := extendWant[s.name]
				t.Run(kind+"/"+s.name, func(t *testing.T) {
					id := seed(t, env, "acme", typ, s)
					path := "/v1/orgs/acme/identifications/" + kind + "/" + id
					before := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t)
					resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: extendPath(kind, id), Body: `{"expires_in":"PT3H"}`, Token: token})
					if resp.Status != want.status {
						t.Fatalf("got %d, want %d: %s", resp.Status, want.status, resp.Body)
					}
					after := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t)
					if want.code != "" {
						if got := resp.Errors(t)[0].Code; got != want.code {
							t.Errorf("code: got %s, want %s", got, want.code)
						}
						if fmt.Sprint(after) != fmt.Sprint(before) {
							t.Errorf("a refused extend changed the record:\nbefore %v\nafter  %v", before, after)
						}
						return
					}
					now := env.Clock.Now()
					if after["expires_at"] != now.Add(3*time.Hour).Format(time.RFC3339) || after["status"] != want.final ||
						after["version"] != before["version"].(float64)+1 || after["updated_at"] != now.Format(time.RFC3339) {
						t.Errorf("after extend: expires_at %v status %v version %v updated_at %v", after["expires_at"], after["status"], after["version"], after["updated_at"])
					}
					for _, k := range []string{"created_at", "actor", "ended_at", "completed_at"} {
						if fmt.Sprint(after[k]) != fmt.Sprint(before[k]) {
							t.Errorf("%s changed: %v → %v", k, before[k], after[k])
						}
					}
				})
			}
		}
	})
}

// TestExtendIsInTheHistory: the history of a created process records the
// extend, by whom, from and to the same status.
func TestExtendIsInTheHistory(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		created := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Token: token,
			Body: `{"actor":{"name":"Ana"},"expires_in":"P1D","channel":{"type":"SMS","external":true}}`})
		id, _ := created.Identification(t)["id"].(string)
		if created.Status != http.StatusCreated || id == "" {
			t.Fatalf("create: %d %s", created.Status, created.Body)
		}
		if r := env.Do(t, apitest.Request{Method: http.MethodPost, Path: extendPath("otp", id), Body: `{"expires_in":"P2D"}`, Token: token}); r.Status != http.StatusNoContent {
			t.Fatalf("extend: %d %s", r.Status, r.Body)
		}
		h := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/otp/" + id + "/history", Token: token})
		want := `{"at":"` + env.Clock.Now().Format(time.RFC3339) + `","action":"extend","from":"CREATED","to":"CREATED","by":{"kind":"admin","sub":"apitest"}`
		if !strings.Contains(string(h.Body), want) {
			t.Errorf("history %s has no %s", h.Body, want)
		}
	})
}

// TestExtendRefusesWhatItCannotDo: bad bodies name expires_in; an expiry
// that is not later, or past 30 days after the creation, is a 409 saying
// which; other callers cannot extend.
func TestExtendRefusesWhatItCannotDo(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		id := seed(t, env, "acme", identification.TypeOTP, seeds[0]) // CREATED 2 h ago, expires in 1 h
		for _, c := range []struct {
			name, body, token string
			status            int
			code, detail      string
		}{
			{"no body", ``, token, 400, "MDOC_002", ""},
			{"no expires_in", `{}`, token, 400, "MDOC_002", "expires_in"},
			{"not a duration", `{"expires_in":"tomorrow"}`, token, 400, "MDOC_002", "expires_in"},
			{"a number", `{"expires_in":7200}`, token, 400, "MDOC_002", "expires_in"},
			{"over 30 days", `{"expires_in":"P31D"}`, token, 400, "MDOC_002", "expires_in"},
			{"another member", `{"expires_in":"PT3H","reason":"x"}`, token, 400, "MDOC_002", "reason"},
			{"not later", `{"expires_in":"PT30M"}`, token, 409, "MDOC_006", "after its current expiry"},
			{"past 30 days after creation", `{"expires_in":"P30D"}`, token, 409, "MDOC_006", "30 days after its creation"},
			{"an actor", `{"expires_in":"PT3H"}`, env.Token(t, "acme", "identifications/actor"), 401, "MDOC_003", ""},
			{"another organisation", `{"expires_in":"PT3H"}`, env.AdminToken(t, "other"), 401, "MDOC_003", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: extendPath("otp", id), Body: c.body, Token: c.token})
				if resp.Status != c.status {
					t.Fatalf("got %d, want %d: %s", resp.Status, c.status, resp.Body)
				}
				errs := resp.Errors(t)
				if errs[0].Code != c.code || !strings.Contains(errs[0].Details, c.detail) {
					t.Errorf("got %s %q, want %s naming %q", errs[0].Code, errs[0].Details, c.code, c.detail)
				}
			})
		}
		got := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/otp/" + id, Token: token}).Identification(t)
		if got["version"] != float64(3) {
			t.Errorf("refused extends changed the record: version %v", got["version"])
		}
	})
}

// TestExtendIsIdempotentAndTheSweepFollowsIt: a retry with the same
// Idempotency-Key answers 204 again without a second change; the sweep past
// the old expiry leaves the process open, and at the new one expires it.
func TestExtendIsIdempotentAndTheSweepFollowsIt(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		id := seed(t, env, "acme", identification.TypeChain, seeds[1]) // IN_PROGRESS, expires in 1 h
		path := "/v1/orgs/acme/identifications/chain/" + id
		key := http.Header{"Idempotency-Key": {"extend-" + id}}
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for n := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[n] = env.Do(t, apitest.Request{Method: http.MethodPost, Path: path + "/extend", Body: `{"expires_in":"PT5H"}`, Token: token, Header: key}).Status
			}()
		}
		wg.Wait()
		again := env.Do(t, apitest.Request{Method: http.MethodPost, Path: path + "/extend", Body: `{"expires_in":"PT5H"}`, Token: token, Header: key})
		if again.Status != http.StatusNoContent {
			t.Errorf("the retry answered %d: %s", again.Status, again.Body)
		}
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusNoContent:
				ok++
			case http.StatusConflict: // a request with the key still in flight
			default:
				t.Errorf("a racing extend answered %d", s)
			}
		}
		got := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t)
		if ok == 0 || got["version"] != float64(4) {
			t.Fatalf("%d answers 204, version %v: want at least one, and one change (version 4)", ok, got["version"])
		}
		moved := env.Clock.Now().Add(5 * time.Hour)
		for _, c := range []struct {
			at   time.Time
			want string
		}{{env.Clock.Now().Add(2 * time.Hour), "IN_PROGRESS"}, {moved, "EXPIRED"}} {
			sweep.Run(t.Context(), env.Store, env.Store, c.at, sweep.Options{}, nil)
			item := env.Store
			i, err := item.Get(t.Context(), identification.Ref{Org: "acme", Type: identification.TypeChain, ID: id})
			if err != nil {
				t.Fatal(err)
			}
			if string(i.Status) != c.want {
				t.Errorf("after the sweep at %v: %s, want %s", c.at, i.Status, c.want)
			}
		}
	})
}
