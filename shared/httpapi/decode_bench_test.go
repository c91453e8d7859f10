package httpapi

import (
	"testing"
)

// BenchmarkParse measures decoding and validation of the documented
// examples (docs/api.md), the bodies every create carries, and of a cancel
// (the expires_in they carry: identification's BenchmarkParseExpiresIn).
func BenchmarkParse(b *testing.B) {
	b.Run("create-otp", func(b *testing.B) {
		body := []byte(fuzzOTPExample)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCreateOTP(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create-chain", func(b *testing.B) {
		body := []byte(fuzzChainExample)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCreateChain(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cancel", func(b *testing.B) {
		body := []byte(`{"reason":"customer asked"}`)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCancel(body, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
