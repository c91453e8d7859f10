package numbers_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/idadmin/api/shared/guard/numbers"
)

// TestTheTableAgreesWithLibphonenumber: for numbers of every calling code
// (random national numbers, and the examples libphonenumber gives for each
// country), CountryOf names the country libphonenumber does wherever that
// is a country, and every country it knows is a KnownCountry. It fails
// when the table is stale (run go generate ./shared/guard/numbers).
func TestTheTableAgreesWithLibphonenumber(t *testing.T) {
	var regions []string
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
		if !numbers.KnownCountry(r) {
			t.Errorf("KnownCountry(%s) = false", r)
		}
	}
	slices.Sort(regions)
	rng := rand.New(rand.NewPCG(1, 2))
	checked, differ := 0, 0
	check := func(e164 string) {
		num, err := phonenumbers.Parse(e164, "")
		if err != nil || len(e164) < 9 {
			return // the API takes 8 to 15 digits
		}
		want := phonenumbers.GetRegionCodeForNumber(num)
		if want == "" || want == "ZZ" || len(want) != 2 || !phonenumbers.IsValidNumber(num) {
			return
		}
		checked++
		if got := numbers.CountryOf(e164); got != want {
			differ++
			if differ <= 20 {
				t.Errorf("CountryOf(%s) = %q, libphonenumber says %q", e164, got, want)
			}
		}
	}
	for _, r := range regions {
		for _, kind := range []phonenumbers.PhoneNumberType{phonenumbers.MOBILE, phonenumbers.FIXED_LINE, phonenumbers.PREMIUM_RATE, phonenumbers.TOLL_FREE} {
			if ex := phonenumbers.GetExampleNumberForType(r, kind); ex != nil {
				check(phonenumbers.Format(ex, phonenumbers.E164))
			}
		}
		cc := phonenumbers.GetCountryCodeForRegion(r)
		for range 60 {
			check(fmt.Sprintf("+%d%09d", cc, rng.IntN(1_000_000_000)))
			check(fmt.Sprintf("+%d%010d", cc, rng.IntN(10_000_000_000)))
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d valid numbers checked", checked)
	}
	// libphonenumber tells some countries of a shared calling code apart
	// by whole number patterns, not prefixes: a few may differ.
	if differ*1000 > checked {
		t.Errorf("%d of %d valid numbers in another country than libphonenumber's", differ, checked)
	}
	t.Logf("%d valid numbers checked, %d in another country", checked, differ)
}

func TestCountryAndMask(t *testing.T) {
	for _, tc := range []struct{ in, country, mask string }{
		{"+34612345678", "ES", "+34 61…"},
		{"+18765551234", "JM", "+1 87…"},
		{"+14165551234", "CA", "+1 41…"},
		{"+12125551234", "US", "+1 21…"},
		{"+77011234567", "KZ", "+7 70…"},
		{"+79123456789", "RU", "+7 91…"},
		{"+447911123456", "GB", "+44 79…"},
		{"+4415341234567", "JE", "+44 15…"},
		{"+351912345678", "PT", "+351 91…"},
		{"34612345678", "", ""},
		{"+0612345678", "", ""},
		{"+34 612345678", "", ""},
	} {
		if got := numbers.CountryOf(tc.in); got != tc.country {
			t.Errorf("CountryOf(%q) = %q, want %q", tc.in, got, tc.country)
		}
		if got := numbers.MaskedPrefix(tc.in); got != tc.mask {
			t.Errorf("MaskedPrefix(%q) = %q, want %q", tc.in, got, tc.mask)
		}
	}
}
