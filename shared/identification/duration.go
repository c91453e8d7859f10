package identification

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/sosodev/duration"
)

// Expiry bounds of SPEC §3.
const (
	MinExpiresIn     = time.Minute
	MaxExpiresIn     = 30 * 24 * time.Hour
	DefaultExpiresIn = MaxExpiresIn
)

// isoShape is the designator order ISO 8601 prescribes; the parser is
// lenient about order and repetition, so the shape is checked first.
var isoShape = regexp.MustCompile(`^P(?:\d+(?:[.,]\d+)?Y)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?W)?(?:\d+(?:[.,]\d+)?D)?(?:T(?:\d+(?:[.,]\d+)?H)?(?:\d+(?:[.,]\d+)?M)?(?:\d+(?:[.,]\d+)?S)?)?$`)

// ParseExpiresIn parses an ISO-8601 duration such as P7D, PT15M, P1W, PT36H
// or P1DT12H and enforces the rules of SPEC §3: positive, at least one
// minute, at most 30 days, no year or month designators (their length
// varies). The message of the returned error is safe to show.
func ParseExpiresIn(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("must be an ISO-8601 duration such as P7D or PT15M")
	}
	if len(s) > 64 {
		return 0, fmt.Errorf("must be an ISO-8601 duration such as P7D or PT15M (at most 64 characters)")
	}
	if s[0] == '-' {
		return 0, fmt.Errorf("must be positive")
	}
	if !isoShape.MatchString(s) || s == "P" || s[len(s)-1] == 'T' {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as P7D, PT15M, P1W or P1DT12H", s)
	}
	normalised := []byte(s)
	for i, c := range normalised {
		if c == ',' {
			normalised[i] = '.'
		}
	}
	d, err := duration.Parse(string(normalised))
	if err != nil {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as P7D, PT15M, P1W or P1DT12H", s)
	}
	// The designators are refused whatever their value ("P0Y1D"): the
	// rule is about the units, and a zero test would let "P0.0M1D" in.
	if date, _, _ := strings.Cut(s, "T"); d.Years != 0 || d.Months != 0 || strings.ContainsAny(date, "YM") {
		return 0, fmt.Errorf("years (Y) and months (M before T) are not allowed because their length varies; use days, e.g. P30D")
	}
	seconds := d.Weeks*7*86400 + d.Days*86400 + d.Hours*3600 + d.Minutes*60 + d.Seconds
	if math.IsNaN(seconds) || math.IsInf(seconds, 0) || seconds > MaxExpiresIn.Seconds() {
		return 0, fmt.Errorf("must be at most 30 days (P30D)")
	}
	// Both bounds apply to the duration as written: rounding first would
	// let PT59.5S through as a minute.
	if seconds < MinExpiresIn.Seconds() {
		return 0, fmt.Errorf("must be at least 1 minute (PT1M)")
	}
	// Times are kept to the second, so the duration is too.
	return time.Duration(math.Round(seconds)) * time.Second, nil
}
