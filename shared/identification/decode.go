package identification

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// parseBody decodes a JSON document into generic values, numbers kept exact,
// and records in p what encoding/json would let through silently
// (checkEncoding); the parsers add their problems after those.
func parseBody(body []byte, p *Problems) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, Invalid([]FieldError{{Path: "body", Message: "is required and must be a JSON object"}})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, Invalid([]FieldError{{Path: "body", Message: "is not valid JSON: " + describeJSONError(err, body)}})
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Invalid([]FieldError{{Path: "body", Message: "is not valid JSON: unexpected data after the top-level value"}})
	}
	checkEncoding(p, body)
	return v, nil
}

// describeJSONError says what is wrong with the syntax and where, never
// quoting the body: encoding/json's messages name the offending character,
// which is the client's.
func describeJSONError(err error, body []byte) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return syntaxProblem(syn.Error()) + " at byte offset " + strconv.FormatInt(syn.Offset, 10)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "unexpected end of input after " + strconv.Itoa(len(body)) + " bytes"
	}
	return "unreadable"
}

// syntaxContexts are the places encoding/json's scanner names after the
// offending character ("invalid character 'x' after object key").
var syntaxContexts = []string{
	"looking for beginning of value",
	"looking for beginning of object key string",
	"after object key",
	"after object key:value pair",
	"after array element",
	"after top-level value",
	"in string literal",
	"in string escape code",
	`in \u hexadecimal character escape`,
	"after decimal point in numeric literal", // before its suffix below
	"in exponent of numeric literal",
	"in numeric literal",
	"in literal true",
	"in literal false",
	"in literal null",
}

// syntaxProblem rewrites a syntax error's message without the character it
// quotes: "unexpected character after object key".
func syntaxProblem(msg string) string {
	if msg == "exceeded max depth" {
		return "nested too deeply"
	}
	if strings.HasPrefix(msg, "invalid character ") {
		for _, ctx := range syntaxContexts {
			// The literals add what they expected: "(expecting 'r')".
			if strings.HasSuffix(msg, " "+ctx) || strings.Contains(msg, " "+ctx+" (expecting ") {
				return "unexpected character " + ctx
			}
		}
		return "unexpected character"
	}
	return "syntax error"
}

// object checks that v is a JSON object holding only the allowed keys.
func object(p *Problems, path string, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.Fail(pathOr(path, "body"), "must be a JSON object, got %s", jsonKind(v))
		return nil, false
	}
	var unknown []string
	for k := range m {
		if !containsString(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		p.Fail(unknownPath(path, k), "unknown field")
	}
	return m, true
}

// maxKeyInPath bounds how much of an unknown key an error repeats.
const maxKeyInPath = 64

// unknownPath names an unknown key under path. A plain key is joined with a
// dot (actor.nick); any other, the empty key included, is quoted in brackets
// (actor["a.b"], [""]) so the path is never empty and never reads as a
// known field ("actor.name" sent as one key is not actor's name).
func unknownPath(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if plain && len(key) <= maxKeyInPath {
		return join(path, key)
	}
	if len(key) > maxKeyInPath {
		cut := maxKeyInPath
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		key = key[:cut] + "…"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key) // a string always encodes
	return path + "[" + strings.TrimSuffix(b.String(), "\n") + "]"
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}

// present returns the value at key of the object at path, treating JSON
// null as absent, and so a value already reported (sent twice, or not
// readable as sent): its rules are not checked, nor those depending on it.
func (p *Problems) present(m map[string]any, path, key string) (any, bool) {
	v, ok := m[key]
	if !ok || v == nil || len(p.bad) > 0 && p.Bad(join(path, key)) {
		return nil, false
	}
	return v, true
}

func str(p *Problems, m map[string]any, path, key string) string {
	v, ok := p.present(m, path, key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		p.Fail(join(path, key), "must be a string, got %s", jsonKind(v))
		return ""
	}
	return s
}

// boolish accepts true, false and the strings "true" and "false", as the
// published examples send them.
func boolish(p *Problems, m map[string]any, path, key string) bool {
	v, ok := p.present(m, path, key)
	if !ok {
		return false
	}
	switch b := v.(type) {
	case bool:
		return b
	case string:
		switch b {
		case "true":
			return true
		case "false":
			return false
		}
	}
	p.Fail(join(path, key), `must be a boolean (true, false, "true" or "false"), got %s`, jsonKind(v))
	return false
}

// digits accepts a JSON integer or a string of digits.
func digits(p *Problems, m map[string]any, path, key string) string {
	v, ok := p.present(m, path, key)
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !isDigits(s) {
			p.Fail(join(path, key), "must be a whole number of digits: no sign, fraction or exponent")
			return ""
		}
		return s
	case string:
		if !isDigits(x) {
			p.Fail(join(path, key), "must be a number or a string of digits")
			return ""
		}
		return x
	}
	p.Fail(join(path, key), "must be a number or a string of digits, got %s", jsonKind(v))
	return ""
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decodeActor(p *Problems, path string, v any) *Actor {
	m, ok := object(p, path, v, "name", "last_name", "identity_document", "email", "msisdn", "language")
	if !ok {
		return nil
	}
	a := &Actor{
		Name:     str(p, m, path, "name"),
		LastName: str(p, m, path, "last_name"),
		Email:    str(p, m, path, "email"),
		Language: str(p, m, path, "language"),
	}
	if v, ok := p.present(m, path, "identity_document"); ok {
		dp := join(path, "identity_document")
		if dm, ok := object(p, dp, v, "document_number", "document_type", "country"); ok {
			a.IdentityDocument = &IdentityDocument{
				DocumentNumber: str(p, dm, dp, "document_number"),
				DocumentType:   str(p, dm, dp, "document_type"),
				Country:        str(p, dm, dp, "country"),
			}
		}
	}
	if v, ok := p.present(m, path, "msisdn"); ok {
		mp := join(path, "msisdn")
		if mm, ok := object(p, mp, v, "phone_number", "country_code"); ok {
			a.MSISDN = &MSISDN{
				PhoneNumber: digits(p, mm, mp, "phone_number"),
				CountryCode: countryCode(p, mm, mp),
			}
		}
	}
	return a
}

// countryCode accepts a string (or, leniently, a number) of 1 to 3 digits
// with an optional leading "+", which is dropped.
func countryCode(p *Problems, m map[string]any, path string) string {
	v, ok := p.present(m, path, "country_code")
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimPrefix(x, "+")
	case json.Number:
		if isDigits(string(x)) {
			return string(x)
		}
	}
	p.Fail(join(path, "country_code"), "must be a string of 1 to 3 digits, got %s", jsonKind(v))
	return ""
}

func decodeChannel(p *Problems, path string, v any) *Channel {
	m, ok := object(p, path, v, "type", "external")
	if !ok {
		return nil
	}
	return &Channel{Type: str(p, m, path, "type"), External: boolish(p, m, path, "external")}
}

// ParseCreateOTP decodes and validates the body of "create OTP
// identification". It reports every problem at once as a KindInvalid error.
func ParseCreateOTP(body []byte) (CreateOTP, error) {
	var in CreateOTP
	p := &Problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "actor", "expires_in", "two_factor_type", "channel")
	if !ok {
		return in, p.Err()
	}
	if a, ok := p.present(m, "", "actor"); ok {
		in.Actor = decodeActor(p, "actor", a)
	}
	in.ExpiresIn = str(p, m, "", "expires_in")
	in.TwoFactorType = str(p, m, "", "two_factor_type")
	if c, ok := p.present(m, "", "channel"); ok {
		in.Channel = decodeChannel(p, "channel", c)
	}
	in.Check(p)
	return in, p.Err()
}

// ParseCreateChain decodes and validates the body of "create chain
// identification". It reports every problem at once as a KindInvalid error.
func ParseCreateChain(body []byte) (CreateChain, error) {
	var in CreateChain
	p := &Problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "actor", "expires_in", "sequence")
	if !ok {
		return in, p.Err()
	}
	if a, ok := p.present(m, "", "actor"); ok {
		in.Actor = decodeActor(p, "actor", a)
	}
	in.ExpiresIn = str(p, m, "", "expires_in")
	if s, ok := p.present(m, "", "sequence"); ok {
		in.Sequence, in.SentSteps = decodeSequence(p, s)
	}
	in.Check(p)
	return in, p.Err()
}

// decodeSequence decodes the steps of a sequence; one too long to take is
// left undecoded, and its length returned instead.
func decodeSequence(p *Problems, v any) (steps []Step, undecoded int) {
	list, ok := v.([]any)
	if !ok {
		p.Fail("sequence", "must be an array, got %s", jsonKind(v))
		return nil, 0
	}
	if len(list) > maxSteps {
		// Not walked: a hostile sequence must not cost one error per step.
		return nil, len(list)
	}
	steps = make([]Step, 0, len(list))
	for i, sv := range list {
		path := "sequence[" + strconv.Itoa(i) + "]"
		m, ok := object(p, path, sv, "identification_type", "otp_step", "identity_document_step")
		if !ok {
			steps = append(steps, Step{})
			continue
		}
		st := Step{IdentificationType: str(p, m, path, "identification_type")}
		if ov, ok := p.present(m, path, "otp_step"); ok {
			op := join(path, "otp_step")
			if om, ok := object(p, op, ov, "two_factor_type", "channel"); ok {
				st.OTPStep = &OTPStep{TwoFactorType: str(p, om, op, "two_factor_type")}
				if cv, ok := p.present(om, op, "channel"); ok {
					st.OTPStep.Channel = decodeChannel(p, join(op, "channel"), cv)
				}
			}
		}
		if dv, ok := p.present(m, path, "identity_document_step"); ok {
			dp := join(path, "identity_document_step")
			if dm, ok := object(p, dp, dv, "provider_type"); ok {
				st.IdentityDocumentStep = &IdentityDocumentStep{ProviderType: str(p, dm, dp, "provider_type")}
			}
		}
		steps = append(steps, st)
	}
	return steps, 0
}

// ParseExtension decodes an extend body: {"expires_in": "<duration>"}.
func ParseExtension(body []byte) (Extension, error) {
	p := &Problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return Extension{}, err
	}
	m, ok := object(p, "", v, "expires_in")
	if !ok {
		return Extension{}, p.Err()
	}
	in := Extension{ExpiresIn: str(p, m, "", "expires_in")}
	if err := p.Err(); err != nil {
		return in, err // the rule is checked on a body read without a problem
	}
	in.Check(p)
	return in, p.Err()
}

// ParseCancel decodes a cancel body. For an OTP identification the body and
// its reason are required (1..500 characters); for a chain both are
// optional. The reason is returned in its NFC form.
func ParseCancel(body []byte, required bool) (reason string, err error) {
	if !required && len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	p := &Problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return "", err
	}
	m, ok := object(p, "", v, "reason")
	if !ok {
		return "", p.Err()
	}
	in := Cancellation{Reason: str(p, m, "", "reason")}
	in.Check(p, required)
	return in.Reason, p.Err()
}
