package identification

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Expiry bounds of a process (docs/openapi.yaml).
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
// or P1DT12H and enforces the expiry rules of docs/openapi.yaml: positive,
// at least one minute, at most 30 days, no year or month designators (their
// length varies). The bounds are compared exactly, on the duration as
// written, however many digits its fractions have; the result is rounded
// to the second, half up. The message of the returned error is safe to
// show: it never repeats the input.
func ParseExpiresIn(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("must be an ISO-8601 duration such as P7D or PT15M")
	}
	if len(s) > 64 {
		return 0, errors.New("must be an ISO-8601 duration such as P7D or PT15M (at most 64 characters)")
	}
	if s[0] == '-' {
		return 0, errors.New("must be positive")
	}
	if !isoShape(s) || s == "P" || s[len(s)-1] == 'T' {
		return 0, errors.New("is not an ISO-8601 duration such as P7D, PT15M, P1W or P1DT12H")
	}
	// The designators are refused whatever their value ("P0Y1D"): the
	// rule is about the units, and a zero test would let "P0.0M1D" in.
	if date, _, _ := strings.Cut(s, "T"); strings.ContainsAny(date, "YM") {
		return 0, errors.New("years (Y) and months (M before T) are not allowed because their length varies; use days, e.g. P30D")
	}
	seconds, cmp := exactSeconds(s)
	switch {
	case cmp > 0:
		return 0, errors.New("must be at most 30 days (P30D)")
	case cmp < 0:
		// Both bounds apply to the duration as written: rounding first
		// would let PT59.5S through as a minute.
		return 0, errors.New("must be at least 1 minute (PT1M)")
	}
	// Times are kept to the second, so the duration is too.
	return time.Duration(seconds) * time.Second, nil
}

// Designator lengths in seconds.
var unitSeconds = map[byte]int64{'W': 7 * 86400, 'D': 86400, 'H': 3600, 'M': 60, 'S': 1}

var (
	minSeconds = int64(MinExpiresIn / time.Second)
	maxSeconds = int64(MaxExpiresIn / time.Second)
)

// exactSeconds reads a duration of isoShape without years or months and
// compares it, exactly, with the bounds: cmp is -1 below a minute, +1 over
// 30 days, 0 within, and then seconds is its length rounded to the second,
// half up. Whole numbers are added in int64, bounded long before overflow;
// fractions, whose digits are unbounded, in math/big.
func exactSeconds(s string) (seconds int64, cmp int) {
	var (
		whole    int64    // the whole seconds of the components read so far
		frac     *big.Int // their fractional seconds, in units of 10^-scale
		scale    int
		tooLarge bool
	)
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			i++
			continue
		}
		j := i
		for s[j] >= '0' && s[j] <= '9' {
			j++
		}
		intPart := strings.TrimLeft(s[i:j], "0")
		fracPart := ""
		if s[j] == '.' || s[j] == ',' {
			k := j + 1
			for s[k] >= '0' && s[k] <= '9' {
				k++
			}
			fracPart = strings.TrimRight(s[j+1:k], "0")
			j = k
		}
		unit := unitSeconds[s[j]]
		i = j + 1
		// Eight digits are 10^7 seconds at least, more than 30 days.
		if len(intPart) > 7 {
			tooLarge = true
			continue
		}
		n, _ := strconv.ParseInt("0"+intPart, 10, 64)
		whole += n * unit
		if fracPart == "" {
			continue
		}
		// fracPart/10^len × unit seconds, added at the larger scale.
		f, _ := new(big.Int).SetString(fracPart, 10)
		f.Mul(f, big.NewInt(unit))
		if frac == nil {
			frac, scale = f, len(fracPart)
			continue
		}
		if len(fracPart) > scale {
			frac.Mul(frac, pow10(len(fracPart)-scale))
			scale = len(fracPart)
		} else {
			f.Mul(f, pow10(scale-len(fracPart)))
		}
		frac.Add(frac, f)
	}
	if tooLarge || whole > maxSeconds {
		return 0, 1
	}
	rest := false // a fraction of a second is left over
	half := 0     // the left-over fraction compared with one half
	if frac != nil {
		one := pow10(scale)
		q, r := new(big.Int).QuoRem(frac, one, new(big.Int))
		if q.Cmp(big.NewInt(maxSeconds)) > 0 {
			return 0, 1
		}
		whole += q.Int64()
		rest = r.Sign() != 0
		half = new(big.Int).Lsh(r, 1).Cmp(one)
	}
	switch {
	case whole > maxSeconds || whole == maxSeconds && rest:
		return 0, 1
	case whole < minSeconds:
		return 0, -1
	}
	if half >= 0 && rest {
		whole++
	}
	return whole, 0
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}
