package identification_test

import (
	"testing"

	"github.com/idadmin/api/shared/identification"
)

// BenchmarkParse measures decoding and validation of the documented
// examples (docs/api.md), the bodies every create carries, and of a cancel.
func BenchmarkParse(b *testing.B) {
	b.Run("create-otp", func(b *testing.B) {
		body := []byte(fuzzOTPExample)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := identification.ParseCreateOTP(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create-chain", func(b *testing.B) {
		body := []byte(fuzzChainExample)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := identification.ParseCreateChain(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cancel", func(b *testing.B) {
		body := []byte(`{"reason":"customer asked"}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := identification.ParseCancel(body, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("expires-in", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range []string{"P7D", "PT15M", "PT0.5H"} {
				if _, err := identification.ParseExpiresIn(s); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
