package dynamostore

import (
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// BenchmarkEffect is the store's own work per change, without the network:
// the effect of an attempt and of a new code turned into the expression
// and values sent (the shape built once, then reused).
func BenchmarkEffect(b *testing.B) {
	s := New(nil, Options{Table: "t"})
	at := time.Unix(1.8e9, 0)
	dev := &identification.Device{InstallationID: "i", Fingerprint: "f"}
	actor := identification.Caller{Kind: identification.CallerActor, Sub: "a", Device: dev}
	ref := identification.Ref{Org: "acme", Type: identification.TypeChain, ID: "0193a000-0000-7000-8000-000000000000"}
	for _, c := range []struct {
		name string
		cmd  identification.Command
	}{
		{"attempt", identification.Command{Action: identification.ActionAttempt, At: at, By: actor, StepType: identification.StepOTP, Guesses: []string{"g1", "g2"}}},
		{"issue_code", identification.Command{Action: identification.ActionIssueCode, At: at, By: actor, StepType: identification.StepOTP,
			Code: &identification.IssuedCode{Hash: "h", KeyID: "k", Nonce: "n", ExpiresAt: at.Add(10 * time.Minute), Delivery: "PENDING", IssuedAt: at}}},
		{"cancel", identification.Command{Action: identification.ActionCancel, At: at, By: identification.Caller{Kind: identification.CallerAdmin, Sub: "x", UserAgent: "ua"}, Reason: "r"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e, err := identification.Plan(c.cmd)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, _, err := s.effect(ref, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
