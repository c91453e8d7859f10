package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
)

// The fuzz targets below check the invariants of the request bodies
// (docs/openapi.yaml) on any input: nothing panics; every rejection is a
// KindInvalid error whose entries each name a field path; a body is refused
// for its encoding exactly when encoding/json would have rewritten it (a
// repeated key, a byte that is not UTF-8, a lone surrogate escape); every
// acceptance holds only text a person can read, passes Validate again,
// survives a round trip through its own JSON rendering unchanged, and can
// be created by the Service. `make fuzz` runs each for FUZZTIME; `go test`
// replays the seeds and testdata/fuzz.

// The documented request examples of the two creates (docs/openapi.yaml).
const (
	fuzzOTPExample = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},
 "email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},
 "expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`
	fuzzChainExample = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"IDENTITY_CARD","country":"ES"},
 "email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},
 "expires_in":"PT15M",
 "sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},
             {"identification_type":"AGENT"},
             {"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"INTERNAL"}}]}`
)

var otpSeeds = []string{
	fuzzOTPExample,
	`{"actor":{"name":"  Ana  ","msisdn":{"phone_number":"612345678","country_code":"+34"}},"channel":{"type":"WHATSAPP","external":"false"},"expires_in":null,"two_factor_type":null}`,
	`{"actor":{"name":"A","email":"a@example.com"},"channel":{"type":"EMAIL"},"two_factor_type":"EMAIL","expires_in":"PT1M"}`,
	`{"actor":{"name":"A"},"channel":{"type":"SMS","external":true},"expires_in":"P30D"}`,
	`{"actor":{"name":"","email":"nope","msisdn":{"phone_number":1,"country_code":"abcd"},"language":"XX"},"expires_in":"P1M","two_factor_type":"NOPE","channel":{"type":"FAX"},"extra":1}`,
	`{"actor":{"name":1,"identity_document":"NIF"},"channel":{"type":"SMS","external":1},"two_factor_type":"DOCUMENT_NUMBER"}`,
	`{"actor":{"name":"J","msisdn":{"phone_number":612345.5,"country_code":"34"}},"channel":{"type":"SMS"}}`,
	`{"actor":{"name":"J","msisdn":{"phone_number":1e400,"country_code":34}},"channel":{"type":"SMS"}}`,
	`{"actor":{"name":"J","msisdn":{"phone_number":-612345678,"country_code":"+"}},"channel":{"type":"SMS"}}`,
	`{"actor":{"name":"J","email":"J <j@example.com>"},"channel":{"type":"EMAIL"}}`,
	`{"actor":{"name":"J","identity_document":{"document_number":"1","document_type":"NIF","country":"es"}},"channel":{"type":"SMS","external":"true"},"two_factor_type":"PERSONAL_DOCUMENT_IMAGE"}`,
	`{"actor":{"name":"\u0000\u2028\ud800"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"actor.name":1}`,
	`{"actor":{"name":"J","name":"K"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"\u200b"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"J\u202eK","last_name":"\u2066S\u2069"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"J\nK","last_name":"\u001b[2J"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"` + strings.Repeat("e\u0301", 100) + `"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"علی\u200cرضا","last_name":"👩\u200d💻"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"\ud83d\ude00"},"channel":{"type":"SMS","external":true}}`,
	`{"actor":{"name":"J","n\u0061me":"K"},"channel":{"type":"SMS","external":true}}`,
	"{\"actor\":{\"name\":\"J\xff\"},\"channel\":{\"type\":\"SMS\",\"external\":true}}",
	`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"x":[{"a":1,"a":2}]}`,
	`{"actor":null,"channel":null}`,
	`{} {}`, `[]`, `null`, `"x"`, `{`, ``, ` `, `{"actor":[[[[[[[[[[]]]]]]]]]]}`,
}

var chainSeeds = []string{
	fuzzChainExample,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"IDENTITY_DOCUMENT"}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":null}}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"},{"identification_type":"AGENT"}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"channel":{"type":"SMS"}},"identity_document_step":{}}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"},{"identification_type":"AGENT"}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[null,{},1,"OTP",[]]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":null}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"channel":null}}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":{}}`,
	`{"actor":{"name":"A"},"sequence":[{"identification_type":"AGENT"}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT","agent_step":{}}]}`,
	`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[{"identification_type":"AGENT"}],"sequence[0]":1}`,
}

var cancelSeeds = []struct {
	body     string
	required bool
}{
	{`{"reason":"customer asked"}`, true},
	{``, false},
	{``, true},
	{`{}`, false},
	{`{}`, true},
	{`{"reason":null}`, false},
	{`{"reason":"  "}`, true},
	{`{"reason":5}`, true},
	{`{"reason":"x","why":"y"}`, false},
	{`{"reason":"` + strings.Repeat("é", 500) + `"}`, true},
	{`{"reason":"` + strings.Repeat("é", 501) + `"}`, false},
	{`[]`, false},
	{`null`, false},
	{"\t\n ", false},
	{`{"reason":"\ud800"}`, true},
	{`{"reason":"\u200b"}`, true},
	{`{"reason":"\u200b"}`, false},
	{`{"reason":"line one\nline two"}`, true},
	{`{"reason":"\u0000"}`, false},
	{`{"reason":"` + strings.Repeat("e\u0301", 500) + `"}`, true},
	{`{"reason":"a","reason":"b"}`, false},
}

func FuzzParseCreateOTP(f *testing.F) {
	for _, s := range otpSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseCreateOTP(body)
		checkEncodingVerdict(t, body, err)
		if err != nil {
			checkRejection(t, err, otpFieldPath)
			return
		}
		if fields := in.Validate(); len(fields) > 0 {
			t.Fatalf("accepted, but Validate reports %v", fields)
		}
		if in.Actor == nil || in.Channel == nil {
			t.Fatalf("accepted without actor or channel: %+v", in)
		}
		checkActorText(t, in.Actor)
		again, err := parseCreateOTP(mustJSON(t, otpWire(in)))
		if err != nil {
			t.Fatalf("accepted, but its own rendering is refused: %v", err)
		}
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("round trip changed the input:\n got %+v\nwant %+v", again, in)
		}
		store := &recordingStore{}
		created, err := identification.NewService(store, identification.WithClock(fixedClock), identification.WithCodeKeys(fixture.CodeKeys())).CreateOTP(context.Background(), "acme", in, identification.Caller{Kind: identification.CallerAdmin})
		i := created.Identification
		if err != nil {
			t.Fatalf("accepted, but the service refuses it: %v", err)
		}
		checkCreated(t, i, in.ExpiresIn, identification.DefaultExpiresIn)
	})
}

func FuzzParseCreateChain(f *testing.F) {
	for _, s := range chainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseCreateChain(body)
		checkEncodingVerdict(t, body, err)
		if err != nil {
			checkRejection(t, err, chainFieldPath)
			return
		}
		if fields := in.Validate(); len(fields) > 0 {
			t.Fatalf("accepted, but Validate reports %v", fields)
		}
		if in.Actor == nil || len(in.Sequence) < 1 || len(in.Sequence) > 3 {
			t.Fatalf("accepted without actor or with %d steps", len(in.Sequence))
		}
		checkActorText(t, in.Actor)
		seen := map[string]bool{}
		for _, st := range in.Sequence {
			if seen[st.IdentificationType] {
				t.Fatalf("accepted a repeated %s step", st.IdentificationType)
			}
			seen[st.IdentificationType] = true
			if (st.IdentificationType == "OTP") != (st.OTPStep != nil) {
				t.Fatalf("accepted a %s step with otp_step %v", st.IdentificationType, st.OTPStep)
			}
		}
		again, err := parseCreateChain(mustJSON(t, chainWire(in)))
		if err != nil {
			t.Fatalf("accepted, but its own rendering is refused: %v", err)
		}
		if !reflect.DeepEqual(again, in) {
			t.Fatalf("round trip changed the input:\n got %+v\nwant %+v", again, in)
		}
		store := &recordingStore{}
		i, err := identification.NewService(store, identification.WithClock(fixedClock)).CreateChain(context.Background(), "acme", in, identification.Caller{Kind: identification.CallerAdmin, UserAgent: "fuzz/1.0"})
		if err != nil {
			t.Fatalf("accepted, but the service refuses it: %v", err)
		}
		checkCreated(t, i, in.ExpiresIn, 0)
		for n, st := range i.Sequence {
			if st.Status != identification.StepPending {
				t.Errorf("step %d status %q, want PENDING", n, st.Status)
			}
		}
	})
}

func FuzzParseCancel(f *testing.F) {
	for _, s := range cancelSeeds {
		f.Add([]byte(s.body), s.required)
	}
	f.Fuzz(func(t *testing.T, body []byte, required bool) {
		reason, err := parseCancel(body, required)
		checkEncodingVerdict(t, body, err)
		if err != nil {
			checkRejection(t, err, func(p string) bool { return p == "body" || p == "reason" })
			return
		}
		if n := utf8.RuneCountInString(reason); n > 500 {
			t.Fatalf("accepted a reason of %d characters", n)
		}
		if required && !hasVisible(reason) {
			t.Fatalf("accepted a reason with nothing visible for an OTP cancel: %+q", reason)
		}
		if msg := readableText(reason, true); msg != "" {
			t.Fatalf("accepted reason %+q: %s", reason, msg)
		}
		again, err := parseCancel(mustJSON(t, map[string]string{"reason": reason}), required)
		if err != nil || again != reason {
			t.Fatalf("round trip: got %q, %v; want %q", again, err, reason)
		}
	})
}

// checkRejection checks a refused body: a KindInvalid error with 1 to 50
// entries, each a non-empty message about a field named by its path: a
// known one, or an unknown field named as sent.
func checkRejection(t *testing.T, err error, known func(string) bool) {
	t.Helper()
	var de *identification.Error
	if !errors.As(err, &de) || de.Kind != identification.KindInvalid {
		t.Fatalf("got %v (%T), want a KindInvalid *identification.Error", err, err)
	}
	if len(de.Fields) == 0 || len(de.Fields) > 50 {
		t.Fatalf("got %d field errors, want 1 to 50: %v", len(de.Fields), err)
	}
	for _, fe := range de.Fields {
		if fe.Path == "" || fe.Message == "" {
			t.Fatalf("field error without path or message: %+v", fe)
		}
		encoding := encodingMessageRE.MatchString(fe.Message)
		if (fe.Message == "unknown field" || encoding) && !anyPathRE.MatchString(fe.Path) {
			t.Fatalf("%s named by a malformed path: %q", fe.Message, fe.Path)
		}
		if fe.Message == "unknown field" && !unknownPathRE.MatchString(fe.Path) {
			t.Fatalf("unknown field named by a malformed path: %q", fe.Path)
		}
		if fe.Message != "unknown field" && !encoding && !known(fe.Path) {
			t.Fatalf("field error names no known field: %q: %s", fe.Path, fe.Message)
		}
		if !strings.HasPrefix(fe.String(), fe.Path+": ") {
			t.Fatalf("details %q do not start with the path", fe.String())
		}
	}
}

var (
	actorPath   = `actor(\.(name|last_name|email|language|identity_document(\.(document_number|document_type|country))?|msisdn(\.(phone_number|country_code))?))?`
	otpPathRE   = regexp.MustCompile(`^(body|expires_in|two_factor_type|channel(\.(type|external))?|` + actorPath + `)$`)
	chainPathRE = regexp.MustCompile(`^(body|expires_in|sequence(\[\d+\](\.(identification_type|otp_step(\.(two_factor_type|channel(\.(type|external))?))?|identity_document_step(\.provider_type)?))?)?|` + actorPath + `)$`)
	// unknownPathRE is a plain key joined with a dot, or any key quoted in
	// brackets, under some parent.
	unknownPathRE  = regexp.MustCompile(`^(.*\.)?[A-Za-z0-9_-]{1,64}$|^.*\[".*"\]$`)
	otpFieldPath   = otpPathRE.MatchString
	chainFieldPath = chainPathRE.MatchString
	// anyPathRE is any path of the body: keys joined with dots or quoted
	// in brackets, indexes in brackets.
	anyPathRE = regexp.MustCompile(`^(body|(\[(\d+|".*")\]|[A-Za-z0-9_-]{1,64})(\.[A-Za-z0-9_-]{1,64}|\[(\d+|".*")\])*)$`)
	// encodingMessageRE is the message of a problem of the raw body: a
	// repeated key, invalid UTF-8, a lone surrogate escape.
	encodingMessageRE = regexp.MustCompile(`\(at byte offset \d+\)$`)
)

// checkEncodingVerdict holds the parser to an independent reading of the
// raw body: a well-formed JSON body is refused for its encoding (an error
// ending with its byte offset) exactly when encoding/json would silently
// rewrite it.
func checkEncodingVerdict(t *testing.T, body []byte, err error) {
	t.Helper()
	if !json.Valid(body) {
		return
	}
	refused := false
	var de *identification.Error
	if errors.As(err, &de) {
		for _, fe := range de.Fields {
			refused = refused || encodingMessageRE.MatchString(fe.Message)
		}
	}
	if rewritten := silentlyRewritten(body); rewritten != refused {
		t.Fatalf("encoding/json would rewrite the body: %v; refused for its encoding: %v (%v)", rewritten, refused, err)
	}
}

// silentlyRewritten reports whether encoding/json, reading the valid JSON
// body, keeps only the last of a repeated key or puts U+FFFD in place of
// bytes that are not UTF-8 or of a lone surrogate escape: the decoded text
// holds more U+FFFD than the body spells out.
func silentlyRewritten(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type level struct {
		object bool
		keys   map[string]bool
		isKey  bool
	}
	var stack []*level
	decoded := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &level{object: true, keys: map[string]bool{}, isKey: true})
			case '[':
				stack = append(stack, &level{})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].isKey = true
				}
			}
			if v == '{' || v == '[' {
				if top != nil && top.object {
					top.isKey = false
				}
			}
			continue
		case string:
			decoded += strings.Count(v, "\uFFFD")
			if top != nil && top.object && top.isKey {
				if top.keys[v] {
					return true
				}
				top.keys[v] = true
				top.isKey = false
				continue
			}
		}
		if top != nil && top.object {
			top.isKey = true
		}
	}
	return decoded > spelledReplacements(body)
}

// spelledReplacements counts the U+FFFD a body spells out: as UTF-8, or as
// an escape (a backslash that is not itself escaped, then uFFFD).
func spelledReplacements(body []byte) int {
	n := bytes.Count(body, []byte("\uFFFD"))
	for i := 0; i+6 <= len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if (body[i+1] == 'u') && strings.EqualFold(string(body[i+2:i+6]), "fffd") {
			n++
		}
		i++ // an escaped character, a backslash included, is not an escape
	}
	return n
}

// hasVisible reports whether s holds a letter, number, punctuation mark or
// symbol other than the blank braille pattern.
func hasVisible(s string) bool {
	for _, r := range s {
		if r != '\u2800' && unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) {
			return true
		}
	}
	return false
}

// readableText says what is wrong with accepted text, or "": it must be
// NFC and hold no control character (but tabs and line breaks in
// multi-line text), no format character but a zero-width (non-)joiner
// inside it, no other default-ignorable code point.
func readableText(s string, multiLine bool) string {
	if !norm.NFC.IsNormalString(s) {
		return "not NFC"
	}
	for i, r := range s {
		switch {
		case multiLine && (r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029'):
		case r == '\u2028' || r == '\u2029':
			return "a line break in a name"
		case unicode.Is(unicode.Cc, r):
			return "a control character"
		case r == '\u200c' || r == '\u200d':
			if i == 0 || i+utf8.RuneLen(r) == len(s) {
				return "a joiner at an end"
			}
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			return "an invisible character"
		}
	}
	return ""
}

// checkActorText checks the text of an accepted actor: readable, its name
// visible and of 1 to 100 characters once trimmed, its last name of up to
// 100.
func checkActorText(t *testing.T, a *identification.Actor) {
	t.Helper()
	for field, s := range map[string]string{"name": a.Name, "last_name": a.LastName} {
		if msg := readableText(s, false); msg != "" {
			t.Fatalf("accepted %s %+q: %s", field, s, msg)
		}
		if n := utf8.RuneCountInString(strings.TrimSpace(s)); n > 100 {
			t.Fatalf("accepted %s of %d characters", field, n)
		}
	}
	if !hasVisible(a.Name) {
		t.Fatalf("accepted name %+q with nothing visible", a.Name)
	}
}

// otpWire renders an accepted input as a request body, with the API's own
// rendering of an actor and a channel (views.go): what the API writes, it
// reads back unchanged.
func otpWire(in identification.CreateOTP) map[string]any {
	m := map[string]any{"actor": actorViewOf(*in.Actor), "channel": channelViewOf(in.Channel)}
	if in.ExpiresIn != "" {
		m["expires_in"] = in.ExpiresIn
	}
	if in.TwoFactorType != "" {
		m["two_factor_type"] = in.TwoFactorType
	}
	return m
}

// chainWire renders an accepted input as a request body, as otpWire does
// (a step's view carries its status, which a request must not).
func chainWire(in identification.CreateChain) map[string]any {
	steps := make([]map[string]any, len(in.Sequence))
	for i, st := range in.Sequence {
		s := map[string]any{"identification_type": st.IdentificationType}
		if st.OTPStep != nil {
			s["otp_step"] = otpStepView{TwoFactorType: st.OTPStep.TwoFactorType, Channel: channelViewOf(st.OTPStep.Channel)}
		}
		if st.IdentityDocumentStep != nil {
			d := map[string]any{}
			if st.IdentityDocumentStep.ProviderType != "" {
				d["provider_type"] = st.IdentityDocumentStep.ProviderType
			}
			s["identity_document_step"] = d
		}
		steps[i] = s
	}
	return map[string]any{"actor": actorViewOf(*in.Actor), "expires_in": in.ExpiresIn, "sequence": steps}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %+v: %v", v, err)
	}
	return b
}

var fuzzStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fuzzStart }

// checkCreated checks what the service made of an accepted input.
func checkCreated(t *testing.T, i *identification.Identification, expiresIn string, def time.Duration) {
	t.Helper()
	want := def
	if expiresIn != "" {
		d, err := identification.ParseExpiresIn(expiresIn)
		if err != nil {
			t.Fatalf("accepted expires_in %q does not parse: %v", expiresIn, err)
		}
		want = d
	}
	if got := i.ExpiresAt.Sub(i.CreatedAt); got != want {
		t.Errorf("expires_at - created_at = %s, want %s", got, want)
	}
	if i.Status != identification.StatusCreated || i.Version != 1 || i.OrgID != "acme" {
		t.Errorf("created: status %s version %d org %s", i.Status, i.Version, i.OrgID)
	}
	if name := strings.TrimSpace(i.Actor.Name); name == "" || name != i.Actor.Name {
		t.Errorf("actor name %q is not trimmed and non-empty", i.Actor.Name)
	}
	if b, err := json.Marshal(viewOf(i)); err != nil || !json.Valid(b) {
		t.Errorf("the identification does not render as JSON: %v", err)
	}
}

// recordingStore is the least Store the service needs to create: creation
// only, no conditional writes to honour.
type recordingStore struct {
	created []*identification.Identification
}

func (s *recordingStore) Create(_ context.Context, i *identification.Identification, _ *identification.CodeMaterial) error {
	s.created = append(s.created, i)
	return nil
}

func (s *recordingStore) Get(context.Context, identification.Ref) (*identification.Identification, error) {
	return nil, identification.Errorf(identification.KindNotFound, "not stored")
}

func (s *recordingStore) Apply(context.Context, identification.Ref, identification.Effect) (identification.Result, error) {
	return identification.Result{}, identification.Errorf(identification.KindNotFound, "not stored")
}

func (s *recordingStore) Delete(context.Context, identification.Ref, bool, identification.Caller, time.Time) error {
	return identification.Errorf(identification.KindNotFound, "not stored")
}

// TestFuzzFindsStayFixed pins what the fuzz targets found, in words (the
// inputs themselves are also under testdata/fuzz; what FuzzParseExpiresIn
// found is pinned in the domain's tests).
func TestFuzzFindsStayFixed(t *testing.T) {
	// Unknown keys that are empty, or not plain, were named by an empty or
	// misleading path.
	paths := []struct{ body, want string }{
		{`{"":{}}`, `[""]`},
		{`{"actor":{"name":"J","":1},"channel":{"type":"SMS","external":true}}`, `actor[""]`},
		{`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"actor.name":1}`, `["actor.name"]`},
		{`{"actor":{"name":"J","a: b":1},"channel":{"type":"SMS","external":true}}`, `actor["a: b"]`},
		{`{"actor":{"name":"J","<x>":1},"channel":{"type":"SMS","external":true}}`, `actor["<x>"]`},
		{`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"` + strings.Repeat("k", 65) + `":1}`, `["` + strings.Repeat("k", 64) + `…"]`},
		{`{"actor":{"name":"J"},"channel":{"type":"SMS","external":true},"nick_name-2":1}`, `nick_name-2`},
	}
	for _, tc := range paths {
		_, err := parseCreateOTP([]byte(tc.body))
		found := false
		if de := (*identification.Error)(nil); errors.As(err, &de) {
			for _, f := range de.Fields {
				found = found || f.Path == tc.want && f.Message == "unknown field"
			}
		}
		if !found {
			t.Errorf("%.60s: got %v, want an unknown field at %s", tc.body, err, tc.want)
		}
	}
}
