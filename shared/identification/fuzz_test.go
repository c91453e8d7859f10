package identification_test

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// FuzzParseExpiresIn holds ParseExpiresIn to an independent reading of the
// ISO-8601 durations the API accepts (isoSeconds): the same verdict, and
// the same length, rounded half up to the second. `make fuzz` runs it for
// FUZZTIME; `go test` replays the seeds and testdata/fuzz. The request
// bodies' fuzz targets are shared/httpapi's (decode_fuzz_test.go).

var durationSeeds = []string{
	"P7D", "PT15M", "P1W", "PT36H", "P1DT12H", "PT1M", "PT60S", "P30D", "PT0.5H", "PT1,5H",
	"P29DT23H59M59S", "PT59S", "PT59.5S", "PT59.9999S", "PT0M", "P30DT1S", "P30DT0.4S", "P4W2D", "P4W3D", "P5W",
	"P99999999999999999999D", "P1M", "P1Y", "P1Y2M", "P0Y1D", "P0M1D", "P0.0M1D", "PT1M0S", "-P1D", "", "P", "PT", "P1DT",
	"7D", "p7d", "PT1H1D", "P1D1D", "P1H", "PT1D", "P1.5.5D", "P1e3D", "P١D", "P 1D", "PT.5H", "PT1.H",
	"P0.000694444444444444444D", "PT0.0166666666666666666667H", "P00000000000000000000000000000000000000000000000000001D",
	"PT59.9999999999999999S", "PT0.9999999999999999999M", "P30DT0.0000000001S", "PT90.49999999999999999S", "PT90.5S",
	"P4W2DT0.0000000000000001S", "PT0.0166666666666666666666666666H", "P29DT23H59M59.9999999999999999999999S",
	strings.Repeat("P1D", 30),
}

func FuzzParseExpiresIn(f *testing.F) {
	for _, s := range durationSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := identification.ParseExpiresIn(s)
		secs, yearsOrMonths, ok := isoSeconds(s)
		min, max := big.NewRat(60, 1), big.NewRat(30*86400, 1)
		wantOK := ok && !yearsOrMonths && secs.Cmp(min) >= 0 && secs.Cmp(max) <= 0
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty message", s)
			}
			if wantOK {
				t.Fatalf("%q (%s s) refused: %v", s, ratString(secs), err)
			}
			return
		}
		if !wantOK {
			t.Fatalf("%q accepted as %s; the oracle refuses it (valid shape %v, years or months %v, %s s)",
				s, got, ok, yearsOrMonths, ratString(secs))
		}
		// Rounded to the second, half up, exactly: floor(secs + 1/2).
		half := new(big.Rat).Add(secs, big.NewRat(1, 2))
		want := new(big.Int).Quo(half.Num(), half.Denom())
		if got%time.Second != 0 || !want.IsInt64() || got != time.Duration(want.Int64())*time.Second {
			t.Fatalf("%q: got %s, want %s s rounded half up to the second (%s s)", s, got, ratString(secs), want)
		}
	})
}

// isoSeconds is an independent reading of the ISO-8601 durations the API
// accepts: P[nY][nM][nW][nD][T[nH][nM][nS]], designators in that order, at
// least one, each number digits with an optional fraction after '.' or ','.
// It returns the exact length in seconds (a year and a month count 0: they
// are refused anyway) and whether a year or month designator appears at
// all: the API refuses the designators, whatever their value ("P0Y1D").
func isoSeconds(s string) (*big.Rat, bool, bool) {
	total := new(big.Rat)
	if len(s) > 64 || !strings.HasPrefix(s, "P") {
		return total, false, false
	}
	rest := s[1:]
	date, tm, hasT := strings.Cut(rest, "T")
	if hasT && tm == "" || rest == "" {
		return total, false, false
	}
	ym := false
	parts := []struct {
		s     string
		units []string
		secs  []int64
	}{
		{date, []string{"Y", "M", "W", "D"}, []int64{0, 0, 7 * 86400, 86400}},
		{tm, []string{"H", "M", "S"}, []int64{3600, 60, 1}},
	}
	for pi, p := range parts {
		s := p.s
		next := 0
		for s != "" {
			i := 0
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == 0 {
				return total, false, false
			}
			num := s[:i]
			if i < len(s) && (s[i] == '.' || s[i] == ',') {
				j := i + 1
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				if j == i+1 {
					return total, false, false
				}
				num, i = s[:i]+"."+s[i+1:j], j
			}
			if i >= len(s) {
				return total, false, false
			}
			unit := string(s[i])
			k := next
			for k < len(p.units) && p.units[k] != unit {
				k++
			}
			if k == len(p.units) {
				return total, false, false
			}
			next = k + 1
			v, ok := new(big.Rat).SetString(num)
			if !ok {
				return total, false, false
			}
			if pi == 0 && k < 2 {
				ym = true
			}
			total.Add(total, v.Mul(v, new(big.Rat).SetInt64(p.secs[k])))
			s = s[i+1:]
		}
	}
	return total, ym, true
}

func ratString(r *big.Rat) string {
	if r.Cmp(big.NewRat(1e12, 1)) > 0 {
		return "more than 1e12"
	}
	return r.FloatString(30)
}

// TestFuzzFindsStayFixed pins what FuzzParseExpiresIn found, in words (the
// inputs themselves are also under testdata/fuzz).
func TestFuzzFindsStayFixed(t *testing.T) {
	// The one-minute minimum was checked after rounding to the second.
	for _, s := range []string{"PT59.5S", "PT0,0166H", "PT0.99999M", "P0YT59.5S"} {
		if d, err := identification.ParseExpiresIn(s); err == nil {
			t.Errorf("%s accepted as %s", s, d)
		}
	}
	// Year and month designators are refused whatever their value.
	for _, s := range []string{"P0Y1D", "P0M1D", "P0.0M1D", "P0YT10000M"} {
		if d, err := identification.ParseExpiresIn(s); err == nil || !strings.Contains(err.Error(), "use days") {
			t.Errorf("%s: got %s, %v; want the years-and-months refusal", s, d, err)
		}
	}
	for s, want := range map[string]time.Duration{"PT60.4S": time.Minute, "PT90.5S": 91 * time.Second, "P0DT1M": time.Minute} {
		if d, err := identification.ParseExpiresIn(s); err != nil || d != want {
			t.Errorf("%s: got %s, %v; want %s", s, d, err, want)
		}
	}
}
