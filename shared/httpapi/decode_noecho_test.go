package httpapi

import (
	"strings"
	"testing"
)

// echoProbes are bodies carrying distinctive values where a parser could
// quote them: wrong types, bad numbers, bad durations, syntax errors right
// after a distinctive token. secret is what no error may repeat.
var echoProbes = []struct {
	name, body, secret string
	target             string // otp, chain or cancel
}{
	{"negative phone number", `{"actor":{"name":"J","msisdn":{"phone_number":-6123456789,"country_code":"34"}},"channel":{"type":"SMS"}}`, "6123456789", "otp"},
	{"fractional phone number", `{"actor":{"name":"J","msisdn":{"phone_number":6123456789.25,"country_code":"34"}},"channel":{"type":"SMS"}}`, "6123456789", "otp"},
	{"phone number with an exponent", `{"actor":{"name":"J","msisdn":{"phone_number":61234567e89,"country_code":"34"}},"channel":{"type":"SMS"}}`, "61234567", "otp"},
	{"phone number as a bad string", `{"actor":{"name":"J","msisdn":{"phone_number":"ZZSECRETZZ","country_code":"34"}},"channel":{"type":"SMS"}}`, "ZZSECRETZZ", "otp"},
	{"country code as a number", `{"actor":{"name":"J","msisdn":{"phone_number":612345678,"country_code":-98765}},"channel":{"type":"SMS"}}`, "98765", "otp"},
	{"country code too long", `{"actor":{"name":"J","msisdn":{"phone_number":612345678,"country_code":"+98765"}},"channel":{"type":"SMS"}}`, "98765", "otp"},
	{"string in a boolean", `{"actor":{"name":"J"},"channel":{"type":"SMS","external":"ZZSECRETZZ"}}`, "ZZSECRETZZ", "otp"},
	{"string in an object", `{"actor":"ZZSECRETZZ","channel":{"type":"SMS"}}`, "ZZSECRETZZ", "otp"},
	{"string in an array", `{"actor":{"name":"A"},"expires_in":"PT15M","sequence":"ZZSECRETZZ"}`, "ZZSECRETZZ", "chain"},
	{"number in a string", `{"actor":{"name":98765432123},"channel":{"type":"SMS","external":true}}`, "98765432123", "otp"},
	{"bad enum", `{"actor":{"name":"J","language":"ZZSECRETZZ"},"channel":{"type":"ZZSECRETZZ"},"two_factor_type":"ZZSECRETZZ"}`, "ZZSECRETZZ", "otp"},
	{"bad document", `{"actor":{"name":"J","identity_document":{"document_number":"ZZ SECRET ZZ","document_type":"ZZSECRETZZ","country":"ZZSECRETZZ"}},"channel":{"type":"SMS","external":true}}`, "SECRET", "otp"},
	{"bad e-mail", `{"actor":{"name":"J","email":"ZZSECRETZZ"},"channel":{"type":"EMAIL"}}`, "ZZSECRETZZ", "otp"},
	{"bad duration", `{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"expires_in":"ZZSECRETZZ"}`, "ZZSECRETZZ", "otp"},
	{"bad duration shape", `{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"expires_in":"P98765X"}`, "98765", "otp"},
	{"duration out of range", `{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"expires_in":"P98765D"}`, "98765", "otp"},
	{"chain duration", `{"actor":{"name":"A"},"expires_in":"PT9876543.21S","sequence":[{"identification_type":"AGENT"}]}`, "98765", "chain"},
	{"bad step type", `{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"ZZSECRETZZ"}]}`, "ZZSECRETZZ", "chain"},
	{"bad provider", `{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"ZZSECRETZZ"}}]}`, "ZZSECRETZZ", "chain"},
	{"reason as a number", `{"reason":98765432123}`, "98765432123", "cancel"},
	{"reason with a control", `{"reason":"ZZSECRETZZ\u0000"}`, "ZZSECRETZZ", "cancel"},
	{"name with a control", `{"actor":{"name":"ZZSECRETZZ\u001b"},"channel":{"type":"SMS","external":true}}`, "ZZSECRETZZ", "otp"},
	{"name too long", `{"actor":{"name":"ZZSECRETZZ` + strings.Repeat("Z", 100) + `"},"channel":{"type":"SMS","external":true}}`, "ZZSECRETZZ", "otp"},
	{"repeated key", `{"actor":{"name":"ZZSECRETZZ","name":"ZZSECRETZZ"},"channel":{"type":"SMS","external":true}}`, "ZZSECRETZZ", "otp"},
	{"lone surrogate", `{"actor":{"name":"ZZSECRETZZ\ud800"},"channel":{"type":"SMS","external":true}}`, "ZZSECRETZZ", "otp"},
	{"invalid UTF-8", "{\"actor\":{\"name\":\"ZZSECRETZZ\xff\"},\"channel\":{\"type\":\"SMS\",\"external\":true}}", "ZZSECRETZZ", "otp"},
	// Syntax errors: the character that breaks the syntax is the client's.
	{"bare word", `{"actor":{"name":QQSECRETQQ}}`, "Q", "otp"},
	{"word after a value", `{"actor":{"name":"J"} QQSECRETQQ}`, "Q", "otp"},
	{"word after a key", `{"reason" QQSECRETQQ}`, "Q", "cancel"},
	{"bad escape", `{"reason":"\Q"}`, "Q", "cancel"},
	{"bad unicode escape", `{"reason":"\u00QQ"}`, "Q", "cancel"},
	{"bad literal", `{"reason":tQue}`, "Q", "cancel"},
	{"bad number", `{"reason":-Q}`, "Q", "cancel"},
	{"control in a string", "{\"reason\":\"\x01\"}", `\x01`, "cancel"},
	{"non-ASCII outside a string", `{"reason":é}`, "é", "cancel"},
	{"byte order mark", "\xef\xbb\xbf{}", "ï", "cancel"},
	{"trailing data", `{"reason":"x"} QQSECRETQQ`, "Q", "cancel"},
}

// TestDetailsNeverRepeatTheValue: every error names the field and the rule,
// and none repeats what the client sent.
func TestDetailsNeverRepeatTheValue(t *testing.T) {
	for _, tc := range echoProbes {
		var err error
		switch tc.target {
		case "otp":
			_, err = parseCreateOTP([]byte(tc.body))
		case "chain":
			_, err = parseCreateChain([]byte(tc.body))
		default:
			_, err = parseCancel([]byte(tc.body), true)
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, fe := range fieldErrors(t, err) {
			if strings.Contains(fe.String(), tc.secret) {
				t.Errorf("%s: details %q repeat %q", tc.name, fe.String(), tc.secret)
			}
		}
	}
}
