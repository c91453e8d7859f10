package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// The actor's side of the flow, end to end through the handler tree on
// both engines: codes, attempts, resends, chains bound to a device, roles.

const flowOTP = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678-A","document_type":"NIF"},"email":"James.Smith@Example.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`

// flow is one Env with the tokens of every role for org acme.
type flow struct {
	env                 *apitest.Env
	admin, actor, agent string
	otherOrg            string
	device, otherDevice http.Header
}

func newFlow(t *testing.T, e enginetest.Engine) *flow {
	t.Helper()
	return flowOn(t, apitest.New(t, e))
}

// flowOn is the flow of env.
func flowOn(t *testing.T, env *apitest.Env) *flow {
	t.Helper()
	return &flow{
		env:      env,
		admin:    env.Token(t, "acme", auth.ScopeAdmin),
		actor:    env.Token(t, "acme", auth.ScopeActor),
		agent:    env.Token(t, "acme", auth.ScopeAgent),
		otherOrg: env.Token(t, "globex", auth.ScopeActor, auth.ScopeAdmin),
		device: http.Header{"X-Installation_id": {"install-7f3a9c21"}, "X-Fingerprint": {"fp-9d8e7c6b5a"},
			"X-Location": {"40.4168,-3.7038"}},
		otherDevice: http.Header{"X-Installation_id": {"install-other-42"}, "X-Fingerprint": {"fp-other-4242"}},
	}
}

func (f *flow) do(t *testing.T, method, path, body, token string, h http.Header) *apitest.Response {
	t.Helper()
	return f.env.Do(t, apitest.Request{Method: method, Path: path, Body: body, Token: token, Header: h})
}

// createOTP creates the flow's OTP identification; it returns its id and
// the code the 201 carries.
func (f *flow) createOTP(t *testing.T, body string) (id, code string, created map[string]any) {
	t.Helper()
	r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/otp", body, f.admin, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	m := r.Identification(t)
	code, _ = m["otp_code"].(string)
	return m["id"].(string), code, m
}

func (f *flow) read(t *testing.T, typ, id string) map[string]any {
	t.Helper()
	r := f.do(t, http.MethodGet, "/v1/orgs/acme/identifications/"+typ+"/"+id, "", f.admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	return r.Identification(t)
}

func validateBody(code, twoFactor string) string {
	b, _ := json.Marshal(map[string]string{"code": code, "two_factor": twoFactor})
	return string(b)
}

// wrong is a code that is not code.
func wrong(code string) string {
	if code[0] == 'z' {
		return "y" + code[1:]
	}
	return "z" + code[1:]
}

func wantError(t *testing.T, what string, r *apitest.Response, status int, code string) identification.Kind {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: got %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
	if errs := r.Errors(t); errs[0].Code != code {
		t.Errorf("%s: code %s, want %s (%s)", what, errs[0].Code, code, errs[0].Details)
	}
	return 0
}

func TestExternalOTPFlow(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, code, created := f.createOTP(t, flowOTP)
		if len(code) != identification.CodeLength || !identification.ValidCodeShape(code) || strings.ToLower(code) != code {
			t.Fatalf("otp_code %q, want 6 of 0-9a-z", code)
		}
		wantExpiry := apitest.Start.Add(10 * time.Minute).Format(time.RFC3339)
		if created["code_expires_at"] != wantExpiry {
			t.Errorf("code_expires_at %v, want %s", created["code_expires_at"], wantExpiry)
		}
		validate := "/v1/orgs/acme/identifications/otp/" + id + "/validate"

		r := f.do(t, http.MethodPut, validate, validateBody(wrong(code), "12345678A"), f.actor, f.device)
		wantError(t, "wrong code", r, http.StatusUnprocessableEntity, "MDOC_007")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "4 attempts left") {
			t.Errorf("details %q, want the attempts left", d)
		}
		got := f.read(t, "otp", id)
		if got["status"] != "IN_PROGRESS" {
			t.Errorf("after a wrong attempt: %v, want IN_PROGRESS", got["status"])
		}
		if otp := got["otp"].(map[string]any); otp["attempts"] != 1.0 || otp["attempts_left"] != 4.0 {
			t.Errorf("otp %v, want 1 attempt, 4 left", otp)
		}
		// The right code in upper case, the document number in lower case
		// with spaces and a hyphen.
		r = f.do(t, http.MethodPut, validate, validateBody(strings.ToUpper(code), " 1234-5678 a "), f.actor, f.device)
		if r.Status != http.StatusNoContent {
			t.Fatalf("right code: %d %s", r.Status, r.Body)
		}
		got = f.read(t, "otp", id)
		if got["status"] != "COMPLETED" || got["completed_at"] == nil {
			t.Errorf("after the right code: %v completed_at %v", got["status"], got["completed_at"])
		}
		if d, _ := got["completed_device"].(map[string]any); d["installation_id"] != "install-7f3a9c21" || d["location"] != "40.4168,-3.7038" {
			t.Errorf("completed_device %v, want the device of the call", got["completed_device"])
		}
		if strings.Contains(fmt.Sprint(got), code) {
			t.Errorf("the read shows the code: %v", got)
		}
		r = f.do(t, http.MethodPut, validate, validateBody(code, "12345678A"), f.actor, f.device)
		if r.Status != http.StatusConflict {
			t.Errorf("the same code again: %d %s, want 409", r.Status, r.Body)
		}
	})
}

func TestFiveWrongAttemptsFail(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, code, _ := f.createOTP(t, flowOTP)
		validate := "/v1/orgs/acme/identifications/otp/" + id + "/validate"
		for n := 1; n <= identification.MaxAttempts; n++ {
			r := f.do(t, http.MethodPut, validate, validateBody(wrong(code), "12345678A"), f.actor, f.device)
			wantError(t, fmt.Sprintf("wrong attempt %d", n), r, http.StatusUnprocessableEntity, "MDOC_007")
			if d := r.Errors(t)[0].Details; !strings.Contains(d, fmt.Sprintf("%d attempts left", identification.MaxAttempts-n)) {
				t.Errorf("attempt %d: details %q", n, d)
			}
		}
		got := f.read(t, "otp", id)
		if got["status"] != "FAILED" || got["failure_reason"] != "MAX_ATTEMPTS" || got["ended_at"] == nil {
			t.Errorf("after five wrong: %v %v ended %v, want FAILED MAX_ATTEMPTS", got["status"], got["failure_reason"], got["ended_at"])
		}
		r := f.do(t, http.MethodPut, validate, validateBody(code, "12345678A"), f.actor, f.device)
		wantError(t, "the right code after failing", r, http.StatusConflict, "MDOC_005")
		// A right code with the wrong second factor counts as wrong, and
		// the answer never says which was wrong.
		id2, code2, _ := f.createOTP(t, flowOTP)
		r = f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id2+"/validate", validateBody(code2, "99999999Z"), f.actor, f.device)
		wantError(t, "right code, wrong document", r, http.StatusUnprocessableEntity, "MDOC_007")
		if d := r.Errors(t)[0].Details; strings.Contains(d, "document") {
			t.Errorf("details %q say which value was wrong", d)
		}
		r = f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id2+"/validate", `{"code":"`+code2+`"}`, f.actor, f.device)
		wantError(t, "no second factor where one is needed", r, http.StatusBadRequest, "MDOC_002")
		if got := f.read(t, "otp", id2); got["otp"].(map[string]any)["attempts"] != 1.0 {
			t.Errorf("a refused body was counted: %v", got["otp"])
		}
	})
}

// TestAttemptBursts: 40 wrong guesses at once give exactly five 422 and
// thirty-five 409; 19 wrong and 1 right end COMPLETED or FAILED, with never
// more than five compared. 20 rounds each.
func TestAttemptBursts(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		burst := func(t *testing.T, id string, bodies []string) map[int]int {
			var mu sync.Mutex
			counts := map[int]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, b := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", b, f.actor, f.device)
					mu.Lock()
					counts[r.Status]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			return counts
		}
		for round := 0; round < 20; round++ {
			id, code, _ := f.createOTP(t, flowOTP)
			bodies := make([]string, 40)
			for n := range bodies {
				bodies[n] = validateBody(wrong(code), "12345678A")
			}
			counts := burst(t, id, bodies)
			if counts[422] != 5 || counts[409] != 35 || len(counts) != 2 {
				t.Fatalf("round %d, 40 wrong: %v, want 5×422 and 35×409", round, counts)
			}
			if got := f.read(t, "otp", id); got["status"] != "FAILED" {
				t.Fatalf("round %d: %v, want FAILED", round, got["status"])
			}

			id, code, _ = f.createOTP(t, flowOTP)
			bodies = bodies[:20]
			for n := range bodies {
				bodies[n] = validateBody(wrong(code), "12345678A")
			}
			bodies[round%20] = validateBody(code, "12345678A")
			counts = burst(t, id, bodies)
			got := f.read(t, "otp", id)
			compared := counts[422] + counts[204]
			switch {
			case compared > 5 || compared+counts[409] != 20 || counts[204] > 1:
				t.Fatalf("round %d, 19 wrong and 1 right: %v, want at most five compared, the rest 409", round, counts)
			case counts[204] == 0 && compared != 5:
				t.Fatalf("round %d: %v: the right one was not compared, yet fewer than five were", round, counts)
			case counts[204] == 1 && got["status"] != "COMPLETED":
				t.Fatalf("round %d: the right code was accepted but the process is %v", round, got["status"])
			case counts[204] == 0 && got["status"] != "FAILED":
				t.Fatalf("round %d: five wrong compared but the process is %v", round, got["status"])
			}
		}
	})
}

func TestCodesExpireAndResend(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, code, _ := f.createOTP(t, flowOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		// The organisation delivers this code: an actor may not have one
		// issued, or the answer would hand it the code.
		r := f.do(t, http.MethodPost, base+"/resend", "", f.actor, f.device)
		wantError(t, "the actor's resend of an external code", r, http.StatusConflict, "MDOC_006")
		if strings.Contains(string(r.Body), "otp_code") {
			t.Fatalf("the actor got a code: %s", r.Body)
		}
		r = f.do(t, http.MethodPost, base+"/resend", "", f.admin, nil)
		wantError(t, "resend at once", r, http.StatusTooManyRequests, "MDOC_008")
		if ra := r.Header.Get("Retry-After"); ra != "30" {
			t.Errorf("Retry-After %q, want 30", ra)
		}
		f.env.Clock.Advance(11 * time.Minute)
		r = f.do(t, http.MethodPut, base+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
		wantError(t, "code past its expiry", r, http.StatusConflict, "MDOC_005")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "expired") || !strings.Contains(d, "new one") {
			t.Errorf("details %q, want the code expired and a new one can be asked for", d)
		}
		// Resend of an external code answers 200 with it; the old one
		// stops working, the new one validates.
		r = f.do(t, http.MethodPost, base+"/resend", "", f.admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("resend: %d %s", r.Status, r.Body)
		}
		var resent struct {
			Code    string `json:"otp_code"`
			Expires string `json:"code_expires_at"`
		}
		if err := json.Unmarshal(r.Body, &resent); err != nil || len(resent.Code) != 6 || resent.Expires != f.env.Clock.Now().Add(10*time.Minute).Format(time.RFC3339) {
			t.Fatalf("resend body %s: %v", r.Body, err)
		}
		if resent.Code != code {
			r = f.do(t, http.MethodPut, base+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
			wantError(t, "the old code after a resend", r, http.StatusUnprocessableEntity, "MDOC_007")
		}
		for n := 3; n <= identification.MaxCodes; n++ {
			f.env.Clock.Advance(31 * time.Second)
			if r := f.do(t, http.MethodPost, base+"/resend", "", f.admin, nil); r.Status != http.StatusOK {
				t.Fatalf("admin resend %d: %d %s", n, r.Status, r.Body)
			} else if err := json.Unmarshal(r.Body, &resent); err != nil {
				t.Fatal(err)
			}
		}
		f.env.Clock.Advance(31 * time.Second)
		r = f.do(t, http.MethodPost, base+"/resend", "", f.admin, nil)
		wantError(t, "a sixth code", r, http.StatusConflict, "MDOC_006")
		if r := f.do(t, http.MethodPut, base+"/validate", validateBody(resent.Code, "12345678a"), f.actor, f.device); r.Status != http.StatusNoContent {
			t.Fatalf("the last code: %d %s", r.Status, r.Body)
		}
		if got := f.read(t, "otp", id)["otp"].(map[string]any); got["codes_sent"] != 5.0 {
			t.Errorf("codes_sent %v, want 5", got["codes_sent"])
		}
	})
}

func TestFlowRolesAndTenants(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, code, _ := f.createOTP(t, flowOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		body := validateBody(code, "12345678A")
		wantError(t, "admin validates", f.do(t, http.MethodPut, base+"/validate", body, f.admin, f.device), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "agent validates", f.do(t, http.MethodPut, base+"/validate", body, f.agent, f.device), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "actor cancels", f.do(t, http.MethodPost, base+"/cancel", `{"reason":"x"}`, f.actor, nil), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "actor reads", f.do(t, http.MethodGet, base, "", f.actor, nil), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "agent resends", f.do(t, http.MethodPost, base+"/resend", "", f.agent, nil), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "another org's token", f.do(t, http.MethodPut, base+"/validate", body, f.otherOrg, f.device), http.StatusUnauthorized, "MDOC_003")
		// Another org's own path with this org's id reads like a random id.
		other := f.do(t, http.MethodPut, "/v1/orgs/globex/identifications/otp/"+id+"/validate", body, f.otherOrg, f.device)
		random := f.do(t, http.MethodPut, "/v1/orgs/globex/identifications/otp/"+newID(t)+"/validate", body, f.otherOrg, f.device)
		if other.Status != http.StatusNotFound || string(other.Body) != string(random.Body) {
			t.Errorf("another org's id: %d %s, a random id: %d %s", other.Status, other.Body, random.Status, random.Body)
		}
		for _, missing := range []string{"X-Installation_id", "X-Fingerprint"} {
			h := f.device.Clone()
			h.Del(missing)
			wantError(t, "without "+missing, f.do(t, http.MethodPut, base+"/validate", body, f.actor, h), http.StatusBadRequest, "MDOC_001")
		}
		h := f.device.Clone()
		h.Set("X-Location", "91,0")
		wantError(t, "x-location out of range", f.do(t, http.MethodPut, base+"/validate", body, f.actor, h), http.StatusBadRequest, "MDOC_001")
		if got := f.read(t, "otp", id); got["otp"].(map[string]any)["attempts"] != 0.0 {
			t.Errorf("refused calls were counted: %v", got["otp"])
		}
		// The caller's IP comes from the connection, never a header.
		h = f.device.Clone()
		h.Set("X-Forwarded-For", "203.0.113.99")
		if r := f.do(t, http.MethodPut, base+"/validate", body, f.actor, h); r.Status != http.StatusNoContent {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
		if d := f.read(t, "otp", id)["completed_device"].(map[string]any); d["ip"] == "203.0.113.99" {
			t.Errorf("the IP was taken from X-Forwarded-For: %v", d)
		}
	})
}

const flowChain = `{"actor":{"name":"James","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"james@example.com"},"expires_in":"PT1H","sequence":[` +
	`{"identification_type":"OTP","otp_step":{"two_factor_type":"EMAIL","channel":{"type":"EMAIL","external":true}}},{"identification_type":"AGENT"}%s]}`

func (f *flow) createChain(t *testing.T, extra string) string {
	t.Helper()
	r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain", fmt.Sprintf(flowChain, extra), f.admin, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create chain: %d %s", r.Status, r.Body)
	}
	return r.Identification(t)["id"].(string)
}

func steps(t *testing.T, got map[string]any) []string {
	t.Helper()
	var out []string
	for _, s := range got["sequence"].([]any) {
		out = append(out, s.(map[string]any)["status"].(string))
	}
	return out
}

func TestChainFlow(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id := f.createChain(t, "")
		base := "/v1/orgs/acme/identifications/chain/" + id
		// Before the chain starts, the OTP step is not current.
		wantError(t, "resend before the start", f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil), http.StatusConflict, "MDOC_006")
		if r := f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device); r.Status != http.StatusNoContent {
			t.Fatalf("validate-chain: %d %s", r.Status, r.Body)
		}
		got := f.read(t, "chain", id)
		if got["status"] != "IN_PROGRESS" || fmt.Sprint(steps(t, got)) != "[CURRENT PENDING]" {
			t.Errorf("after the start: %v %v", got["status"], steps(t, got))
		}
		if r := f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device); r.Status != http.StatusNoContent {
			t.Errorf("the same device again: %d %s, want 204", r.Status, r.Body)
		}
		if v := f.read(t, "chain", id)["version"]; v != got["version"] {
			t.Errorf("the repeated start changed the version: %v -> %v", got["version"], v)
		}
		wantError(t, "another device starts", f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.otherDevice), http.StatusConflict, "MDOC_006")
		// The organisation gets the first code with its resend.
		r := f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("org's first resend: %d %s", r.Status, r.Body)
		}
		var resent struct {
			Code string `json:"otp_code"`
		}
		json.Unmarshal(r.Body, &resent)
		body := validateBody(resent.Code, "JAMES@example.COM")
		wantError(t, "OTP from another device", f.do(t, http.MethodPut, base+"/otp/validate", body, f.actor, f.otherDevice), http.StatusConflict, "MDOC_006")
		r = f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith"}`, f.agent, nil)
		wantError(t, "agent step not current", r, http.StatusConflict, "MDOC_006")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "step 1 (OTP)") {
			t.Errorf("details %q, want the current step named", d)
		}
		if r := f.do(t, http.MethodPut, base+"/otp/validate", body, f.actor, f.device); r.Status != http.StatusNoContent {
			t.Fatalf("OTP step: %d %s", r.Status, r.Body)
		}
		got = f.read(t, "chain", id)
		if got["status"] != "IN_PROGRESS" || fmt.Sprint(steps(t, got)) != "[COMPLETED CURRENT]" {
			t.Errorf("after the OTP step: %v %v", got["status"], steps(t, got))
		}
		wantError(t, "actor does the agent step", f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith"}`, f.actor, f.device), http.StatusUnauthorized, "MDOC_003")
		if r := f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith","evidence_metadata":"{\"call\":\"c-1\"}"}`, f.agent, nil); r.Status != http.StatusNoContent {
			t.Fatalf("agent step: %d %s", r.Status, r.Body)
		}
		got = f.read(t, "chain", id)
		if got["status"] != "COMPLETED" || fmt.Sprint(steps(t, got)) != "[COMPLETED COMPLETED]" || got["completed_at"] == nil {
			t.Errorf("after the agent step: %v %v", got["status"], steps(t, got))
		}
		agent := got["sequence"].([]any)[1].(map[string]any)["agent"].(map[string]any)
		if agent["name"] != "Agent Smith" || agent["sub"] != "apitest" {
			t.Errorf("agent %v, want the name and the token's sub", agent)
		}
	})
}

func TestChainFailsWithItsOTPStepAndStopsAtTheDocumentStep(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id := f.createChain(t, "")
		base := "/v1/orgs/acme/identifications/chain/" + id
		f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device)
		var resent struct {
			Code string `json:"otp_code"`
		}
		json.Unmarshal(f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil).Body, &resent)
		for n := 0; n < identification.MaxAttempts; n++ {
			f.do(t, http.MethodPut, base+"/otp/validate", validateBody(wrong(resent.Code), "james@example.com"), f.actor, f.device)
		}
		got := f.read(t, "chain", id)
		if got["status"] != "FAILED" || got["failure_reason"] != "MAX_ATTEMPTS" || fmt.Sprint(steps(t, got)) != "[FAILED PENDING]" {
			t.Errorf("after five wrong: %v %v %v", got["status"], got["failure_reason"], steps(t, got))
		}

		// OTP, AGENT, IDENTITY_DOCUMENT: the chain progresses up to the
		// document step, which the evidence routes complete.
		id = f.createChain(t, `,{"identification_type":"IDENTITY_DOCUMENT"}`)
		base = "/v1/orgs/acme/identifications/chain/" + id
		f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device)
		json.Unmarshal(f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil).Body, &resent)
		f.do(t, http.MethodPut, base+"/otp/validate", validateBody(resent.Code, "james@example.com"), f.actor, f.device)
		f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith"}`, f.agent, nil)
		got = f.read(t, "chain", id)
		if got["status"] != "IN_PROGRESS" || fmt.Sprint(steps(t, got)) != "[COMPLETED COMPLETED CURRENT]" {
			t.Errorf("at the document step: %v %v", got["status"], steps(t, got))
		}
	})
}

// TestChainWithAnInternalOTPStepIssuesItsCode: a chain whose first step the
// system delivers gets its code when it starts, shown as PENDING.
func TestChainWithAnInternalOTPStepIssuesItsCode(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		body := strings.Replace(fmt.Sprintf(flowChain, ""), `"external":true`, `"external":false`, 1)
		r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain", body, f.admin, nil)
		id := r.Identification(t)["id"].(string)
		base := "/v1/orgs/acme/identifications/chain/" + id
		f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device)
		otp := f.read(t, "chain", id)["sequence"].([]any)[0].(map[string]any)["otp"].(map[string]any)
		if otp["codes_sent"] != 1.0 || otp["delivery"].(map[string]any)["status"] != "PENDING" {
			t.Errorf("otp %v, want one code issued, delivery PENDING", otp)
		}
		// The system's resend answers 204: no code in any response; only
		// the bound device may ask.
		f.env.Clock.Advance(31 * time.Second)
		wantError(t, "resend from another device", f.do(t, http.MethodPost, base+"/otp/resend", "", f.actor, f.otherDevice), http.StatusConflict, "MDOC_006")
		if r := f.do(t, http.MethodPost, base+"/otp/resend", "", f.actor, f.device); r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Errorf("resend of a delivered code: %d %s, want 204 and no body", r.Status, r.Body)
		}
		if otp := f.read(t, "chain", id)["sequence"].([]any)[0].(map[string]any)["otp"].(map[string]any); otp["codes_sent"] != 2.0 {
			t.Errorf("codes_sent %v after a resend, want 2", otp["codes_sent"])
		}
	})
}

// TestActorAndAdminRaces: an actor's action and an admin's racing on one
// process have one winner, and the record shows one consistent outcome.
func TestActorAndAdminRaces(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		for round := 0; round < 20; round++ {
			id, code, _ := f.createOTP(t, flowOTP)
			base := "/v1/orgs/acme/identifications/otp/" + id
			var mu sync.Mutex
			wins := map[string]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for n := 0; n < 32; n++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var r *apitest.Response
					kind := "cancel"
					if n%2 == 0 {
						kind = "validate"
						r = f.do(t, http.MethodPut, base+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
					} else {
						r = f.do(t, http.MethodPost, base+"/cancel", `{"reason":"race"}`, f.admin, nil)
					}
					if r.Status == http.StatusNoContent {
						mu.Lock()
						wins[kind]++
						mu.Unlock()
					}
				}()
			}
			close(start)
			wg.Wait()
			got := f.read(t, "otp", id)
			switch {
			case wins["validate"]+wins["cancel"] != 1:
				t.Fatalf("round %d: winners %v, want exactly one", round, wins)
			case wins["validate"] == 1 && got["status"] != "COMPLETED":
				t.Fatalf("round %d: validate won, status %v", round, got["status"])
			case wins["cancel"] == 1 && got["status"] != "CANCELLED":
				t.Fatalf("round %d: cancel won, status %v", round, got["status"])
			}
		}
	})
}
