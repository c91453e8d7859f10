package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
)

// withActor returns a create-OTP body whose actor is actor.
func otpWith(actor, rest string) string {
	return `{"actor":` + actor + `,` + rest + `}`
}

const (
	okActor   = `{"name":"James","email":"j@example.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"identity_document":{"document_number":"12345678A","document_type":"NIF"}}`
	okChannel = `"channel":{"type":"SMS"}`
)

func chainWith(sequence string) string {
	return `{"actor":` + okActor + `,"expires_in":"PT15M","sequence":` + sequence + `}`
}

func TestBadRequestsGetTheirDocumented400(t *testing.T) {
	const (
		otp   = "/v1/orgs/acme/identifications/otp"
		chain = "/v1/orgs/acme/identifications/chain"
		id    = "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
	)
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		noUA   bool
		code   string
		// field must start the details of one of the errors.
		field string
	}{
		// Parameters (MDOC_001).
		{"org id with a space", "POST", "/v1/orgs/ac%20me/identifications/otp", otpExample, false, "MDOC_001", "org_id"},
		{"org id starting with a dash", "POST", "/v1/orgs/-acme/identifications/otp", otpExample, false, "MDOC_001", "org_id"},
		{"org id of 65 characters", "GET", "/v1/orgs/" + strings.Repeat("a", 65) + "/identifications/otp/" + id, "", false, "MDOC_001", "org_id"},
		{"org id with a slash", "GET", "/v1/orgs/ac%2Fme/identifications/otp/" + id, "", false, "MDOC_001", "org_id"},
		{"org id with unicode", "GET", "/v1/orgs/acm%C3%A9/identifications/otp/" + id, "", false, "MDOC_001", "org_id"},
		{"id not a uuid", "GET", otp + "/not-a-uuid", "", false, "MDOC_001", "admin_identification_id"},
		{"id too short", "POST", otp + "/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5/cancel", `{"reason":"x"}`, false, "MDOC_001", "admin_identification_id"},
		{"chain id in braces", "GET", chain + "/%7B0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a%7D", "", false, "MDOC_001", "identification_chain_id"},
		{"force is yes", "DELETE", otp + "/" + id + "?force=yes", "", false, "MDOC_001", "force"},
		{"force is empty", "DELETE", otp + "/" + id + "?force=", "", false, "MDOC_001", "force"},
		{"force twice", "DELETE", otp + "/" + id + "?force=true&force=false", "", false, "MDOC_001", "force"},
		{"force is TRUE", "DELETE", otp + "/" + id + "?force=TRUE", "", false, "MDOC_001", "force"},
		{"chain create without User-Agent", "POST", chain, chainExample, true, "MDOC_001", "User-Agent"},
		{"chain get without User-Agent", "GET", chain + "/" + id, "", true, "MDOC_001", "User-Agent"},
		{"chain cancel without User-Agent", "POST", chain + "/" + id + "/cancel", "", true, "MDOC_001", "User-Agent"},
		{"chain close without User-Agent", "POST", chain + "/" + id + "/close", "", true, "MDOC_001", "User-Agent"},

		// Body syntax and types (MDOC_002).
		{"empty body", "POST", otp, "", false, "MDOC_002", "body"},
		{"not JSON", "POST", otp, "actor=James", false, "MDOC_002", "body"},
		{"truncated JSON", "POST", otp, otpExample[:60], false, "MDOC_002", "body"},
		{"trailing data", "POST", otp, otpExample + `{}`, false, "MDOC_002", "body"},
		{"array body", "POST", otp, `[1,2]`, false, "MDOC_002", "body"},
		{"over 64 KiB", "POST", otp, `{"actor":{"name":"` + strings.Repeat("a", 64<<10) + `"}}`, false, "MDOC_002", "body"},
		{"unknown top-level field", "POST", otp, otpWith(okActor, okChannel+`,"colour":"red"`), false, "MDOC_002", "colour"},
		{"unknown actor field", "POST", otp, otpWith(`{"name":"J","nick":"x","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.nick"},
		{"actor not an object", "POST", otp, otpWith(`"James"`, okChannel), false, "MDOC_002", "actor"},
		{"name a number", "POST", otp, otpWith(`{"name":42,"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"phone number a float", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":612345.5,"country_code":"34"}}`, okChannel), false, "MDOC_002", "actor.msisdn.phone_number"},
		{"phone number with letters", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":"61234x","country_code":"34"}}`, okChannel), false, "MDOC_002", "actor.msisdn.phone_number"},
		{"external not a boolean", "POST", otp, otpWith(okActor, `"channel":{"type":"SMS","external":"yes"}`), false, "MDOC_002", "channel.external"},
		{"sequence not an array", "POST", chain, chainWith(`{"identification_type":"AGENT"}`), false, "MDOC_002", "sequence"},

		// Rules of the request bodies (MDOC_002).
		{"actor missing", "POST", otp, `{` + okChannel + `}`, false, "MDOC_002", "actor"},
		{"name blank", "POST", otp, otpWith(`{"name":"   ","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"name of 101 characters", "POST", otp, otpWith(`{"name":"`+strings.Repeat("n", 101)+`","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"last name of 101 characters", "POST", otp, otpWith(`{"name":"J","last_name":"`+strings.Repeat("n", 101)+`","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.last_name"},
		{"document number missing", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_type":"NIF"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.document_number"},
		{"document number with a space", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"1234 5678","document_type":"NIF"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.document_number"},
		{"document number of 33", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"`+strings.Repeat("1", 33)+`","document_type":"NIF"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.document_number"},
		{"document type unknown", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"1","document_type":"DRIVING_LICENCE"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.document_type"},
		{"document type missing", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"1"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.document_type"},
		{"country lower case", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"1","document_type":"NIF","country":"es"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.country"},
		{"country not assigned", "POST", otp, otpWith(`{"name":"J","identity_document":{"document_number":"1","document_type":"NIF","country":"XX"},"email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.identity_document.country"},
		{"email invalid", "POST", otp, otpWith(`{"name":"J","email":"not-an-email"}`, `"channel":{"type":"EMAIL","external":true}`), false, "MDOC_002", "actor.email"},
		{"email with display name", "POST", otp, otpWith(`{"name":"J","email":"J <j@example.com>"}`, `"channel":{"type":"EMAIL","external":true}`), false, "MDOC_002", "actor.email"},
		{"email over 254", "POST", otp, otpWith(`{"name":"J","email":"`+strings.Repeat("a", 250)+`@example.com"}`, `"channel":{"type":"EMAIL","external":true}`), false, "MDOC_002", "actor.email"},
		{"phone number of 3 digits", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":612,"country_code":"34"}}`, okChannel), false, "MDOC_002", "actor.msisdn.phone_number"},
		{"phone number of 16 digits", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":"1234567890123456","country_code":"34"}}`, okChannel), false, "MDOC_002", "actor.msisdn.phone_number"},
		{"phone number missing", "POST", otp, otpWith(`{"name":"J","msisdn":{"country_code":"34"}}`, okChannel), false, "MDOC_002", "actor.msisdn.phone_number"},
		{"country code missing", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":6123456789}}`, okChannel), false, "MDOC_002", "actor.msisdn.country_code"},
		{"country code of 4 digits", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":6123456789,"country_code":"+3456"}}`, okChannel), false, "MDOC_002", "actor.msisdn.country_code"},
		{"language unknown", "POST", otp, otpWith(`{"name":"J","email":"j@example.com","language":"FR"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.language"},
		{"channel missing", "POST", otp, otpWith(okActor, `"expires_in":"P1D"`), false, "MDOC_002", "channel"},
		{"channel type missing", "POST", otp, otpWith(okActor, `"channel":{"external":true}`), false, "MDOC_002", "channel.type"},
		{"channel type unknown", "POST", otp, otpWith(okActor, `"channel":{"type":"PIGEON"}`), false, "MDOC_002", "channel.type"},
		{"SMS without msisdn", "POST", otp, otpWith(`{"name":"J","email":"j@example.com"}`, `"channel":{"type":"SMS"}`), false, "MDOC_002", "channel.type"},
		{"WHATSAPP without msisdn", "POST", otp, otpWith(`{"name":"J","email":"j@example.com"}`, `"channel":{"type":"WHATSAPP","external":"false"}`), false, "MDOC_002", "channel.type"},
		{"EMAIL without email", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":6123456789,"country_code":"34"}}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "channel.type"},
		{"two factor unknown", "POST", otp, otpWith(okActor, okChannel+`,"two_factor_type":"FINGERPRINT"`), false, "MDOC_002", "two_factor_type"},
		{"DOCUMENT_NUMBER without document", "POST", otp, otpWith(`{"name":"J","email":"j@example.com"}`, `"channel":{"type":"EMAIL"},"two_factor_type":"DOCUMENT_NUMBER"`), false, "MDOC_002", "two_factor_type"},
		{"PERSONAL_DOCUMENT_IMAGE without document", "POST", otp, otpWith(`{"name":"J","email":"j@example.com"}`, `"channel":{"type":"EMAIL"},"two_factor_type":"PERSONAL_DOCUMENT_IMAGE"`), false, "MDOC_002", "two_factor_type"},
		{"EMAIL two factor without email", "POST", otp, otpWith(`{"name":"J","msisdn":{"phone_number":6123456789,"country_code":"34"}}`, okChannel+`,"two_factor_type":"EMAIL"`), false, "MDOC_002", "two_factor_type"},
		{"expires_in months", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"P1M"`), false, "MDOC_002", "expires_in"},
		{"expires_in years", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"P1Y"`), false, "MDOC_002", "expires_in"},
		{"expires_in under a minute", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"PT59S"`), false, "MDOC_002", "expires_in"},
		{"expires_in over 30 days", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"P30DT1S"`), false, "MDOC_002", "expires_in"},
		{"expires_in not ISO", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"7 days"`), false, "MDOC_002", "expires_in"},
		{"expires_in negative", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"-P1D"`), false, "MDOC_002", "expires_in"},
		{"expires_in a number", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":3600`), false, "MDOC_002", "expires_in"},
		{"chain without expires_in", "POST", chain, `{"actor":` + okActor + `,"sequence":[{"identification_type":"AGENT"}]}`, false, "MDOC_002", "expires_in"},
		{"chain without sequence", "POST", chain, `{"actor":` + okActor + `,"expires_in":"PT15M"}`, false, "MDOC_002", "sequence"},
		{"chain with empty sequence", "POST", chain, chainWith(`[]`), false, "MDOC_002", "sequence"},
		{"chain with four steps", "POST", chain, chainWith(`[{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"}]`), false, "MDOC_002", "sequence"},
		{"chain with duplicate steps", "POST", chain, chainWith(`[{"identification_type":"AGENT"},{"identification_type":"AGENT"}]`), false, "MDOC_002", "sequence[1].identification_type"},
		{"chain step type unknown", "POST", chain, chainWith(`[{"identification_type":"SELFIE"}]`), false, "MDOC_002", "sequence[0].identification_type"},
		{"chain step type missing", "POST", chain, chainWith(`[{}]`), false, "MDOC_002", "sequence[0].identification_type"},
		{"chain OTP without otp_step", "POST", chain, chainWith(`[{"identification_type":"OTP"}]`), false, "MDOC_002", "sequence[0].otp_step"},
		{"chain OTP step without channel", "POST", chain, chainWith(`[{"identification_type":"OTP","otp_step":{}}]`), false, "MDOC_002", "sequence[0].otp_step.channel"},
		{"chain AGENT with otp_step", "POST", chain, chainWith(`[{"identification_type":"AGENT","otp_step":{"channel":{"type":"SMS"}}}]`), false, "MDOC_002", "sequence[0].otp_step"},
		{"chain OTP with identity_document_step", "POST", chain, chainWith(`[{"identification_type":"OTP","otp_step":{"channel":{"type":"SMS"}},"identity_document_step":{}}]`), false, "MDOC_002", "sequence[0].identity_document_step"},
		{"chain provider unknown", "POST", chain, chainWith(`[{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"CLOUD"}}]`), false, "MDOC_002", "sequence[0].identity_document_step.provider_type"},
		{"chain unknown step field", "POST", chain, chainWith(`[{"identification_type":"AGENT","agent_step":{}}]`), false, "MDOC_002", "sequence[0].agent_step"},
		{"otp cancel without body", "POST", otp + "/" + id + "/cancel", "", false, "MDOC_002", "body"},
		{"otp cancel without reason", "POST", otp + "/" + id + "/cancel", `{}`, false, "MDOC_002", "reason"},
		{"otp cancel reason of 501", "POST", otp + "/" + id + "/cancel", `{"reason":"` + strings.Repeat("r", 501) + `"}`, false, "MDOC_002", "reason"},
		{"cancel reason a number", "POST", otp + "/" + id + "/cancel", `{"reason":5}`, false, "MDOC_002", "reason"},
		{"cancel unknown field", "POST", otp + "/" + id + "/cancel", `{"reason":"x","why":"y"}`, false, "MDOC_002", "why"},
		{"chain cancel reason of 501", "POST", chain + "/" + id + "/cancel", `{"reason":"` + strings.Repeat("r", 501) + `"}`, false, "MDOC_002", "reason"},
		{"chain cancel not JSON", "POST", chain + "/" + id + "/cancel", `reason`, false, "MDOC_002", "body"},

		// Text a person would not read as it is stored (MDOC_002).
		{"name a zero-width space", "POST", otp, otpWith(`{"name":"\u200b","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"name with a right-to-left override", "POST", otp, otpWith(`{"name":"\u202eJames","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"name with an escape sequence", "POST", otp, otpWith(`{"name":"\u001b[31mJames","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"name with a NUL", "POST", otp, otpWith(`{"name":"J\u0000","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"name over two lines", "POST", otp, otpWith(`{"name":"James\nSmith","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"last name with a left-to-right mark", "POST", otp, otpWith(`{"name":"J","last_name":"Smith\u200e","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.last_name"},
		{"otp cancel reason a zero-width space", "POST", otp + "/" + id + "/cancel", `{"reason":"\u200b"}`, false, "MDOC_002", "reason"},
		{"chain cancel reason with a NUL", "POST", chain + "/" + id + "/cancel", `{"reason":"done\u0000"}`, false, "MDOC_002", "reason"},

		// Bodies encoding/json would silently rewrite (MDOC_002).
		{"repeated key", "POST", otp, otpWith(`{"name":"J","name":"K","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"repeated top-level key", "POST", otp, otpWith(okActor, okChannel+`,`+okChannel), false, "MDOC_002", "channel"},
		{"repeated step key", "POST", chain, chainWith(`[{"identification_type":"AGENT","identification_type":"OTP"}]`), false, "MDOC_002", "sequence[0].identification_type"},
		{"lone surrogate escape", "POST", otp, otpWith(`{"name":"J\ud800","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"invalid UTF-8", "POST", otp, otpWith("{\"name\":\"J\xff\",\"email\":\"j@example.com\"}", `"channel":{"type":"EMAIL"}`), false, "MDOC_002", "actor.name"},
		{"cancel reason twice", "POST", otp + "/" + id + "/cancel", `{"reason":"a","reason":"b"}`, false, "MDOC_002", "reason"},

		// Expiry bounds compared exactly (MDOC_002).
		{"expires_in a hair under a minute", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"PT59.9999999999999999S"`), false, "MDOC_002", "expires_in"},
		{"expires_in a hair under one minute in minutes", "POST", otp, otpWith(okActor, okChannel+`,"expires_in":"PT0.9999999999999999999M"`), false, "MDOC_002", "expires_in"},
		{"expires_in a hair over 30 days", "POST", chain, `{"actor":` + okActor + `,"expires_in":"P30DT0.0000000001S","sequence":[{"identification_type":"AGENT"}]}`, false, "MDOC_002", "expires_in"},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases; the issue asks for at least 40", len(cases))
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := env.Do(t, apitest.Request{Method: tc.method, Path: tc.path, Body: tc.body, Token: token, NoUserAgent: tc.noUA})
				if resp.Status != http.StatusBadRequest {
					t.Fatalf("got %d, want 400: %s", resp.Status, resp.Body)
				}
				errs := resp.Errors(t)
				named := false
				for _, e := range errs {
					if e.Code != tc.code {
						t.Errorf("code: got %s, want %s (%s)", e.Code, tc.code, e.Details)
					}
					if strings.HasPrefix(e.Details, tc.field+":") {
						named = true
					}
				}
				if !named {
					t.Errorf("no error names %q: %s", tc.field, resp.Body)
				}
			})
		}
	})
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		body := `{"actor":{"name":"","email":"nope","msisdn":{"phone_number":1,"country_code":"abcd"},"language":"XX"},
			"expires_in":"P1M","two_factor_type":"NOPE","channel":{"type":"FAX"},"extra":1}`
		resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: body, Token: env.AdminToken(t, "acme")})
		var fields []string
		for _, e := range resp.Errors(t) {
			fields = append(fields, strings.SplitN(e.Details, ":", 2)[0])
		}
		want := []string{"extra", "actor.name", "actor.email", "actor.msisdn.phone_number", "actor.msisdn.country_code", "actor.language", "expires_in", "two_factor_type", "channel.type"}
		if strings.Join(fields, ",") != strings.Join(want, ",") {
			t.Errorf("fields:\n got %v\nwant %v", fields, want)
		}
	})
}

// TestBadRequestDetailsNeverEchoTheBody: error details name the field and
// the rule, never a value the client sent, not even the character that
// broke the syntax.
func TestBadRequestDetailsNeverEchoTheBody(t *testing.T) {
	const (
		otp   = "/v1/orgs/acme/identifications/otp"
		chain = "/v1/orgs/acme/identifications/chain"
		id    = "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
	)
	cases := []struct{ name, path, body, secret string }{
		{"negative phone number", otp, otpWith(`{"name":"J","msisdn":{"phone_number":-6123456789,"country_code":"34"}}`, okChannel), "6123456789"},
		{"fractional phone number", otp, otpWith(`{"name":"J","msisdn":{"phone_number":6123456789.5,"country_code":"34"}}`, okChannel), "6123456789"},
		{"string in a boolean", otp, otpWith(okActor, `"channel":{"type":"SMS","external":"ZZSECRETZZ"}`), "ZZSECRETZZ"},
		{"string in an object", otp, otpWith(`"ZZSECRETZZ"`, okChannel), "ZZSECRETZZ"},
		{"string in an array", chain, chainWith(`"ZZSECRETZZ"`), "ZZSECRETZZ"},
		{"bad duration", otp, otpWith(okActor, okChannel+`,"expires_in":"ZZSECRETZZ"`), "ZZSECRETZZ"},
		{"duration out of range", chain, `{"actor":` + okActor + `,"expires_in":"P98765D","sequence":[{"identification_type":"AGENT"}]}`, "98765"},
		{"bad enums", otp, otpWith(`{"name":"J","language":"ZZSECRETZZ"}`, `"channel":{"type":"ZZSECRETZZ"},"two_factor_type":"ZZSECRETZZ"`), "ZZSECRETZZ"},
		{"bad e-mail", otp, otpWith(`{"name":"J","email":"ZZSECRETZZ"}`, `"channel":{"type":"EMAIL"}`), "ZZSECRETZZ"},
		{"name with a control", otp, otpWith(`{"name":"ZZSECRETZZ\u001b","email":"j@example.com"}`, `"channel":{"type":"EMAIL"}`), "ZZSECRETZZ"},
		{"repeated key", otp, otpWith(`{"name":"ZZSECRETZZ","name":"ZZSECRETZZ"}`, okChannel), "ZZSECRETZZ"},
		{"syntax error after a token", otp, `{"actor":{"name":"J"} QQSECRETQQ}`, "Q"},
		{"bare word", otp, `{"actor":QQSECRETQQ}`, "Q"},
		{"bad escape", otp + "/" + id + "/cancel", `{"reason":"\Q"}`, "Q"},
		{"reason as a number", otp + "/" + id + "/cancel", `{"reason":98765432123}`, "98765432123"},
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := env.Do(t, apitest.Request{Method: "POST", Path: tc.path, Body: tc.body, Token: token})
				if resp.Status != http.StatusBadRequest {
					t.Fatalf("got %d, want 400: %s", resp.Status, resp.Body)
				}
				for _, e := range resp.Errors(t) {
					if strings.Contains(e.Details, tc.secret) {
						t.Errorf("details %q repeat %q", e.Details, tc.secret)
					}
				}
			})
		}
	})
}
