package httpapi

import (
	"strconv"
	"strings"
	"testing"
)

// TestBodiesAreNotSilentlyRewritten: a repeated key, a lone surrogate
// escape and a byte that is not UTF-8 are refused where encoding/json would
// keep the last key or put U+FFFD in their place. The error names the
// place: the field or key (a key that is not readable is named as
// encoding/json decodes it, with U+FFFD), or the body.
func TestBodiesAreNotSilentlyRewritten(t *testing.T) {
	const ch = `"channel":{"type":"SMS","external":true}`
	many := make([]string, 40)
	for i := range many {
		many[i] = `"k` + strconv.Itoa(i) + `":1`
	}
	cases := []struct {
		name, body, want string
	}{
		{"repeated name", `{"actor":{"name":"J","name":"K"},` + ch + `}`, "actor.name"},
		{"repeated top-level key", `{"actor":{"name":"J"},` + ch + `,` + ch + `}`, "channel"},
		{"repeated key spelled with an escape", `{"actor":{"name":"J","n\u0061me":"K"},` + ch + `}`, "actor.name"},
		{"repeated key, escaped both times", `{"actor":{"\u006eame":"J","n\u0061me":"K"},` + ch + `}`, "actor.name"},
		{"repeated null", `{"actor":{"name":"J","last_name":null,"last_name":"S"},` + ch + `}`, "actor.last_name"},
		{"repeated unknown key", `{"actor":{"name":"J"},` + ch + `,"x":1,"x":2}`, "x"},
		{"repeated key in an array element", `{"actor":{"name":"J"},` + ch + `,"x":[{},{"a":1,"a":2}]}`, "x[1].a"},
		{"repeated key that is not plain", `{"actor":{"name":"J"},` + ch + `,"a.b":1,"a.b":2}`, `["a.b"]`},
		{"repeated key in a large object", `{"actor":{"name":"J"},` + ch + `,"x":{` + strings.Join(many, ",") + `,"k7":2}}`, "x.k7"},
		{"lone high surrogate", `{"actor":{"name":"J\ud800"},` + ch + `}`, "actor.name"},
		{"lone low surrogate", `{"actor":{"name":"\udc00J"},` + ch + `}`, "actor.name"},
		{"high surrogate before a letter", `{"actor":{"name":"\ud83dA"},` + ch + `}`, "actor.name"},
		{"high surrogate before an escaped letter", `{"actor":{"name":"\ud83d\u0041"},` + ch + `}`, "actor.name"},
		{"two high surrogates", `{"actor":{"name":"\ud83d\ud83d\ude00"},` + ch + `}`, "actor.name"},
		{"reversed pair", `{"actor":{"name":"\ude00\ud83d"},` + ch + `}`, "actor.name"},
		{"lone surrogate in an enum", `{"actor":{"name":"J"},"channel":{"type":"SMS\udfff","external":true}}`, "channel.type"},
		{"lone surrogate in a key", `{"actor":{"name":"J","\ud800":1},` + ch + `}`, "actor[\"\uFFFD\"]"},
		{"lone surrogate in a top-level key", `{"actor":{"name":"J"},` + ch + `,"\ud800":1}`, "[\"\uFFFD\"]"},
		{"lone surrogate in an array", `{"actor":{"name":"J"},` + ch + `,"x":["a","\ud800"]}`, "x[1]"},
		{"invalid UTF-8 in a value", "{\"actor\":{\"name\":\"J\xffK\"}," + ch + "}", "actor.name"},
		{"overlong encoding", "{\"actor\":{\"name\":\"\xc0\xaf\"}," + ch + "}", "actor.name"},
		{"encoded surrogate", "{\"actor\":{\"name\":\"\xed\xa0\x80\"}," + ch + "}", "actor.name"},
		{"truncated sequence", "{\"actor\":{\"name\":\"J\xe2\x82\"}," + ch + "}", "actor.name"},
		{"invalid UTF-8 in a key", "{\"actor\":{\"name\":\"J\",\"n\xff\":1}," + ch + "}", "actor[\"n\uFFFD\"]"},
		{"invalid UTF-8 in a top-level key", "{\"actor\":{\"name\":\"J\"}," + ch + ",\"\xff\":1}", "[\"\uFFFD\"]"},
		{"invalid UTF-8 in a top-level string", "\"\xff\"", "body"},
	}
	for _, tc := range cases {
		_, err := parseCreateOTP([]byte(tc.body))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		found := false
		for _, fe := range fieldErrors(t, err) {
			if fe.Path == tc.want && strings.Contains(fe.Message, "byte offset") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: got %v, want an error at %s naming the byte offset", tc.name, err, tc.want)
		}
	}

	// The same checks guard the chain and the cancel bodies.
	if _, err := parseCreateChain([]byte(`{"actor":{"name":"A"},"expires_in":"PT15M","expires_in":"P30D","sequence":[{"identification_type":"AGENT"}]}`)); pathsOf(fieldErrors(t, err)) != "expires_in" {
		t.Errorf("chain with expires_in twice: %v", err)
	}
	if _, err := parseCreateChain([]byte(`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT","identification_type":"OTP"}]}`)); pathsOf(fieldErrors(t, err)) != "sequence[0].identification_type" {
		t.Errorf("chain with a step type twice: %v", err)
	}
	for _, body := range []string{`{"reason":"a","reason":"b"}`, `{"reason":"a\udbff"}`, "{\"reason\":\"\xfe\"}"} {
		for _, required := range []bool{true, false} {
			if _, err := parseCancel([]byte(body), required); err == nil || pathsOf(fieldErrors(t, err)) != "reason" {
				t.Errorf("cancel %+q (required %v): got %v, want an error at reason", body, required, err)
			}
		}
	}
}

// TestBodiesThatAreWellFormedStayAccepted: escapes that are fine, pairs of
// surrogates and the same key in different objects are not refused.
func TestBodiesThatAreWellFormedStayAccepted(t *testing.T) {
	for _, body := range []string{
		`{"actor":{"name":"\ud83d\ude00"},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"\uD83D\uDE00 \u00e9\\ud800\"\/"},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"J","msisdn":{"phone_number":612345678,"country_code":"34"}},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"type"},"channel":{"type":"SMS","external":true}}`,
		"{\"actor\":{\"name\":\"Zoë 李\"},\"channel\":{\"type\":\"SMS\",\"external\":true}}",
	} {
		if _, err := parseCreateOTP([]byte(body)); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	// The same key in sibling objects of an array is no repetition.
	chain := `{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT"}]}`
	if _, err := parseCreateChain([]byte(chain)); err != nil {
		t.Errorf("chain: %v", err)
	}
}

// TestEncodingProblemsJoinTheOtherErrors: the checks on the raw body are
// reported with the rule errors, once per field, and the place of a problem
// too deep to name usefully is the body.
func TestEncodingProblemsJoinTheOtherErrors(t *testing.T) {
	body := `{"actor":{"name":"J","name":"\ud800","email":"nope"},"channel":{"type":"FAX"}}`
	_, err := parseCreateOTP([]byte(body))
	if got := pathsOf(fieldErrors(t, err)); got != "actor.name,actor.email,channel.type" {
		t.Errorf("errors at %s, want actor.name,actor.email,channel.type", got)
	}
	deep := `{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"x":` + strings.Repeat("[", 200) + `"\ud800"` + strings.Repeat("]", 200) + `}`
	_, err = parseCreateOTP([]byte(deep))
	fe := fieldErrors(t, err)
	if fe[0].Path != "body" || !strings.Contains(fe[0].Message, "byte offset") {
		t.Errorf("deep lone surrogate: got %v, want it reported on body with its byte offset", fe)
	}
	var b strings.Builder
	b.WriteString(`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"x":{`)
	for i := range 500 {
		b.WriteString(`"k":` + strconv.Itoa(i) + `,`)
	}
	b.WriteString(`"k":0}}`)
	_, err = parseCreateOTP([]byte(b.String()))
	if got := pathsOf(fieldErrors(t, err)); got != "x.k,x" {
		t.Errorf("one key 501 times: errors at %s, want x.k once, then x as unknown", got)
	}
}
