package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
)

// otpNamed is a create-OTP body whose actor has the given name and last
// name, JSON-quoted by the caller.
func otpNamed(name, lastName string) string {
	return `{"actor":{"name":` + name + `,"last_name":` + lastName + `},"channel":{"type":"SMS","external":true}}`
}

// fieldErrors returns the field errors of err, or fails when err is not a
// KindInvalid error.
func fieldErrors(t *testing.T, err error) []identification.FieldError {
	t.Helper()
	var de *identification.Error
	if !errors.As(err, &de) || de.Kind != identification.KindInvalid {
		t.Fatalf("got %v, want a KindInvalid error", err)
	}
	return de.Fields
}

// textThatReadsAsNothing are JSON string literals a person would not read as
// text, or would read differently from what is stored: invisible format
// characters, controls, bidirectional overrides.
var textThatReadsAsNothing = []struct{ name, lit string }{
	{"zero-width space", `"\u200b"`},
	{"zero-width spaces around a letter", `"\u200bJ\u200b"`},
	{"zero-width space inside", `"Jo\u200bhn"`},
	{"byte order mark", `"\ufeffJames"`},
	{"word joiner", `"J\u2060"`},
	{"soft hyphen", `"Ja\u00admes"`},
	{"left-to-right mark", `"J\u200e"`},
	{"right-to-left mark", `"\u200fJ"`},
	{"right-to-left override", `"\u202eJames"`},
	{"left-to-right embedding", `"\u202aJ\u202c"`},
	{"first strong isolate", `"\u2068J\u2069"`},
	{"right-to-left isolate", `"\u2067J"`},
	{"tag character", `"J\udb40\udc41"`},
	{"Hangul filler", `"\u3164"`},
	{"halfwidth Hangul filler", `"J\uffa0"`},
	{"zero-width joiner alone", `"\u200d"`},
	{"zero-width non-joiner at the start", `"\u200cJames"`},
	{"zero-width joiner after a space", `"J \u200dK"`},
	{"NUL", `"\u0000"`},
	{"NUL after a letter", `"J\u0000"`},
	{"escape sequence", `"\u001b[31mJames\u001b[0m"`},
	{"bell", `"J\u0007"`},
	{"DEL", `"J\u007f"`},
	{"C1 control", `"J\u0085"`},
	{"C1 CSI", `"\u009b31mJ"`},
}

// TestNamesRefuseTextThatReadsAsNothing: a name or last name holding a
// control or invisible format character is refused, naming the field, and a
// name with nothing visible is refused as missing.
func TestNamesRefuseTextThatReadsAsNothing(t *testing.T) {
	for _, tc := range textThatReadsAsNothing {
		for _, field := range []string{"actor.name", "actor.last_name"} {
			body := otpNamed(tc.lit, `"Smith"`)
			if field == "actor.last_name" {
				body = otpNamed(`"James"`, tc.lit)
			}
			_, err := parseCreateOTP([]byte(body))
			if err == nil {
				t.Errorf("%s as %s: accepted", tc.name, field)
				continue
			}
			fe := fieldErrors(t, err)
			if len(fe) != 1 || fe[0].Path != field {
				t.Errorf("%s as %s: got %v, want one error at %s", tc.name, field, fe, field)
			}
		}
	}
}

// TestNamesAreOneLine: a line break or tab inside a name is refused.
func TestNamesAreOneLine(t *testing.T) {
	for _, lit := range []string{`"James\nSmith"`, `"James\r\nSmith"`, `"James\rSmith"`, `"James\tSmith"`, `"James\u2028Smith"`, `"James\u2029Smith"`, `"\nJames"`} {
		for _, field := range []string{"actor.name", "actor.last_name"} {
			body := otpNamed(lit, `"Smith"`)
			if field == "actor.last_name" {
				body = otpNamed(`"James"`, lit)
			}
			_, err := parseCreateOTP([]byte(body))
			if err == nil {
				t.Errorf("%s as %s: accepted", lit, field)
				continue
			}
			if fe := fieldErrors(t, err); len(fe) != 1 || fe[0].Path != field {
				t.Errorf("%s as %s: got %v, want one error at %s", lit, field, fe, field)
			}
		}
	}
}

// TestNamesKeepWhatPeopleWrite: scripts that need a joiner, emoji
// sequences, accents and inner spaces are names like any other.
func TestNamesKeepWhatPeopleWrite(t *testing.T) {
	for _, name := range []string{
		"علی\u200cرضا",   // Persian: zero-width non-joiner between letters
		"क्\u200dष",      // Devanagari: virama, joiner, consonant
		"👩\u200d💻",       // emoji sequence joined by ZWJ
		"❤\ufe0f\u200d🔥", // variation selector then ZWJ
		"María José", "O'Brien-Ñúñez", "Zoë", "李小龍", "Ærø", "😀",
		"Jean\u00a0Paul", // no-break space inside
	} {
		in, err := parseCreateOTP([]byte(otpNamed(quote(name), quote(name))))
		if err != nil {
			t.Errorf("%q refused: %v", name, err)
			continue
		}
		if in.Actor.Name != name || in.Actor.LastName != name {
			t.Errorf("%q decoded as %q, %q", name, in.Actor.Name, in.Actor.LastName)
		}
	}
}

// TestTextIsCountedAfterNFC: lengths are counted in characters of the
// NFC-normalised text, and the normalised text is what is kept.
func TestTextIsCountedAfterNFC(t *testing.T) {
	decomposed := func(n int) string { return strings.Repeat("e\u0301", n) } // é as e + combining acute
	composed := func(n int) string { return strings.Repeat("é", n) }

	in, err := parseCreateOTP([]byte(otpNamed(quote(decomposed(100)), quote(decomposed(100)))))
	if err != nil {
		t.Fatalf("100 decomposed é as name and last name: %v", err)
	}
	if in.Actor.Name != composed(100) || in.Actor.LastName != composed(100) {
		t.Errorf("decoded name %+q, want the NFC form", in.Actor.Name)
	}
	_, err = parseCreateOTP([]byte(otpNamed(quote(decomposed(101)), quote(decomposed(101)))))
	if got := pathsOf(fieldErrors(t, err)); got != "actor.name,actor.last_name" {
		t.Errorf("101 decomposed é: errors at %s, want actor.name,actor.last_name", got)
	}

	// The service keeps the normalised form, also for an input that did
	// not come from the parser.
	store := &recordingStore{}
	svc := identification.NewService(store, identification.WithClock(fixedClock), identification.WithCodeKeys(fixture.CodeKeys()))
	created, err := svc.CreateOTP(context.Background(), "acme", identification.CreateOTP{
		Actor:   &identification.Actor{Name: " " + decomposed(100) + " ", LastName: decomposed(3)},
		Channel: &identification.Channel{Type: "SMS", External: true},
	}, identification.Caller{Kind: identification.CallerAdmin})
	i := created.Identification
	if err != nil {
		t.Fatalf("service: %v", err)
	}
	if i.Actor.Name != composed(100) || i.Actor.LastName != composed(3) {
		t.Errorf("service stored %+q, %+q; want the trimmed NFC form", i.Actor.Name, i.Actor.LastName)
	}

	reason, err := parseCancel([]byte(`{"reason":`+quote(decomposed(500))+`}`), true)
	if err != nil || reason != composed(500) {
		t.Errorf("500 decomposed é as reason: got %d bytes, %v; want the NFC form", len(reason), err)
	}
	for _, required := range []bool{true, false} {
		_, err = parseCancel([]byte(`{"reason":`+quote(decomposed(501))+`}`), required)
		if got := pathsOf(fieldErrors(t, err)); got != "reason" {
			t.Errorf("501 decomposed é as reason (required %v): errors at %s", required, got)
		}
	}
}

// TestCancelReasonTextRules: a reason may run over several lines, but
// holds no other control or invisible format character, and a required one
// has something visible.
func TestCancelReasonTextRules(t *testing.T) {
	for _, lit := range []string{`"customer asked\nby phone"`, `"line one\r\nline two"`, `"first:\tsecond"`, `"para one\u2029para two"`, `"duplicate de la solicitud\u00a0#12"`} {
		for _, required := range []bool{true, false} {
			if _, err := parseCancel([]byte(`{"reason":`+lit+`}`), required); err != nil {
				t.Errorf("%s (required %v): %v", lit, required, err)
			}
		}
	}
	for _, tc := range textThatReadsAsNothing {
		for _, required := range []bool{true, false} {
			_, err := parseCancel([]byte(`{"reason":`+tc.lit+`}`), required)
			if err == nil {
				t.Errorf("%s (required %v): accepted", tc.name, required)
				continue
			}
			if got := pathsOf(fieldErrors(t, err)); got != "reason" {
				t.Errorf("%s (required %v): errors at %s, want reason", tc.name, required, got)
			}
		}
	}
	// Nothing visible is no reason at all: refused when one is required.
	for _, lit := range []string{`"\n"`, `"\u00a0\u3000"`, `"\t \r\n"`, `"\u0301"`, `"\u2800"`} {
		_, err := parseCancel([]byte(`{"reason":`+lit+`}`), true)
		if err == nil {
			t.Errorf("%s: accepted as a required reason", lit)
		}
	}
}

func pathsOf(fe []identification.FieldError) string {
	var p []string
	for _, f := range fe {
		p = append(p, f.Path)
	}
	return strings.Join(p, ",")
}

// quote renders s as a JSON string literal.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
