package identification_test

import (
	"testing"

	"github.com/idadmin/api/shared/identification"
)

// BenchmarkParseExpiresIn measures reading the durations the documented
// examples carry (the bodies themselves: httpapi's BenchmarkParse).
func BenchmarkParseExpiresIn(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range []string{"P7D", "PT15M", "PT0.5H"} {
			if _, err := identification.ParseExpiresIn(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}
