// Package numbers reads what the sending guard needs of a phone number:
// its country and its masked prefix. The countries come from
// libphonenumber's metadata (github.com/nyaruka/phonenumbers), kept
// current by its maintainers, through a table generated from it
// (table.go, by gen/main.go): the metadata itself is about 5.5 MB, which
// every function that issues codes would otherwise link.
package numbers

//go:generate go run ./gen table.go

import (
	"strconv"
)

// Numbers reads phone numbers for guard.New.
type Numbers struct{}

// Country is CountryOf.
func (Numbers) Country(e164 string) string { return CountryOf(e164) }

// MaskedPrefix is MaskedPrefix.
func (Numbers) MaskedPrefix(e164 string) string { return MaskedPrefix(e164) }

// split is e164's calling code and national number; ok false for a
// string that is not "+" and 8 to 15 digits starting with a calling code.
func split(e164 string) (cc int, national string, ok bool) {
	if len(e164) < 9 || len(e164) > 16 || e164[0] != '+' || e164[1] == '0' {
		return 0, "", false
	}
	for _, r := range e164[1:] {
		if r < '0' || r > '9' {
			return 0, "", false
		}
	}
	for n := 1; n <= 3; n++ {
		c, _ := strconv.Atoi(e164[1 : 1+n])
		if _, known := mainRegion[c]; known {
			return c, e164[1+n:], true
		}
	}
	return 0, "", false
}

// CountryOf is the ISO 3166-1 alpha-2 country of the E.164 number e164,
// "" when no country's: by its calling code and, where one calling code
// is several countries' (+1: the United States, Canada and the Caribbean;
// +7: Russia and Kazakhstan; +44: the United Kingdom and the Crown
// Dependencies), by the first digits of the national number. The
// Caribbean ranges of +1 are among SMS pumping's favourite destinations.
func CountryOf(e164 string) string {
	cc, nat, ok := split(e164)
	if !ok {
		return ""
	}
	for n := 5; n >= 1; n-- {
		if len(nat) >= n {
			if r, ok := prefixRegion[strconv.Itoa(cc)+":"+nat[:n]]; ok {
				return r
			}
		}
	}
	r := mainRegion[cc]
	if len(r) != 2 || r == "ZZ" {
		return ""
	}
	return r
}

// KnownCountry reports whether c is an ISO 3166-1 alpha-2 code, in
// capitals, of a country with a calling code.
func KnownCountry(c string) bool {
	_, ok := regions[c]
	return ok
}

// MaskedPrefix is e164 as a guard event shows it: its calling code and the
// first two digits of the national number ("+34 61…"), never more.
func MaskedPrefix(e164 string) string {
	cc, nat, ok := split(e164)
	if !ok {
		return ""
	}
	return "+" + strconv.Itoa(cc) + " " + nat[:min(2, len(nat))] + "…"
}
