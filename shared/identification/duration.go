package identification

import (
	"fmt"
	"math"
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

// isoShape reports whether s has the designator order ISO 8601 prescribes,
// P[nY][nM][nW][nD][T[nH][nM][nS]], each n digits with an optional fraction
// after '.' or ','. The parser is lenient about order and repetition, so
// the shape is checked first; it is written out (a test holds it to the
// equivalent regular expression) to keep regexp compilation out of every
// cold start.
func isoShape(s string) bool {
	if len(s) == 0 || s[0] != 'P' {
		return false
	}
	i := 1
	// designators walks the components of one part, in order.
	designators := func(units string) bool {
		next := 0
		for i < len(s) && s[i] != 'T' {
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i {
				return false
			}
			if j < len(s) && (s[j] == '.' || s[j] == ',') {
				k := j + 1
				for k < len(s) && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				if k == j+1 {
					return false
				}
				j = k
			}
			if j == len(s) {
				return false
			}
			u := strings.IndexByte(units[next:], s[j])
			if u < 0 {
				return false
			}
			next += u + 1
			i = j + 1
		}
		return true
	}
	if !designators("YMWD") {
		return false
	}
	if i < len(s) { // s[i] == 'T'
		i++
		if !designators("HMS") || i < len(s) {
			return false
		}
	}
	return true
}

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
	if !isoShape(s) || s == "P" || s[len(s)-1] == 'T' {
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
