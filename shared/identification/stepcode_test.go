package identification

import (
	"testing"
	"time"
)

// TestAStepThatMovesToASystemDeliveredOTPStepIssuesItsCode: completing an
// AGENT step, or approving a document, whose next step is an OTP step the
// system delivers issues that step's code in the same write (the service
// draws it: Command.Code), as a start does for a first step. Without it the
// step is current with no code and nothing is ever sent.
func TestAStepThatMovesToASystemDeliveredOTPStepIssuesItsCode(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	code := &IssuedCode{Hash: "h", KeyID: "k1", Nonce: "n", ExpiresAt: now.Add(10 * time.Minute), Delivery: DeliveryPending, IssuedAt: now}
	for _, cmd := range []Command{
		{Action: ActionCompleteAgent, At: now, By: Caller{Kind: CallerAgent, Sub: "agent-1"}, Step: 1, Code: code,
			Agent: &AgentRecord{Name: "Agent Smith", At: now}},
		{Action: ActionApproveDocument, At: now, By: Caller{Kind: CallerReviewer, Sub: "reviewer-1"}, Step: 1, Code: code,
			Decision: &DocumentDecision{Approved: true, ByKind: CallerReviewer, At: now}},
	} {
		e, err := Plan(cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd.Action, err)
		}
		issued := 0
		for _, c := range e.Changes {
			if ic, ok := c.(IssueCode); ok && ic.Code == code {
				issued++
			}
		}
		if issued != 1 {
			t.Errorf("%s to an OTP step with a code: %d IssueCode changes in %#v, want 1", cmd.Action, issued, e.Changes)
		}
		cmd.Code = nil
		if e, _ = Plan(cmd); len(e.Changes) > 0 {
			for _, c := range e.Changes {
				if _, ok := c.(IssueCode); ok {
					t.Errorf("%s without a code issues one", cmd.Action)
				}
			}
		}
	}
}
