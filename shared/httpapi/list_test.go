package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/httpapi"
)

type listPage struct {
	Items []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func listOf(t *testing.T, env *apitest.Env, token, kind, query string) (listPage, *apitest.Response) {
	t.Helper()
	resp := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/" + kind + "?" + query, Token: token})
	var p listPage
	if resp.Status == http.StatusOK {
		if err := json.Unmarshal(resp.Body, &p); err != nil {
			t.Fatalf("list answer: %v: %s", err, resp.Body)
		}
	}
	return p, resp
}

// TestListingOverHTTP: the page answers each process as its read does, the
// cursor leads on, and a cancelled or deleted process is where it should
// be (a tombstone is in no listing).
func TestListingOverHTTP(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		var ids []string
		for range 5 {
			ids = append(ids, createOTP(t, env, token))
			env.Clock.Advance(time.Second)
		}
		p, resp := listOf(t, env, token, "otp", "limit=3")
		if resp.Status != http.StatusOK || len(p.Items) != 3 || p.NextCursor == nil {
			t.Fatalf("first page: %d %s", resp.Status, resp.Body)
		}
		if p.Items[0].ID != ids[4] || p.Items[2].ID != ids[2] {
			t.Fatalf("first page is not newest first: %s", resp.Body)
		}
		// Each item is the read of the process, byte for byte.
		var raw struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(resp.Body, &raw); err != nil {
			t.Fatal(err)
		}
		read := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/otp/" + ids[4], Token: token})
		if got, want := compact(t, raw.Items[0]), compact(t, read.Body); got != want {
			t.Fatalf("a listed item differs from its read:\n%s\n%s", got, want)
		}
		next, resp := listOf(t, env, token, "otp", "limit=3&cursor="+url.QueryEscape(*p.NextCursor))
		if resp.Status != http.StatusOK || len(next.Items) != 2 || next.NextCursor != nil || !strings.Contains(string(resp.Body), `"next_cursor":null`) {
			t.Fatalf("last page: %d %s", resp.Status, resp.Body)
		}
		// Cancelled: listed under CANCELLED, no longer under CREATED.
		cancel := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp/" + ids[1] + "/cancel", Token: token, Body: `{"reason":"r"}`})
		if cancel.Status != http.StatusNoContent {
			t.Fatalf("cancel: %d %s", cancel.Status, cancel.Body)
		}
		if p, _ := listOf(t, env, token, "otp", "status=CANCELLED"); len(p.Items) != 1 || p.Items[0].ID != ids[1] || p.Items[0].Status != "CANCELLED" {
			t.Fatalf("status=CANCELLED: %+v", p)
		}
		if p, _ := listOf(t, env, token, "otp", "status=CREATED"); len(p.Items) != 4 {
			t.Fatalf("status=CREATED: %d items, want 4", len(p.Items))
		}
		// Deleted: in no listing, by status or by actor.
		del := env.Do(t, apitest.Request{Method: http.MethodDelete, Path: "/v1/orgs/acme/identifications/otp/" + ids[0], Token: token})
		if del.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", del.Status, del.Body)
		}
		for _, q := range []string{"", "status=CREATED", "email=example%40email.com", "phone=%2B346123456789", "document_number=12345678a"} {
			p, resp := listOf(t, env, token, "otp", q)
			if resp.Status != http.StatusOK {
				t.Fatalf("%q: %d %s", q, resp.Status, resp.Body)
			}
			for _, it := range p.Items {
				if it.ID == ids[0] {
					t.Errorf("%q lists the deleted process", q)
				}
			}
			if want := map[bool]int{true: 3, false: 4}[q == "status=CREATED"]; len(p.Items) != want {
				t.Errorf("%q: %d items, want %d", q, len(p.Items), want)
			}
		}
		// A "+" sent unencoded arrives as a space: read as the "+" it was.
		if p, resp := listOf(t, env, token, "otp", "phone=+346123456789"); resp.Status != http.StatusOK || len(p.Items) != 4 {
			t.Fatalf("phone with a raw +: %d %s", resp.Status, resp.Body)
		}
		// Chains are another listing.
		if p, resp := listOf(t, env, token, "chain", ""); resp.Status != http.StatusOK || len(p.Items) != 0 {
			t.Fatalf("chains: %d %s", resp.Status, resp.Body)
		}
	})
}

// otpBody is the example create body: example@email.com, +346123456789,
// document 12345678A.
var otpBody = routefacts.Example(httpapi.CreateOTP.Name)

func createOTP(t *testing.T, env *apitest.Env, token string) string {
	t.Helper()
	resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Token: token, Body: otpBody})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestBadListQueriesAre400: every bad parameter and every cursor that is not
// the unchanged next_cursor of the same query in the same organisation is a
// 400 MDOC_001 naming the parameter, never echoing the value.
func TestBadListQueriesAre400(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		for range 3 {
			createOTP(t, env, token)
		}
		p, resp := listOf(t, env, token, "otp", "limit=1&status=CREATED")
		if resp.Status != http.StatusOK || p.NextCursor == nil {
			t.Fatalf("first page: %d %s", resp.Status, resp.Body)
		}
		cursor := *p.NextCursor
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			t.Fatalf("cursor is not base64url: %v", err)
		}
		tampered := []byte(raw)
		tampered[5] ^= 1 // one digit of the position
		// The other org's cursor: globex pages its own processes.
		globex := env.AdminToken(t, "globex")
		for range 2 {
			env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/globex/identifications/otp", Token: globex, Body: otpBody})
		}
		gresp := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/globex/identifications/otp?limit=1&status=CREATED", Token: globex})
		var gp listPage
		if err := json.Unmarshal(gresp.Body, &gp); err != nil || gp.NextCursor == nil {
			t.Fatalf("globex page: %d %s", gresp.Status, gresp.Body)
		}
		esc := url.QueryEscape
		cases := []struct{ name, query, param string }{
			{"limit 0", "limit=0", "limit"},
			{"limit 101", "limit=101", "limit"},
			{"limit x", "limit=x", "limit"},
			{"limit twice", "limit=1&limit=2", "limit"},
			{"unknown status", "status=CREATED,DONE", "status"},
			{"empty status", "status=", "status"},
			{"bad created_from", "created_from=yesterday", "created_from"},
			{"created_to before created_from", "created_from=2026-12-01T00:00:00Z&created_to=2026-11-01T00:00:00Z", "created_to"},
			{"bad email", "email=not-an-address", "email"},
			{"phone without +", "phone=34612345678", "phone"},
			{"phone with letters", "phone=%2B3461234abcd", "phone"},
			{"bad document number", "document_number=12%2F34", "document_number"},
			{"unknown parameter", "sort=asc", "sort"},
			{"tampered cursor", "limit=1&status=CREATED&cursor=" + esc(base64.RawURLEncoding.EncodeToString(tampered)), "cursor"},
			{"cursor of another query", "limit=1&status=COMPLETED&cursor=" + esc(cursor), "cursor"},
			{"cursor without its filters", "limit=1&cursor=" + esc(cursor), "cursor"},
			{"cursor of another org", "limit=1&status=CREATED&cursor=" + esc(*gp.NextCursor), "cursor"},
			{"cursor not base64", "cursor=%25%25%25", "cursor"},
			{"a value that cannot be decoded", "email=%zz", "query"},
			{"cursor too long", "cursor=" + strings.Repeat("a", 600), "cursor"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, resp := listOf(t, env, token, "otp", c.query)
				if resp.Status != http.StatusBadRequest {
					t.Fatalf("%s: %d %s, want 400", c.query, resp.Status, resp.Body)
				}
				errs := resp.Errors(t)
				if len(errs) != 1 || errs[0].Code != "MDOC_001" || !strings.HasPrefix(errs[0].Details, c.param+":") {
					t.Fatalf("%s: %s, want MDOC_001 naming %s", c.query, resp.Body, c.param)
				}
				for _, v := range []string{"not-an-address", "abcd", "yesterday", "DONE", "asc"} {
					if strings.Contains(errs[0].Details, v) {
						t.Fatalf("%s: the details echo the value: %s", c.query, errs[0].Details)
					}
				}
			})
		}
		// A changed limit keeps the cursor: the page size is the client's.
		if _, resp := listOf(t, env, token, "otp", "limit=2&status=CREATED&cursor="+esc(cursor)); resp.Status != http.StatusOK {
			t.Fatalf("the cursor with another limit: %d %s", resp.Status, resp.Body)
		}
	})
}
