package identification

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseExpiresIn(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"P7D", 7 * 24 * time.Hour, ""},
		{"PT15M", 15 * time.Minute, ""},
		{"P1W", 7 * 24 * time.Hour, ""},
		{"PT36H", 36 * time.Hour, ""},
		{"P1DT12H", 36 * time.Hour, ""},
		{"PT1M", time.Minute, ""},
		{"PT60S", time.Minute, ""},
		{"P30D", 30 * 24 * time.Hour, ""},
		{"PT0.5H", 30 * time.Minute, ""},
		{"PT1,5H", 90 * time.Minute, ""},
		{"P29DT23H59M59S", 30*24*time.Hour - time.Second, ""},
		{"PT59S", 0, "at least 1 minute"},
		{"PT0M", 0, "at least 1 minute"},
		{"P30DT1S", 0, "at most 30 days"},
		{"P5W", 0, "at most 30 days"},
		{"P99999999999999999999D", 0, "at most 30 days"},
		{"P1M", 0, "use days"},
		{"P1Y", 0, "use days"},
		{"P1Y2M", 0, "use days"},
		{"-P1D", 0, "positive"},
		{"", 0, "ISO-8601"},
		{"P", 0, "not an ISO-8601"},
		{"PT", 0, "not an ISO-8601"},
		{"P1DT", 0, "not an ISO-8601"},
		{"7D", 0, "not an ISO-8601"},
		{"p7d", 0, "not an ISO-8601"},
		{"PT1H1D", 0, "not an ISO-8601"},
		{"P1D1D", 0, "not an ISO-8601"},
		{"P1H", 0, "not an ISO-8601"},
		{"PT1D", 0, "not an ISO-8601"},
		{"P1.5.5D", 0, "not an ISO-8601"},
		{"P1e3D", 0, "not an ISO-8601"},
		{"P١D", 0, "not an ISO-8601"},
		{"P 1D", 0, "not an ISO-8601"},
		{strings.Repeat("P1D", 30), 0, "at most 64 characters"},
	}
	for _, tc := range cases {
		got, err := ParseExpiresIn(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("%q: got %s, want %s", tc.in, got, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: got %v, %v; want an error containing %q", tc.in, got, err, tc.err)
		}
	}
}

// isoShapeSpec is the shape isoShape checks, as a regular expression.
var isoShapeSpec = regexp.MustCompile(`^P(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?W)?(?:\d+(?:[.,]\d+)?D)?(?:T(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?$`)

func TestISOShapeMatchesItsSpec(t *testing.T) {
	for _, s := range []string{"P", "PT", "P1D", "P1DT", "PT1H", "P1Y2M3W4DT5H6M7S", "P1.5D", "P1,5D", "P1.D", "P.5D", "PT1H1H", "PT1M1H",
		"P1M1Y", "P1D1W", "P1DT1D", "PTT", "P1", "PT1", "1D", "P1DX", "P1DT1H1M1S1", "P01D", "P1W1D", "PT1S1M"} {
		if got, want := isoShape(s), isoShapeSpec.MatchString(s); got != want {
			t.Errorf("isoShape(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzISOShape(f *testing.F) {
	f.Add("P1DT12H")
	f.Add("PT1,5H")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isoShape(s), isoShapeSpec.MatchString(s); got != want {
			t.Fatalf("isoShape(%q) = %v, want %v", s, got, want)
		}
	})
}

// TestExpiresInBoundsAreExact: the bounds hold for the duration as written,
// however many digits its fraction has, and rounding to the second is
// exact too: float64 seconds would let these through or round them wrongly.
func TestExpiresInBoundsAreExact(t *testing.T) {
	refused := []struct{ in, err string }{
		{"PT59.9999999999999999S", "at least 1 minute"},
		{"PT59.99999999999999999999999999999999999999999999999999S", "at least 1 minute"},
		{"PT0.9999999999999999999M", "at least 1 minute"},
		{"PT0.0166666666666666666666666666H", "at least 1 minute"},
		{"P0.000694444444444444444D", "at least 1 minute"},
		{"PT0,9999999999999999999M", "at least 1 minute"},
		{"P30DT0.0000000001S", "at most 30 days"},
		{"P30DT0.000000000000000000000000000000000000000001S", "at most 30 days"},
		{"P4W2DT0.0000000000000001S", "at most 30 days"},
		{"P30.00000000000000001D", "at most 30 days"},
		{"PT720.0000000000000001H", "at most 30 days"},
		{"PT43200.000000000000001M", "at most 30 days"},
		{"P4.285714285714285714285714285714286W", "at most 30 days"},
		{"PT2592000.0000000000000000001S", "at most 30 days"},
	}
	for _, tc := range refused {
		if d, err := ParseExpiresIn(tc.in); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: got %s, %v; want an error containing %q", tc.in, d, err, tc.err)
		}
	}
	accepted := []struct {
		in   string
		want time.Duration
	}{
		{"PT60S", time.Minute},
		{"PT60.0000000000000000000000S", time.Minute},
		{"PT0.0166666666666666666666666667H", time.Minute},
		{"PT0.01666666666666666666666666666666666666666667H", time.Minute},
		{"P4W2D", 30 * 24 * time.Hour},
		{"P30.000000000000000000000000000000000D", 30 * 24 * time.Hour},
		{"P29DT23H59M59.9999999999999999999999S", 30 * 24 * time.Hour},
		{"PT2592000S", 30 * 24 * time.Hour},
		{"PT60.4999999999999999999S", time.Minute},
		{"PT90.49999999999999999S", 90 * time.Second},
		{"PT90.5S", 91 * time.Second},
		{"PT90.50000000000000001S", 91 * time.Second},
		{"PT1.0083333333333333333333333333M", time.Minute},
		{"PT1.0083333333333333333333333334M", 61 * time.Second},
		{"PT0.5H0.5M0.5S", 30*time.Minute + 31*time.Second},
		{"P0.5DT0.5H", 12*time.Hour + 30*time.Minute},
		{"P000000000000000000000000000000000000000000000000000001D", 24 * time.Hour},
	}
	for _, tc := range accepted {
		if d, err := ParseExpiresIn(tc.in); err != nil || d != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.in, d, err, tc.want)
		}
	}
}

// TestExpiresInErrorsRepeatNoValue: ParseExpiresIn's message is shown to
// the client as is (at expires_in), so it never repeats the value.
func TestExpiresInErrorsRepeatNoValue(t *testing.T) {
	for _, s := range []string{"P98765X", "P98765D", "PT9876543.21S", "-P98765D", "P98765Y", "98765"} {
		if _, err := ParseExpiresIn(s); err == nil || strings.Contains(err.Error(), "98765") {
			t.Errorf("ParseExpiresIn(%q): %v", s, err)
		}
	}
}
