// Package wirejson reads JSON request bodies for decoders that report every
// problem at once, each at the path of the field it concerns
// ("actor.msisdn.phone_number", "sequence[1]", `actor["a.b"]`), and that
// never repeat what the client sent.
//
// Parse decodes a body into generic values (objects as map[string]any,
// arrays as []any, numbers as json.Number, exact) and refuses what
// encoding/json lets through silently (rawbody.go); Object, String, Bool
// and Digits read the fields of an object, reporting a value of the wrong
// type at its path and marking the path bad, so that no rule is checked on
// a value that was not read as sent. What a decoder makes of the values,
// and the rules they must keep, are its own: this package knows no schema.
package wirejson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problems is where a walk reports what it finds (identification.Problems
// is one). Fail records a problem at a path and marks the path bad; Bad
// reports whether a path or one of its parents was marked, and AnyBad
// whether any was (until one is, no path is built to ask Bad about); Full
// whether no further problem will be kept, so a walk can stop looking.
type Problems interface {
	Fail(path, format string, args ...any)
	Bad(path string) bool
	AnyBad() bool
	Full() bool
}

// Join is the path of key in the object at path ("" is the body itself).
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Parse decodes body, which must be one JSON value, into generic values,
// numbers kept exact. A body that is empty or not JSON is reported at
// "body" (the syntax error and its byte offset, never the character that
// broke it), and ok is false. Otherwise Parse also reports, at its place,
// what encoding/json would have let through silently (checkEncoding).
func Parse(body []byte, p Problems) (v any, ok bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		p.Fail("body", "is required and must be a JSON object")
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		p.Fail("body", "is not valid JSON: %s", describeJSONError(err, body))
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		p.Fail("body", "is not valid JSON: unexpected data after the top-level value")
		return nil, false
	}
	checkEncoding(p, body)
	return v, true
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

// Object checks that v, the value at path, is a JSON object holding only
// the allowed keys: any other is reported, in key order, as an unknown
// field. ok is false, and the path marked bad, when v is no object.
func Object(p Problems, path string, v any, allowed ...string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		p.Fail(pathOr(path, "body"), "must be a JSON object, got %s", Kind(v))
		return nil, false
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
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
		return Join(path, key)
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

// Present returns the value at key of the object m at path, treating JSON
// null as absent, and so a value already reported (sent twice, or not
// readable as sent): its rules are not checked, nor those depending on it.
func Present(p Problems, m map[string]any, path, key string) (any, bool) {
	v, ok := m[key]
	if !ok || v == nil || p.AnyBad() && p.Bad(Join(path, key)) {
		return nil, false
	}
	return v, true
}

// String reads a string field; "" when absent, null or not a string (which
// is reported).
func String(p Problems, m map[string]any, path, key string) string {
	v, ok := Present(p, m, path, key)
	if !ok {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		p.Fail(Join(path, key), "must be a string, got %s", Kind(v))
		return ""
	}
	return s
}

// Bool reads a boolean field, accepting true, false and the strings "true"
// and "false", as the published examples send them.
func Bool(p Problems, m map[string]any, path, key string) bool {
	v, ok := Present(p, m, path, key)
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
	p.Fail(Join(path, key), `must be a boolean (true, false, "true" or "false"), got %s`, Kind(v))
	return false
}

// Digits reads a JSON integer or a string of digits, as its digits.
func Digits(p Problems, m map[string]any, path, key string) string {
	v, ok := Present(p, m, path, key)
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !isDigits(s) {
			p.Fail(Join(path, key), "must be a whole number of digits: no sign, fraction or exponent")
			return ""
		}
		return s
	case string:
		if !isDigits(x) {
			p.Fail(Join(path, key), "must be a number or a string of digits")
			return ""
		}
		return x
	}
	p.Fail(Join(path, key), "must be a number or a string of digits, got %s", Kind(v))
	return ""
}

// isDigits reports whether s is one or more of 0-9.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Kind names the JSON type of a generic value, as an error says it: "a
// string", "an object".
func Kind(v any) string {
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
	return "a value of no JSON type"
}
