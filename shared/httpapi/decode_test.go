package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/identification"
)

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var de *identification.Error
	if !errors.As(err, &de) || de.Kind != identification.KindInvalid {
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
	in, err := parseCreateOTP([]byte(body))
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
	_, err := parseCreateOTP([]byte(body))
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
	_, err := parseCreateOTP([]byte(b.String()))
	if n := len(fieldsOf(t, err)); n == 0 || n > 50 {
		t.Errorf("got %d errors, want 1..50", n)
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
		reason, err := parseCancel([]byte(tc.body), tc.required)
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
