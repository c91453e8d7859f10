package identification

import (
	"errors"
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
