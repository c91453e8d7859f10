package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
)

func TestOrganisationsAreIsolated(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		tokenA := env.AdminToken(t, "acme")
		tokenB := env.Token(t, "globex", auth.ScopeAdmin, auth.ScopeForceDelete)
		idA := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample, Token: tokenA}).Identification(t)["id"].(string)
		chainA := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample, Token: tokenA}).Identification(t)["id"].(string)

		// Org B's token on org A's paths: 401, whatever the operation.
		for _, req := range []apitest.Request{
			{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/otp/" + idA},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp/" + idA + "/cancel", Body: `{"reason":"x"}`},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp/" + idA + "/close"},
			{Method: http.MethodDelete, Path: "/v1/orgs/acme/identifications/otp/" + idA + "?force=true"},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample},
			{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/chain/" + chainA},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain/" + chainA + "/cancel"},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain/" + chainA + "/close"},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample},
		} {
			req.Token = tokenB
			resp := env.Do(t, req)
			if resp.Status != http.StatusUnauthorized || resp.Errors(t)[0].Code != "MDOC_003" {
				t.Errorf("%s %s with org B's token: got %d %s, want 401 MDOC_003", req.Method, req.Path, resp.Status, resp.Body)
			}
		}

		// Org B's token on org B's path with org A's id: the same answer as
		// for a random id, operation by operation.
		random := newID(t)
		for _, op := range []struct{ method, kind, suffix, body string }{
			{http.MethodGet, "otp", "", ""},
			{http.MethodPost, "otp", "/cancel", `{"reason":"x"}`},
			{http.MethodPost, "otp", "/close", ""},
			{http.MethodDelete, "otp", "", ""},
			{http.MethodDelete, "otp", "?force=true", ""},
			{http.MethodGet, "chain", "", ""},
			{http.MethodPost, "chain", "/cancel", ""},
			{http.MethodPost, "chain", "/close", ""},
		} {
			foreign := idA
			if op.kind == "chain" {
				foreign = chainA
			}
			path := func(id string) string { return "/v1/orgs/globex/identifications/" + op.kind + "/" + id + op.suffix }
			got := env.Do(t, apitest.Request{Method: op.method, Path: path(foreign), Body: op.body, Token: tokenB})
			want := env.Do(t, apitest.Request{Method: op.method, Path: path(random), Body: op.body, Token: tokenB})
			if got.Status != http.StatusNotFound || got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
				t.Errorf("%s %s: another org's id got %d %s; a random id got %d %s; want the same 404",
					op.method, path("<id>"), got.Status, got.Body, want.Status, want.Body)
			}
		}
		// And org A's records are untouched.
		m := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/acme/identifications/otp/" + idA, Token: tokenA}).Identification(t)
		if m["status"] != "CREATED" || m["version"] != float64(1) {
			t.Errorf("org A's record changed: %v", m)
		}
	})
}

func TestTokensAreChecked(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		path := "/v1/orgs/acme/identifications/otp/" + newID(t)
		cases := []struct {
			name  string
			token string
			want  int
		}{
			{"no token", "", 401},
			{"admin scope missing", env.Token(t, "acme", "identifications/read"), 401},
			{"org prefix is not the org", env.AdminToken(t, "acme2"), 401},
			{"org list without the org", env.AdminToken(t, "globex initech"), 401},
			{"org list with the org", env.AdminToken(t, "globex acme"), 404},
		}
		for _, tc := range cases {
			resp := env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: tc.token})
			if resp.Status != tc.want {
				t.Errorf("%s: got %d, want %d: %s", tc.name, resp.Status, tc.want, resp.Body)
			}
		}
	})
}

func TestEveryOperationIsOneDynamoDBCall(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.Token(t, "acme", auth.ScopeAdmin, auth.ScopeForceDelete)
		otpID := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample, Token: token}).Identification(t)["id"].(string)
		chainID := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample, Token: token}).Identification(t)["id"].(string)
		otp := "/v1/orgs/acme/identifications/otp"
		chain := "/v1/orgs/acme/identifications/chain"
		cases := []struct {
			name   string
			req    apitest.Request
			status int
			op     string
		}{
			{"create-otp", apitest.Request{Method: http.MethodPost, Path: otp, Body: otpExample}, 201, "PutItem"},
			{"create-chain", apitest.Request{Method: http.MethodPost, Path: chain, Body: chainExample}, 201, "PutItem"},
			{"get-otp", apitest.Request{Method: http.MethodGet, Path: otp + "/" + otpID}, 200, "GetItem"},
			{"get-chain", apitest.Request{Method: http.MethodGet, Path: chain + "/" + chainID}, 200, "GetItem"},
			{"get-otp missing", apitest.Request{Method: http.MethodGet, Path: otp + "/" + newID(t)}, 404, "GetItem"},
			{"cancel-chain", apitest.Request{Method: http.MethodPost, Path: chain + "/" + chainID + "/cancel"}, 204, "UpdateItem"},
			{"close-chain refused", apitest.Request{Method: http.MethodPost, Path: chain + "/" + chainID + "/close"}, 409, "UpdateItem"},
			{"close-otp", apitest.Request{Method: http.MethodPost, Path: otp + "/" + otpID + "/close"}, 204, "UpdateItem"},
			{"cancel-otp refused", apitest.Request{Method: http.MethodPost, Path: otp + "/" + otpID + "/cancel", Body: `{"reason":"x"}`}, 409, "UpdateItem"},
			{"cancel-otp missing", apitest.Request{Method: http.MethodPost, Path: otp + "/" + newID(t) + "/cancel", Body: `{"reason":"x"}`}, 404, "UpdateItem"},
			// A delete reads the key it was created with (to erase that
			// key's record with it), then leaves a tombstone.
			{"delete-otp refused", apitest.Request{Method: http.MethodDelete, Path: otp + "/" + otpID}, 403, "GetItem+UpdateItem"},
			{"delete-otp forced", apitest.Request{Method: http.MethodDelete, Path: otp + "/" + otpID + "?force=true"}, 204, "GetItem+UpdateItem"},
		}
		for _, tc := range cases {
			env.Counter.Reset()
			tc.req.Token = token
			resp := env.Do(t, tc.req)
			if resp.Status != tc.status {
				t.Errorf("%s: got %d, want %d: %s", tc.name, resp.Status, tc.status, resp.Body)
			}
			ops := strings.Split(tc.op, "+")
			got := env.Counter.ByOperation()
			for _, op := range ops {
				if got[op] != 1 {
					t.Errorf("%s: DynamoDB calls %v, want exactly one %s", tc.name, got, tc.op)
				}
			}
			if env.Counter.Total() != len(ops) {
				t.Errorf("%s: DynamoDB calls %v, want exactly one %s", tc.name, got, tc.op)
			}
		}
		// Requests refused before the store is reached cost nothing.
		env.Counter.Reset()
		env.Do(t, apitest.Request{Method: http.MethodPost, Path: otp, Body: `{}`, Token: token})
		env.Do(t, apitest.Request{Method: http.MethodGet, Path: otp + "/" + otpID})
		if n := env.Counter.Total(); n != 0 {
			t.Errorf("refused requests made %d DynamoDB calls, want 0", n)
		}
	})
}

func TestUnknownAndUncleanPathsGetAnErrorsResponse(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		cases := []struct {
			method, path string
			status       int
		}{
			{http.MethodGet, "/v1/orgs//identifications/otp/" + newID(t), 404},
			{http.MethodPost, "/v1/orgs/acme/identifications/./otp", 404},
			{http.MethodGet, "/v1/orgs/acme/identifications/../identifications/otp/" + newID(t), 404},
			{http.MethodGet, "/v1/orgs/acme/identifications/otp/", 404},
			{http.MethodGet, "/v2/orgs/acme", 404},
			{http.MethodPut, "/v1/orgs/acme/identifications/otp/" + newID(t), 405},
			{http.MethodDelete, "/v1/orgs/acme/identifications/chain/" + newID(t), 405},
		}
		for _, tc := range cases {
			resp := env.Do(t, apitest.Request{Method: tc.method, Path: tc.path, Token: token})
			if resp.Status != tc.status {
				t.Errorf("%s %s: got %d, want %d: %s", tc.method, tc.path, resp.Status, tc.status, resp.Body)
				continue
			}
			resp.Errors(t)
		}
	})
}
