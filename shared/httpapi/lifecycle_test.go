package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// seeded describes a process as seeded through the store.
type seeded struct {
	name   string
	status identification.Status
	// past puts expires_at a minute before the clock.
	past bool
}

var seeds = []seeded{
	{"CREATED", identification.StatusCreated, false},
	{"IN_PROGRESS", identification.StatusInProgress, false},
	{"COMPLETED", identification.StatusCompleted, false},
	{"CANCELLED", identification.StatusCancelled, false},
	{"CLOSED", identification.StatusClosed, false},
	{"EXPIRED", identification.StatusExpired, true},
	{"CREATED past expiry", identification.StatusCreated, true},
	{"IN_PROGRESS past expiry", identification.StatusInProgress, true},
	{"COMPLETED past expiry", identification.StatusCompleted, true},
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// seed stores a process of type typ for org in the given state.
func seed(t testing.TB, env *apitest.Env, org string, typ identification.Type, s seeded) string {
	t.Helper()
	now := env.Clock.Now()
	i := &identification.Identification{
		ID: newID(t), OrgID: org, Type: typ, Status: s.status,
		CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour),
		Actor:   identification.Actor{Name: "Seeded", Email: "seeded@example.com"},
		Version: 3,
	}
	if s.past {
		i.ExpiresAt = now.Add(-time.Minute)
	}
	if s.status.Final() {
		ended := now.Add(-30 * time.Minute)
		if s.status == identification.StatusExpired {
			ended = i.ExpiresAt
		}
		i.EndedAt = &ended
	}
	if s.status == identification.StatusCancelled {
		i.CancelReason = "seeded"
	}
	if typ == identification.TypeOTP {
		i.Channel = &identification.Channel{Type: "EMAIL"}
	} else {
		i.Sequence = []identification.Step{{IdentificationType: "AGENT", Status: identification.StepPending}}
	}
	env.Seed(t, i)
	return i.ID
}

type outcome struct {
	status int
	code   string
	// final is the status the record must show afterwards; "" means the
	// record must be unchanged, "GONE" that a read answers 404.
	final string
}

// lifecycleWant is the docs/lifecycle.md table written out by hand, one row per
// seeded state, independent of the code's own table.
var lifecycleWant = map[string]map[string]outcome{
	"CREATED":                 {"cancel": {204, "", "CANCELLED"}, "close": {204, "", "CLOSED"}, "delete": {204, "", "GONE"}, "force": {204, "", "GONE"}},
	"IN_PROGRESS":             {"cancel": {204, "", "CANCELLED"}, "close": {204, "", "CLOSED"}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"COMPLETED":               {"cancel": {409, "MDOC_006", ""}, "close": {204, "", "CLOSED"}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"CANCELLED":               {"cancel": {409, "MDOC_006", ""}, "close": {409, "MDOC_006", ""}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"CLOSED":                  {"cancel": {409, "MDOC_006", ""}, "close": {409, "MDOC_006", ""}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"EXPIRED":                 {"cancel": {409, "MDOC_005", ""}, "close": {409, "MDOC_005", ""}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"CREATED past expiry":     {"cancel": {409, "MDOC_005", ""}, "close": {409, "MDOC_005", ""}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"IN_PROGRESS past expiry": {"cancel": {409, "MDOC_005", ""}, "close": {409, "MDOC_005", ""}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
	"COMPLETED past expiry":   {"cancel": {409, "MDOC_006", ""}, "close": {204, "", "CLOSED"}, "delete": {403, "MDOC_003", ""}, "force": {204, "", "GONE"}},
}

func actionRequest(kind, id, action, token, forceToken string) apitest.Request {
	base := "/v1/orgs/acme/identifications/" + kind + "/" + id
	switch action {
	case "cancel":
		return apitest.Request{Method: http.MethodPost, Path: base + "/cancel", Body: `{"reason":"lifecycle test"}`, Token: token}
	case "close":
		return apitest.Request{Method: http.MethodPost, Path: base + "/close", Token: token}
	case "delete":
		return apitest.Request{Method: http.MethodDelete, Path: base, Token: token}
	case "force":
		return apitest.Request{Method: http.MethodDelete, Path: base + "?force=true", Token: forceToken}
	}
	panic("unknown action " + action)
}

func TestLifecycleTable(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		forceToken := env.Token(t, "acme", auth.ScopeAdmin, auth.ScopeForceDelete)
		for _, typ := range []identification.Type{identification.TypeOTP, identification.TypeChain} {
			kind := map[identification.Type]string{identification.TypeOTP: "otp", identification.TypeChain: "chain"}[typ]
			for _, s := range seeds {
				actions := []string{"cancel", "close", "delete", "force"}
				if typ == identification.TypeChain {
					actions = actions[:2] // docs/api.md has no chain delete
				}
				for _, action := range actions {
					want := lifecycleWant[s.name][action]
					t.Run(fmt.Sprintf("%s/%s/%s", kind, s.name, action), func(t *testing.T) {
						id := seed(t, env, "acme", typ, s)
						path := "/v1/orgs/acme/identifications/" + kind + "/" + id
						before := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token})
						resp := env.Do(t, actionRequest(kind, id, action, token, forceToken))
						if resp.Status != want.status {
							t.Fatalf("got %d, want %d: %s", resp.Status, want.status, resp.Body)
						}
						if want.code != "" {
							if got := resp.Errors(t)[0].Code; got != want.code {
								t.Errorf("code: got %s, want %s", got, want.code)
							}
						} else if len(resp.Body) != 0 {
							t.Errorf("204 with a body: %s", resp.Body)
						}
						after := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token})
						switch want.final {
						case "GONE":
							if after.Status != http.StatusNotFound {
								t.Errorf("read after delete: got %d, want 404", after.Status)
							}
						case "":
							if !reflect.DeepEqual(after.Identification(t), before.Identification(t)) {
								t.Errorf("a refused %s changed the record:\nbefore %s\nafter  %s", action, before.Body, after.Body)
							}
						default:
							m := after.Identification(t)
							now := env.Clock.Now().Format(time.RFC3339)
							if m["status"] != want.final || m["version"] != float64(4) || m["ended_at"] != now || m["updated_at"] != now {
								t.Errorf("after %s: got status %v version %v ended_at %v updated_at %v, want %s 4 %s %s",
									action, m["status"], m["version"], m["ended_at"], m["updated_at"], want.final, now, now)
							}
							if action == "cancel" && m["cancel_reason"] != "lifecycle test" {
								t.Errorf("cancel_reason: got %v", m["cancel_reason"])
							}
						}
					})
				}
			}
		}
	})
}

func TestPastExpiryReadsExpiredAndRefusesActions(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample, Token: token})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		created := resp.Identification(t)
		path := "/v1/orgs/acme/identifications/chain/" + created["id"].(string)

		env.Clock.Advance(15*time.Minute - time.Second)
		if m := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t); m["status"] != "CREATED" {
			t.Fatalf("one second before expiry: got %v, want CREATED", m["status"])
		}
		env.Clock.Advance(time.Second)
		m := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t)
		if m["status"] != "EXPIRED" || m["ended_at"] != created["expires_at"] || m["version"] != float64(1) {
			t.Errorf("at expiry: got status %v ended_at %v version %v, want EXPIRED %v 1", m["status"], m["ended_at"], m["version"], created["expires_at"])
		}
		for _, action := range []string{"cancel", "close"} {
			r := env.Do(t, apitest.Request{Method: http.MethodPost, Path: path + "/" + action, Token: token})
			if r.Status != http.StatusConflict || r.Errors(t)[0].Code != "MDOC_005" {
				t.Errorf("%s after expiry: got %d %s, want 409 MDOC_005", action, r.Status, r.Body)
			}
		}
	})
}

func TestRacingCancelsAndClosesHaveOneWinner(t *testing.T) {
	const goroutines, rounds = 32, 20
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		for round := 0; round < rounds; round++ {
			kind := []string{"otp", "chain"}[round%2]
			body := otpExample
			if kind == "chain" {
				body = chainExample
			}
			created := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/" + kind, Body: body, Token: token})
			if created.Status != http.StatusCreated {
				t.Fatalf("round %d: create: %d %s", round, created.Status, created.Body)
			}
			id := created.Identification(t)["id"].(string)
			path := "/v1/orgs/acme/identifications/" + kind + "/" + id
			statuses := make([]int, goroutines)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					req := apitest.Request{Method: http.MethodPost, Path: path + "/close", Token: token}
					if g%2 == 0 {
						req = apitest.Request{Method: http.MethodPost, Path: path + "/cancel", Body: `{"reason":"race"}`, Token: token}
					}
					statuses[g] = env.Do(t, req).Status
				}()
			}
			close(start)
			wg.Wait()
			wins, conflicts := 0, 0
			winner := -1
			for g, s := range statuses {
				switch s {
				case http.StatusNoContent:
					wins++
					winner = g
				case http.StatusConflict:
					conflicts++
				default:
					t.Errorf("round %d goroutine %d: unexpected status %d", round, g, s)
				}
			}
			if wins != 1 || conflicts != goroutines-1 {
				t.Fatalf("round %d: got %d winners and %d conflicts, want 1 and %d", round, wins, conflicts, goroutines-1)
			}
			m := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token}).Identification(t)
			wantStatus := map[bool]string{true: "CANCELLED", false: "CLOSED"}[winner%2 == 0]
			if m["version"] != float64(2) || m["status"] != wantStatus {
				t.Fatalf("round %d: got version %v status %v, want 2 %s", round, m["version"], m["status"], wantStatus)
			}
		}
	})
}

func TestDelete(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		admin := env.AdminToken(t, "acme")
		force := env.Token(t, "acme", auth.ScopeAdmin, auth.ScopeForceDelete)
		otp := func(id string) string { return "/v1/orgs/acme/identifications/otp/" + id }

		created := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample, Token: admin})
		id := created.Identification(t)["id"].(string)
		if r := env.Do(t, apitest.Request{Method: http.MethodDelete, Path: otp(id), Token: admin}); r.Status != http.StatusNoContent {
			t.Fatalf("delete CREATED: got %d, want 204: %s", r.Status, r.Body)
		}
		if r := env.Do(t, apitest.Request{Method: http.MethodDelete, Path: otp(id), Token: admin}); r.Status != http.StatusNotFound {
			t.Errorf("delete again: got %d, want 404", r.Status)
		}
		if r := env.Do(t, apitest.Request{Method: http.MethodGet, Path: otp(id), Token: admin}); r.Status != http.StatusNotFound {
			t.Errorf("read after delete: got %d, want 404", r.Status)
		}

		inProgress := seed(t, env, "acme", identification.TypeOTP, seeded{"IN_PROGRESS", identification.StatusInProgress, false})
		cases := []struct {
			name   string
			req    apitest.Request
			status int
		}{
			{"IN_PROGRESS without force", apitest.Request{Method: http.MethodDelete, Path: otp(inProgress), Token: force}, 403},
			{"IN_PROGRESS force=false", apitest.Request{Method: http.MethodDelete, Path: otp(inProgress) + "?force=false", Token: force}, 403},
			{"force without the force-delete scope", apitest.Request{Method: http.MethodDelete, Path: otp(inProgress) + "?force=true", Token: admin}, 403},
			{"force with the force-delete scope", apitest.Request{Method: http.MethodDelete, Path: otp(inProgress) + "?force=true", Token: force}, 204},
			{"gone afterwards", apitest.Request{Method: http.MethodGet, Path: otp(inProgress), Token: admin}, 404},
			{"force on a missing id", apitest.Request{Method: http.MethodDelete, Path: otp(newID(t)) + "?force=true", Token: force}, 404},
		}
		for _, tc := range cases {
			r := env.Do(t, tc.req)
			if r.Status != tc.status {
				t.Errorf("%s: got %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
				continue
			}
			if tc.status == 403 && r.Errors(t)[0].Code != "MDOC_003" {
				t.Errorf("%s: code %s, want MDOC_003", tc.name, r.Errors(t)[0].Code)
			}
		}
	})
}

func TestCancelReasonIsShownExactlyWhenCancelled(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		cases := []struct {
			name, kind, body, cancel string
			want                     any
		}{
			{"chain cancelled without a body", "chain", chainExample, "", ""},
			{"chain cancelled with an empty object", "chain", chainExample, "{}", ""},
			{"chain cancelled with a reason", "chain", chainExample, `{"reason":"duplicate"}`, "duplicate"},
			{"otp cancelled", "otp", otpExample, `{"reason":"asked"}`, "asked"},
			{"otp closed", "otp", otpExample, "", nil},
		}
		for _, tc := range cases {
			base := "/v1/orgs/acme/identifications/" + tc.kind
			id := env.Do(t, apitest.Request{Method: http.MethodPost, Path: base, Body: tc.body, Token: token}).Identification(t)["id"].(string)
			action := "/cancel"
			if tc.want == nil {
				action = "/close"
			}
			if r := env.Do(t, apitest.Request{Method: http.MethodPost, Path: base + "/" + id + action, Body: tc.cancel, Token: token}); r.Status != http.StatusNoContent {
				t.Fatalf("%s: got %d %s", tc.name, r.Status, r.Body)
			}
			m := env.Do(t, apitest.Request{Method: http.MethodGet, Path: base + "/" + id, Token: token}).Identification(t)
			got, present := m["cancel_reason"]
			if present != (tc.want != nil) || got != tc.want {
				t.Errorf("%s: cancel_reason present=%v value %v, want %v", tc.name, present, got, tc.want)
			}
		}
	})
}
