package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// Distinctive actor data: none of it may reach a log line (docs/auth.md).
var piiActors = []struct{ name, lastName, email, document, phone string }{
	{"Zebulon", "Quixotic-Fairweather", "zebulon.quixotic@pii-example.org", "PIIDOC98765X", "698765432"},
	{"Marguerite", "Oyelaran", "marguerite.o@pii-example.net", "Y7654321Q", "612987654"},
}

func piiActor(n int) string {
	a := piiActors[n]
	return fmt.Sprintf(`{"name":%q,"last_name":%q,"email":%q,"identity_document":{"document_number":%q,"document_type":"NIE","country":"ES"},"msisdn":{"phone_number":%s,"country_code":"+34"},"language":"EN"}`,
		a.name, a.lastName, a.email, a.document, a.phone)
}

// piiValues are every value above, plus the reasons and keys the workload
// sends, which are not actor data but are request bodies, never logged.
func piiValues() []string {
	var out []string
	for _, a := range piiActors {
		out = append(out, a.name, a.lastName, a.email, a.document, a.phone)
	}
	return append(out, "Zebulon Quixotic", "cancelled-by-Zebulon")
}

// TestLogsHoldNoActorData runs a mixed workload carrying distinctive actor
// data (creates, reads, refused bodies, conflicts, a throttled store, a
// failing store, a panicking store) with every log line captured, then
// looks for the data in the logs.
func TestLogsHoldNoActorData(t *testing.T) {
	apitest.NotePII(piiValues()...)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		token := env.Token(t, "acme", auth.ScopeAdmin, auth.ScopeForceDelete)
		otpBody := `{"actor":` + piiActor(0) + `,"expires_in":"PT15M","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS"}}`
		chainBody := `{"actor":` + piiActor(1) + `,"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"EMAIL","channel":{"type":"EMAIL"}}},{"identification_type":"AGENT"}]}`
		do := func(method, path, body string, want int) *apitest.Response {
			t.Helper()
			r := env.Do(t, apitest.Request{Method: method, Path: path, Body: body, Token: token})
			if r.Status != want {
				t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
			}
			return r
		}
		otp := "/v1/orgs/acme/identifications/otp"
		chain := "/v1/orgs/acme/identifications/chain"
		otpID := do("POST", otp, otpBody, 201).Identification(t)["id"].(string)
		chainID := do("POST", chain, chainBody, 201).Identification(t)["id"].(string)
		do("GET", otp+"/"+otpID, "", 200)
		do("GET", chain+"/"+chainID, "", 200)
		do("POST", otp+"/"+otpID+"/cancel", `{"reason":"cancelled-by-Zebulon"}`, 204)
		do("POST", otp+"/"+otpID+"/cancel", `{"reason":"cancelled-by-Zebulon"}`, 409)
		do("POST", otp+"/"+otpID+"/close", "", 409)
		do("DELETE", otp+"/"+otpID, "", 403)
		do("POST", chain+"/"+chainID+"/close", "", 204)
		do("GET", otp+"/"+newID(t), "", 404)

		// Refused bodies carrying the data in every place a parser could
		// quote it.
		bad := []string{
			strings.Replace(otpBody, `"zebulon.quixotic@pii-example.org"`, `"Zebulon Quixotic <zebulon.quixotic@pii-example.org>"`, 1),
			strings.Replace(otpBody, `"PIIDOC98765X"`, `"PIIDOC98765X PIIDOC98765X PIIDOC98765X PIIDOC98765X"`, 1),
			strings.Replace(otpBody, `"name":"Zebulon"`, `"name":"Zebulon","Zebulon Quixotic":"Quixotic-Fairweather"`, 1),
			strings.Replace(otpBody, `"phone_number":698765432`, `"phone_number":"698765432x"`, 1),
			strings.Replace(otpBody, `"phone_number":698765432`, `"phone_number":{"zebulon.quixotic@pii-example.org":698765432}`, 1),
			otpBody[:len(otpBody)-40],
			otpBody + `,"Zebulon"`,
			`{"actor":{"name":"` + strings.Repeat("Zebulon ", 10<<10) + `"}}`,
		}
		for _, b := range bad {
			do("POST", otp, b, 400)
			do("POST", chain, strings.Replace(b, `"channel":{"type":"SMS"}`, `"sequence":"Marguerite"`, 1), 400)
		}
		do("POST", otp+"/"+otpID+"/cancel", `{"reason":"cancelled-by-Zebulon","Zebulon Quixotic":1}`, 400)

		// The store throttles: 503s, logged as warnings with the cause.
		faultyEnv, faults := faultEnv(t, e)
		faults.Set(apitest.Rule{Fault: apitest.FaultThrottle})
		ftoken := faultyEnv.AdminToken(t, "acme")
		for _, req := range []apitest.Request{
			{Method: "POST", Path: otp, Body: otpBody},
			{Method: "POST", Path: chain, Body: chainBody},
			{Method: "POST", Path: otp + "/" + otpID + "/cancel", Body: `{"reason":"cancelled-by-Zebulon"}`},
		} {
			req.Token = ftoken
			if r := faultyEnv.Do(t, req); r.Status != http.StatusServiceUnavailable {
				t.Errorf("throttled %s %s: got %d", req.Method, req.Path, r.Status)
			}
		}

		// The store fails or panics: 500s, logged with detail.
		brokenEnv := apitest.NewWithOptions(t, e, apitest.Options{WrapStore: func(s identification.Store) identification.Store { return brokenStore{s} }})
		brokenEnv.AllowInternalErrors = true
		btoken := brokenEnv.AdminToken(t, "acme")
		for _, req := range []apitest.Request{
			{Method: "POST", Path: otp, Body: otpBody},
			{Method: "POST", Path: chain, Body: chainBody},
			{Method: "GET", Path: otp + "/" + otpID},
			{Method: "POST", Path: otp + "/" + otpID + "/cancel", Body: `{"reason":"cancelled-by-Zebulon"}`},
		} {
			req.Token = btoken
			if r := brokenEnv.Do(t, req); r.Status != http.StatusInternalServerError {
				t.Errorf("broken store %s %s: got %d", req.Method, req.Path, r.Status)
			} else if errs := r.Errors(t); errs[0].Code != "MDOC_000" || strings.Contains(errs[0].Details, "DynamoDB") {
				t.Errorf("broken store %s %s: body %s, want a generic MDOC_000", req.Method, req.Path, r.Body)
			}
		}

		logs := env.Logs.String() + faultyEnv.Logs.String() + brokenEnv.Logs.String()
		for _, want := range []string{`"msg":"request"`, `"msg":"store unavailable"`, `"msg":"internal error"`, `"msg":"panic"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("the workload logged no %s line; the test would prove nothing about it", want)
			}
		}
		for _, v := range piiValues() {
			if strings.Contains(logs, v) {
				t.Errorf("the logs hold %q:\n%s", v, logs)
			}
		}
		apitest.AssertNoPII(t)
	})
}

// brokenStore fails the way a store can, with the detail a real failure
// would log, and panics on reads.
type brokenStore struct{ identification.Store }

var errBroken = errors.New("operation error DynamoDB: PutItem, https response error StatusCode: 400, RequestID: broken, api error ValidationException: One or more parameter values were invalid")

func (brokenStore) Create(context.Context, *identification.Identification, *identification.CodeMaterial) error {
	return fmt.Errorf("put item: %w", errBroken)
}

func (brokenStore) Get(context.Context, identification.Ref) (*identification.Identification, error) {
	panic("broken store: get")
}

func (brokenStore) Apply(context.Context, identification.Ref, identification.Effect) (identification.Result, error) {
	return identification.Result{}, fmt.Errorf("update item: %w", errBroken)
}

func (brokenStore) Delete(context.Context, identification.Ref, bool, identification.Caller, time.Time) error {
	return fmt.Errorf("delete item: %w", errBroken)
}
