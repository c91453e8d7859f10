package identification

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var de *Error
	if !errors.As(err, &de) || de.Kind != KindInvalid {
		t.Fatalf("got %v, want a KindInvalid error", err)
	}
	var out []string
	for _, f := range de.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestParseCreateOTPAcceptsLenientForms(t *testing.T) {
	body := `{"actor":{"name":"  Ana  ","msisdn":{"phone_number":"612345678","country_code":"+34"}},
		"channel":{"type":"WHATSAPP","external":"false"},"expires_in":null,"two_factor_type":null}`
	in, err := ParseCreateOTP([]byte(body))
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if in.Actor.MSISDN.PhoneNumber != "612345678" || in.Actor.MSISDN.CountryCode != "34" {
		t.Errorf("msisdn: got %+v", in.Actor.MSISDN)
	}
	if in.Channel.External {
		t.Error(`external "false" decoded as true`)
	}
}

func TestParseReportsWrongTypesOncePerField(t *testing.T) {
	body := `{"actor":{"name":1,"identity_document":"NIF"},"channel":{"type":"SMS","external":1},"two_factor_type":"DOCUMENT_NUMBER"}`
	_, err := ParseCreateOTP([]byte(body))
	got := strings.Join(fieldsOf(t, err), ",")
	// identity_document is broken, so the two-factor rule that needs it and
	// the missing msisdn for SMS are the only rule errors besides the types.
	want := "actor.name,actor.identity_document,channel.external,channel.type"
	if got != want {
		t.Errorf("fields: got %s, want %s", got, want)
	}
}

func TestParseBoundsTheErrorsReported(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"actor":{"name":"A","email":"a@example.com"},"channel":{"type":"EMAIL"}`)
	for i := 0; i < 500; i++ {
		b.WriteString(`,"x` + strings.Repeat("y", i%7) + string(rune('a'+i%26)) + `":1`)
	}
	b.WriteString(`}`)
	_, err := ParseCreateOTP([]byte(b.String()))
	if n := len(fieldsOf(t, err)); n == 0 || n > maxFieldErrors {
		t.Errorf("got %d errors, want 1..%d", n, maxFieldErrors)
	}
}

func TestParseCancel(t *testing.T) {
	cases := []struct {
		body     string
		required bool
		reason   string
		field    string
	}{
		{`{"reason":"customer asked"}`, true, "customer asked", ""},
		{``, false, "", ""},
		{`{}`, false, "", ""},
		{`{"reason":null}`, false, "", ""},
		{``, true, "", "body"},
		{`{}`, true, "", "reason"},
		{`{"reason":"  "}`, true, "", "reason"},
		{`{"reason":"` + strings.Repeat("é", 500) + `"}`, true, strings.Repeat("é", 500), ""},
		{`{"reason":"` + strings.Repeat("é", 501) + `"}`, false, "", "reason"},
		{`[]`, false, "", "body"},
	}
	for _, tc := range cases {
		reason, err := ParseCancel([]byte(tc.body), tc.required)
		if tc.field == "" {
			if err != nil || reason != tc.reason {
				t.Errorf("%.40q required=%v: got %q, %v; want %q", tc.body, tc.required, reason, err, tc.reason)
			}
			continue
		}
		if got := fieldsOf(t, err); len(got) != 1 || got[0] != tc.field {
			t.Errorf("%.40q required=%v: fields %v, want [%s]", tc.body, tc.required, got, tc.field)
		}
	}
}

func TestMSISDNMarshalsPhoneAsNumber(t *testing.T) {
	b, err := json.Marshal(MSISDN{PhoneNumber: "6123456789", CountryCode: "34"})
	if err != nil || string(b) != `{"phone_number":6123456789,"country_code":"34"}` {
		t.Errorf("got %s, %v", b, err)
	}
	// Never invalid JSON, even for a value the rules would refuse.
	b, err = json.Marshal(MSISDN{PhoneNumber: "0612", CountryCode: "34"})
	if err != nil || !json.Valid(b) {
		t.Errorf("leading zero: got %s, %v", b, err)
	}
}

func TestCountryList(t *testing.T) {
	for _, c := range []string{"ES", "DE", "US", "GB", "SS", "ZW"} {
		if !isCountry(c) {
			t.Errorf("%s refused", c)
		}
	}
	for _, c := range []string{"XX", "UK", "EU", "es", "E", "ESP", "S ", " A"} {
		if isCountry(c) {
			t.Errorf("%q accepted", c)
		}
	}
}

func TestServiceValidatesInputsThatWereNotParsed(t *testing.T) {
	svc := NewService(nil)
	_, err := svc.CreateOTP(t.Context(), "acme", CreateOTP{Actor: &Actor{Name: "A"}}, Caller{})
	if got := fieldsOf(t, err); len(got) != 1 || got[0] != "channel" {
		t.Errorf("fields %v, want [channel]", got)
	}
	_, err = svc.CreateChain(t.Context(), "acme", CreateChain{Actor: &Actor{Name: "A"}, ExpiresIn: "PT1H"}, Caller{})
	if got := fieldsOf(t, err); len(got) != 1 || got[0] != "sequence" {
		t.Errorf("fields %v, want [sequence]", got)
	}
}
