package wirejson_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/wirejson"
)

// problem is one problem a walk reported.
type problem struct{ path, msg string }

// recorder is a Problems as the decoders' (identification.Problems) is:
// every problem in order, up to 50, none at or below a path marked bad.
type recorder struct {
	list  []problem
	bad   map[string]bool
	calls int
}

func (r *recorder) Fail(path, format string, args ...any) {
	r.calls++
	if !r.Bad(path) && !r.Full() {
		r.list = append(r.list, problem{path, fmt.Sprintf(format, args...)})
	}
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	r.bad[path] = true
}

func (r *recorder) Bad(path string) bool {
	for {
		if r.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

func (r *recorder) AnyBad() bool { return len(r.bad) > 0 }
func (r *recorder) Full() bool   { return len(r.list) >= 50 }

func (r *recorder) paths() string {
	var out []string
	for _, p := range r.list {
		out = append(out, p.path)
	}
	return strings.Join(out, ",")
}

// TestEncodingProblemsAreNamedByPlace: a repeated key, a lone surrogate
// escape and a byte that is not UTF-8 are reported where encoding/json
// would keep the last key or put U+FFFD in their place, at the path of the
// value or key (a key that is not readable is named as encoding/json
// decodes it, with U+FFFD), or at the body, with the byte offset.
func TestEncodingProblemsAreNamedByPlace(t *testing.T) {
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
		r := &recorder{}
		if _, ok := wirejson.Parse([]byte(tc.body), r); !ok {
			t.Errorf("%s: not parsed: %v", tc.name, r.list)
			continue
		}
		if len(r.list) != 1 || r.list[0].path != tc.want || !strings.HasSuffix(r.list[0].msg, ")") || !strings.Contains(r.list[0].msg, "(at byte offset ") {
			t.Errorf("%s: got %v, want one problem at %s naming the byte offset", tc.name, r.list, tc.want)
		}
		if !r.Bad(tc.want) {
			t.Errorf("%s: %s is not marked bad", tc.name, tc.want)
		}
	}
}

// TestWellFormedBodiesPassAsSent: escapes that are fine, pairs of
// surrogates and the same key in different objects are no problem.
func TestWellFormedBodiesPassAsSent(t *testing.T) {
	for _, body := range []string{
		`{"actor":{"name":"\ud83d\ude00"},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"\uD83D\uDE00 \u00e9\\ud800\"\/"},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"J","msisdn":{"phone_number":612345678,"country_code":"34"}},"channel":{"type":"SMS","external":true}}`,
		`{"actor":{"name":"type"},"channel":{"type":"SMS","external":true}}`,
		"{\"actor\":{\"name\":\"Zoë 李\"},\"channel\":{\"type\":\"SMS\",\"external\":true}}",
		`{"sequence":[{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT"}]}`,
	} {
		r := &recorder{}
		if _, ok := wirejson.Parse([]byte(body), r); !ok || len(r.list) > 0 {
			t.Errorf("%s: %v", body, r.list)
		}
	}
}

// TestEncodingProblemsTooDeepOrTooMany: a problem too deep to name usefully
// is reported at the body; a key repeated 500 times once; and the walk
// stops once no further problem would be kept.
func TestEncodingProblemsTooDeepOrTooMany(t *testing.T) {
	r := &recorder{}
	deep := `{"x":` + strings.Repeat("[", 200) + `"\ud800"` + strings.Repeat("]", 200) + `}`
	wirejson.Parse([]byte(deep), r)
	if r.paths() != "body" || !strings.Contains(r.list[0].msg, "byte offset") {
		t.Errorf("deep lone surrogate: got %v, want it at body with its byte offset", r.list)
	}
	var b strings.Builder
	b.WriteString(`{"x":{`)
	for i := range 500 {
		b.WriteString(`"k":` + strconv.Itoa(i) + `,`)
	}
	b.WriteString(`"k":0}}`)
	r = &recorder{}
	wirejson.Parse([]byte(b.String()), r)
	if r.paths() != "x.k" {
		t.Errorf("one key 501 times: problems at %s, want x.k once", r.paths())
	}
	b.Reset()
	b.WriteString(`[`)
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"\ud800"`)
	}
	b.WriteString(`]`)
	r = &recorder{}
	wirejson.Parse([]byte(b.String()), r)
	if len(r.list) != 50 || r.calls != 50 {
		t.Errorf("200 lone surrogates: %d problems in %d calls, want the walk to stop at 50", len(r.list), r.calls)
	}
}

// TestSyntaxErrorsQuoteNothing: a body that is not JSON is reported at
// body, with what is wrong and where, but never the character that broke
// it: it is the client's.
func TestSyntaxErrorsQuoteNothing(t *testing.T) {
	cases := []struct{ body, secret, want string }{
		{``, "", "is required and must be a JSON object"},
		{" \t\n", "", "is required and must be a JSON object"},
		{`{"actor":{"name":QQSECRETQQ}}`, "Q", "is not valid JSON: unexpected character looking for beginning of value at byte offset 18"},
		{`{"actor":{"name":"J"} QQSECRETQQ}`, "Q", "is not valid JSON: unexpected character after object key:value pair at byte offset 23"},
		{`{"reason" QQSECRETQQ}`, "Q", "is not valid JSON: unexpected character after object key at byte offset 11"},
		{`{"reason":"\Q"}`, "Q", "is not valid JSON: unexpected character in string escape code at byte offset 13"},
		{`{"reason":"\u00QQ"}`, "Q", "is not valid JSON: unexpected character in \\u hexadecimal character escape at byte offset 16"},
		{`{"reason":tQue}`, "Q", "is not valid JSON: unexpected character in literal true at byte offset 12"},
		{`{"reason":-Q}`, "Q", "is not valid JSON: unexpected character in numeric literal at byte offset 12"},
		{"{\"reason\":\"\x01\"}", "\x01", "is not valid JSON: unexpected character in string literal at byte offset 12"},
		{`{"reason":é}`, "é", "is not valid JSON: unexpected character looking for beginning of value at byte offset 11"},
		{"\xef\xbb\xbf{}", "ï", "is not valid JSON: unexpected character looking for beginning of value at byte offset 1"},
		{`{"reason":"x"} QQSECRETQQ`, "Q", "is not valid JSON: unexpected data after the top-level value"},
		{`{"reason":`, "", "is not valid JSON: unexpected end of input after 10 bytes"},
	}
	for _, tc := range cases {
		r := &recorder{}
		if _, ok := wirejson.Parse([]byte(tc.body), r); ok {
			t.Errorf("%.40q: parsed", tc.body)
			continue
		}
		if len(r.list) != 1 || r.list[0].path != "body" {
			t.Errorf("%.40q: got %v, want one problem at body", tc.body, r.list)
			continue
		}
		msg := r.list[0].msg
		if tc.secret != "" && strings.Contains(msg, tc.secret) {
			t.Errorf("%.40q: %q repeats %q", tc.body, msg, tc.secret)
		}
		if msg != tc.want {
			t.Errorf("%.40q: got %q, want %q", tc.body, msg, tc.want)
		}
	}
}

// TestUnknownKeysAreNamedPlainOrQuoted: an unknown key is joined with a dot
// when it is plain, and quoted in brackets otherwise, so the path is never
// empty and never reads as a known field; a long key is cut.
func TestUnknownKeysAreNamedPlainOrQuoted(t *testing.T) {
	cases := []struct{ path, key, want string }{
		{"", "", `[""]`},
		{"actor", "", `actor[""]`},
		{"", "actor.name", `["actor.name"]`},
		{"actor", "a: b", `actor["a: b"]`},
		{"actor", "<x>", `actor["<x>"]`},
		{"", strings.Repeat("k", 65), `["` + strings.Repeat("k", 64) + `…"]`},
		{"", strings.Repeat("é", 40), `["` + strings.Repeat("é", 32) + `…"]`},
		{"", "nick_name-2", `nick_name-2`},
		{"a.b", "c", `a.b.c`},
	}
	for _, tc := range cases {
		r := &recorder{}
		m, ok := wirejson.Object(r, tc.path, map[string]any{tc.key: 1, "known": 2}, "known")
		if !ok || len(m) != 2 || r.paths() != tc.want || r.list[0].msg != "unknown field" {
			t.Errorf("%q under %q: got %v, want an unknown field at %s", tc.key, tc.path, r.list, tc.want)
		}
	}
	r := &recorder{}
	if _, ok := wirejson.Object(r, "", []any{}); ok || r.paths() != "body" || r.list[0].msg != "must be a JSON object, got an array" {
		t.Errorf("an array for the body: got %v", r.list)
	}
}

// TestFieldsAreReadByType: each reader takes its type (and the lenient
// forms documented), reports any other at the field's path, marking it
// bad, and treats null, absence and a bad path alike.
func TestFieldsAreReadByType(t *testing.T) {
	r := &recorder{}
	v, _ := wirejson.Parse([]byte(`{"s":"x","n":12,"t":true,"ts":"false","z":null,"neg":-5,"frac":1.5,"ds":"0612","bad":"x1"}`), r)
	m := v.(map[string]any)
	if got := wirejson.String(r, m, "o", "s"); got != "x" {
		t.Errorf("string: %q", got)
	}
	if got := wirejson.String(r, m, "o", "z"); got != "" || len(r.list) > 0 {
		t.Errorf("null string: %q, %v", got, r.list)
	}
	if _, ok := wirejson.Present(r, m, "o", "missing"); ok {
		t.Error("a missing key is present")
	}
	if !wirejson.Bool(r, m, "o", "t") || wirejson.Bool(r, m, "o", "ts") {
		t.Error(`true or "false" misread`)
	}
	if got := wirejson.Digits(r, m, "o", "n"); got != "12" {
		t.Errorf("digits of a number: %q", got)
	}
	if got := wirejson.Digits(r, m, "o", "ds"); got != "0612" {
		t.Errorf("digits of a string: %q", got)
	}
	if len(r.list) > 0 {
		t.Fatalf("problems reading good values: %v", r.list)
	}
	wirejson.String(r, m, "o", "n")
	wirejson.Bool(r, m, "o", "s")
	wirejson.Digits(r, m, "o", "neg")
	wirejson.Digits(r, m, "o", "frac")
	wirejson.Digits(r, m, "o", "bad")
	wirejson.Digits(r, m, "o", "t")
	want := []problem{
		{"o.n", "must be a string, got a number"},
		{"o.s", `must be a boolean (true, false, "true" or "false"), got a string`},
		{"o.neg", "must be a whole number of digits: no sign, fraction or exponent"},
		{"o.frac", "must be a whole number of digits: no sign, fraction or exponent"},
		{"o.bad", "must be a number or a string of digits"},
		{"o.t", "must be a number or a string of digits, got a boolean"},
	}
	if fmt.Sprint(r.list) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", r.list, want)
	}
	// A path marked bad reads as absent: its rules are not checked.
	if _, ok := wirejson.Present(r, m, "o", "n"); ok {
		t.Error("a field reported before is present")
	}
}
