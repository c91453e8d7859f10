package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// RunFlow runs the actor side of the contract: the flow's actions applied
// to every status, their guards, the non-final actions leaving a process
// open, and bursts of attempts that can never count more than the limit.
func RunFlow(t *testing.T, newStore func(t *testing.T) identification.Store) {
	t.Run("flow actions", func(t *testing.T) { testFlowActions(t, newStore(t)) })
	t.Run("non-final actions keep it open", func(t *testing.T) { testNonFinal(t, newStore(t)) })
	t.Run("attempt burst", func(t *testing.T) { testAttemptBurst(t, newStore(t)) })
	t.Run("guards", func(t *testing.T) { testGuards(t, newStore(t)) })
	t.Run("history", func(t *testing.T) { testHistory(t, newStore(t)) })
	t.Run("an ended process keeps no code", func(t *testing.T) { testEndingDropsCode(t, newStore(t)) })
	t.Run("a code counted before its replacement completes", func(t *testing.T) { testReplacedCode(t, newStore(t)) })
	t.Run("a read tells what an attempt left owed", func(t *testing.T) { testUnsettled(t, newStore(t)) })
	t.Run("a start with a code issues it", func(t *testing.T) { testStartIssuesCode(t, newStore(t)) })
}

// testStartIssuesCode: a chain whose first step the system delivers gets
// its code in the start's write: bound, at step 1, one code counted, the
// code material stored.
func testStartIssuesCode(t *testing.T, s identification.Store) {
	i := Chain(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
	mustCreate(t, s, i)
	code := &identification.IssuedCode{Hash: "hash-1", KeyID: "k1", Nonce: "n1", ExpiresAt: Now.Add(10 * time.Minute), Delivery: identification.DeliveryPending, IssuedAt: Now}
	e, err := identification.Plan(identification.Command{Action: identification.ActionStart, At: Now, By: actor, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(t.Context(), i.Ref(), e)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	got := mustGet(t, s, i.Ref())
	if got.Status != identification.StatusInProgress || got.CurrentStep != 1 || got.Device == nil ||
		got.OTP == nil || got.OTP.CodesSent != 1 || !got.OTP.CodeExpiresAt.Equal(code.ExpiresAt) || got.OTP.Delivery.Status != identification.DeliveryPending {
		t.Errorf("after a start with a code: %s step %d device %v otp %+v", got.Status, got.CurrentStep, got.Device, got.OTP)
	}
	if res.Code == nil || res.Code.Hash != "hash-1" || res.Code.Nonce != "n1" {
		t.Errorf("the start stored code material %+v, want the issued code's", res.Code)
	}
}

// testEndingDropsCode: every action that ends a process with a code takes
// the code's material (hash, nonce, guesses) with it.
func testEndingDropsCode(t *testing.T, s identification.Store) {
	admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
	system := identification.Caller{Kind: identification.CallerSystem}
	for _, c := range []struct {
		action   identification.Action
		by       identification.Caller
		attempts int
		at       time.Time
	}{
		{identification.ActionCancel, admin, 1, Now},
		{identification.ActionClose, admin, 1, Now},
		{identification.ActionFailAttempts, system, identification.MaxAttempts, Now},
		{identification.ActionExpire, system, 1, Now.Add(2 * time.Hour)},
	} {
		i := OTP(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
		i.OTP = &identification.OTPState{CodesSent: 1, Attempts: c.attempts, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-5 * time.Minute)}
		mustCreateWith(t, s, i, &identification.CodeMaterial{Hash: "hash-1", KeyID: "k1", Nonce: "n1", Guesses: []string{"g1"}})
		e, err := identification.Plan(identification.Command{Action: c.action, At: c.at, By: c.by, Reason: "r"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Apply(t.Context(), i.Ref(), e)
		if err != nil {
			t.Fatalf("%s: %v", c.action, err)
		}
		if res.Code != nil {
			t.Errorf("%s ended the process (%s) with its code material still stored: %+v", c.action, res.New.Status, res.Code)
		}
	}
}

// testReplacedCode: a completion guarded by the code a right guess was
// counted against still applies after one resend replaced it, not after
// two, and never for a code that was not there.
func testReplacedCode(t *testing.T, s identification.Store) {
	admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
	i := OTP(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
	i.OTP = &identification.OTPState{CodesSent: 1, Attempts: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-5 * time.Minute)}
	mustCreateWith(t, s, i, &identification.CodeMaterial{Hash: "hash-1", KeyID: "k1", Nonce: "n1"})
	resend := func(hash string, at time.Time) {
		t.Helper()
		err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionIssueCode, At: at, By: admin,
			Code: &identification.IssuedCode{Hash: hash, KeyID: "k1", Nonce: "n-" + hash, ExpiresAt: at.Add(10 * time.Minute), Delivery: identification.DeliveryExternal}})
		if err != nil {
			t.Fatalf("resend %s: %v", hash, err)
		}
	}
	complete := func(hash string) error {
		return apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionCompleteCode, At: Now.Add(2 * time.Minute), By: actor, CodeHash: hash})
	}
	resend("hash-2", Now)
	resend("hash-3", Now.Add(time.Minute))
	checkKind(t, "completing a code replaced twice", complete("hash-1"), identification.KindConflict)
	checkKind(t, "completing a code never issued", complete("hash-0"), identification.KindConflict)
	if err := complete("hash-2"); err != nil {
		t.Errorf("completing the code the last resend replaced: %v", err)
	}
	if got := mustGet(t, s, i.Ref()); got.Status != identification.StatusCompleted {
		t.Errorf("status %s, want COMPLETED", got.Status)
	}
}

// testUnsettled: a read of a process whose attempts are spent (none right)
// says it is owed its failure; one with a right guess counted, its
// completion; any other, nothing.
func testUnsettled(t *testing.T, s identification.Store) {
	seed := func(attempts int, guesses ...string) *identification.Identification {
		i := OTP(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
		i.OTP = &identification.OTPState{CodesSent: 1, Attempts: attempts, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-5 * time.Minute)}
		i.Actor.IdentityDocument = &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF"}
		mustCreateWith(t, s, i, &identification.CodeMaterial{Hash: "hash-1", KeyID: "k1", Nonce: "n1", Guesses: guesses})
		return mustGet(t, s, i.Ref())
	}
	right := identification.GuessOf("hash-1", identification.NormalisedTwoFactor("DOCUMENT_NUMBER", "12345678A"))
	if got := seed(identification.MaxAttempts, "w1", "w2", "w3", "w4", "w5").Unsettled; got == nil || got.Action != identification.ActionFailAttempts {
		t.Errorf("attempts spent, none right: %+v, want fail_attempts", got)
	}
	if got := seed(2, "w1", right).Unsettled; got == nil || got.Action != identification.ActionCompleteCode || got.CodeHash != "hash-1" {
		t.Errorf("a right guess counted: %+v, want complete_code of hash-1", got)
	}
	if got := seed(2, "w1", "w2").Unsettled; got != nil {
		t.Errorf("two wrong guesses: %+v, want nothing owed", got)
	}
}

// Device is the device of the suite's actor calls.
var Device = &identification.Device{InstallationID: "inst-1", Fingerprint: "fp-1", UserAgent: "storetest/1", IP: "192.0.2.1"}

var actor = identification.Caller{Kind: identification.CallerActor, Sub: "actor-1", Device: Device}

// codeOf is the stored code material of the suite's fixtures.
var codeOf = &identification.CodeMaterial{Hash: "hash-1", KeyID: "k1", Nonce: "n1"}

// flowLifecycle is the status dimension of the flow's actions, written out
// by hand: on a fixture that passes every other guard, whether the action
// is applied (ok) or refused, live and due.
var flowLifecycle = map[identification.Action]map[identification.Status]outcome{
	identification.ActionStart:         openOnly(true, false),
	identification.ActionAttempt:       openOnly(true, true),
	identification.ActionIssueCode:     openOnly(true, true),
	identification.ActionCompleteCode:  openOnly(false, true),
	identification.ActionFailAttempts:  openOnly(false, true),
	identification.ActionCompleteAgent: openOnly(false, true),
	// Evidence: an image may come in from CREATED (an OTP) or
	// IN_PROGRESS; the completion and the decisions only IN_PROGRESS.
	identification.ActionAddEvidence:      openOnly(true, true),
	identification.ActionCompleteEvidence: openOnly(false, true),
	identification.ActionApproveDocument:  openOnly(false, true),
	identification.ActionRejectDocument:   openOnly(false, true),
	// Extend: any open process not yet expired, to a later expiry.
	identification.ActionExtend: openOnly(true, true),
}

// image is an evidence image of kind as the suite records it.
func image(kind identification.EvidenceKind) identification.Evidence {
	return identification.Evidence{Kind: kind, Key: "orgs/acme/x/" + string(kind) + ".png", ContentType: "image/png", Size: 1234, At: Now.Add(-time.Minute),
		ByKind: identification.CallerActor, BySub: "actor-1"}
}

// openOnly is the row of an action allowed from CREATED (created) and/or
// IN_PROGRESS (inProgress) before the expiry, refused everywhere else.
func openOnly(created, inProgress bool) map[identification.Status]outcome {
	row := func(allowed bool) outcome {
		if allowed {
			return outcome{ok, expired}
		}
		return outcome{conflict, expired}
	}
	return map[identification.Status]outcome{
		identification.StatusCreated:    row(created),
		identification.StatusInProgress: row(inProgress),
		identification.StatusCompleted:  {conflict, conflict},
		identification.StatusFailed:     {expired, expired},
		identification.StatusCancelled:  {conflict, conflict},
		identification.StatusClosed:     {conflict, conflict},
		identification.StatusExpired:    {expired, expired},
	}
}

// Oracles are every action the hand-written oracles cover; a test fails
// when the lifecycle has an action they lack.
func Oracles() map[identification.Action]bool {
	out := map[identification.Action]bool{}
	for a := range lifecycle {
		out[a] = true
	}
	for a := range flowLifecycle {
		out[a] = true
	}
	return out
}

// flowFixture is a process in status, expiring at expiry, that passes
// every guard of action but the status and expiry, and the command.
func flowFixture(t *testing.T, action identification.Action, status identification.Status, expiry time.Time) (*identification.Identification, *identification.CodeMaterial, identification.Command) {
	t.Helper()
	cmd := identification.Command{Action: action, At: Now, By: actor}
	switch action {
	case identification.ActionStart:
		i := Chain(t, "acme", status, expiry)
		if status != identification.StatusCreated {
			i.Device, i.CurrentStep = &identification.Device{InstallationID: "other", Fingerprint: "other"}, 1
			i.SyncSteps()
		}
		return i, nil, cmd
	case identification.ActionCompleteAgent:
		i := Chain(t, "acme", status, expiry)
		i.Device, i.CurrentStep = Device, 2
		i.SyncSteps()
		cmd.By = identification.Caller{Kind: identification.CallerAgent, Sub: "agent-1"}
		cmd.Step = 2
		cmd.Agent = &identification.AgentRecord{Name: "Agent Smith", Sub: "agent-1", At: Now}
		return i, nil, cmd
	case identification.ActionApproveDocument, identification.ActionRejectDocument:
		i := Chain(t, "acme", status, expiry)
		i.Device, i.CurrentStep = Device, 3
		i.Evidence = []identification.Evidence{image(identification.EvidenceDocumentFront), image(identification.EvidenceDocumentBack)}
		i.SyncSteps()
		cmd.By = identification.Caller{Kind: identification.CallerProvider, Sub: "provider-1"}
		cmd.Step, cmd.Last = 3, true
		cmd.Reason = "the photo does not match"
		cmd.Decision = &identification.DocumentDecision{Approved: action == identification.ActionApproveDocument, Reason: cmd.Reason,
			ByKind: identification.CallerProvider, BySub: "provider-1", At: Now}
		return i, nil, cmd
	}
	i := OTP(t, "acme", status, expiry)
	i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-5 * time.Minute), Delivery: identification.Delivery{Status: identification.DeliveryExternal}}
	code := *codeOf
	switch action {
	case identification.ActionAttempt:
		cmd.Guesses = []string{"g"}
		cmd.By.Device = nil
	case identification.ActionIssueCode:
		cmd.Code = &identification.IssuedCode{Hash: "hash-2", KeyID: "k1", Nonce: "n2", ExpiresAt: Now.Add(10 * time.Minute), Delivery: identification.DeliveryExternal}
		cmd.By = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
	case identification.ActionCompleteCode:
		cmd.CodeHash = code.Hash
		i.OTP.Attempts = 1
	case identification.ActionFailAttempts:
		i.OTP.Attempts = identification.MaxAttempts
		cmd.By = identification.Caller{Kind: identification.CallerSystem}
	case identification.ActionAddEvidence:
		i.TwoFactorType = "PERSONAL_DOCUMENT_IMAGE"
		ev := image(identification.EvidenceDocumentBack)
		cmd.Evidence = &ev
		cmd.By.Device = nil
	case identification.ActionExtend:
		cmd.By = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
		cmd.ExpiresAt = Now.Add(2 * time.Hour)
	case identification.ActionCompleteEvidence:
		i.TwoFactorType = "PERSONAL_DOCUMENT_IMAGE"
		i.OTP.Validated = true
		i.Evidence = []identification.Evidence{image(identification.EvidenceDocumentFront), image(identification.EvidenceDocumentBack)}
		cmd.By.Device = nil
		return i, nil, cmd
	}
	return i, &code, cmd
}

func mustCreateWith(t *testing.T, s identification.Store, i *identification.Identification, code *identification.CodeMaterial) {
	t.Helper()
	if err := s.Create(t.Context(), i, code); err != nil {
		t.Fatalf("create %s %s: %v", i.Type, i.Status, err)
	}
}

func testFlowActions(t *testing.T, s identification.Store) {
	for action, row := range flowLifecycle {
		t.Run(string(action), func(t *testing.T) {
			for _, status := range identification.Statuses {
				want := row[status]
				for _, c := range []struct {
					name   string
					expiry time.Time
					want   identification.Kind
				}{{"live", Now.Add(time.Hour), want.live}, {"due", Now, want.due}} {
					i, code, cmd := flowFixture(t, action, status, c.expiry)
					mustCreateWith(t, s, i, code)
					err := apply(s, t.Context(), i.Ref(), cmd)
					checkKind(t, string(status)+" "+c.name, err, c.want)
					got := mustGet(t, s, i.Ref())
					if c.want != ok && (got.Status != status || got.Version != 1) {
						t.Errorf("%s %s: refused %s left %s version %d, want %s 1", status, c.name, action, got.Status, got.Version, status)
					}
					if c.want == ok && got.Version != 2 {
						t.Errorf("%s %s: applied %s left version %d, want 2", status, c.name, action, got.Version)
					}
				}
			}
		})
	}
}

// testNonFinal: start, attempt and issue_code leave a process open: no
// ended_at, no completed_at (the DynamoDB store's test also checks its
// open-index keys and TTL).
func testNonFinal(t *testing.T, s identification.Store) {
	for _, action := range []identification.Action{identification.ActionStart, identification.ActionAttempt, identification.ActionIssueCode} {
		i, code, cmd := flowFixture(t, action, identification.StatusCreated, Now.Add(time.Hour))
		mustCreateWith(t, s, i, code)
		if err := apply(s, t.Context(), i.Ref(), cmd); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		got := mustGet(t, s, i.Ref())
		if !got.Status.Open() || got.EndedAt != nil || got.CompletedAt != nil {
			t.Errorf("after %s: %s ended %v completed %v, want open, neither set", action, got.Status, got.EndedAt, got.CompletedAt)
		}
	}
}

// testAttemptBurst: 40 attempts at once on one code are counted, and no
// more than MaxAttempts are admitted, 20 rounds.
func testAttemptBurst(t *testing.T, s identification.Store) {
	for round := 0; round < 20; round++ {
		i, code, cmd := flowFixture(t, identification.ActionAttempt, identification.StatusCreated, Now.Add(time.Hour))
		mustCreateWith(t, s, i, code)
		errs := raceN(40, func(int) error { return apply(s, context.Background(), i.Ref(), cmd) })
		admitted := 0
		for n, err := range errs {
			switch identification.KindOf(err) {
			case ok:
				if err == nil {
					admitted++
				} else {
					t.Errorf("round %d racer %d: %v", round, n, err)
				}
			case identification.KindExpired:
			default:
				t.Errorf("round %d racer %d: %v, want success or no attempts left", round, n, err)
			}
		}
		got := mustGet(t, s, i.Ref())
		if admitted != identification.MaxAttempts || got.OTP.Attempts != identification.MaxAttempts || got.Version != 1+int64(admitted) {
			t.Fatalf("round %d: admitted %d, stored attempts %d version %d; want %d, %d, %d",
				round, admitted, got.OTP.Attempts, got.Version, identification.MaxAttempts, identification.MaxAttempts, 1+identification.MaxAttempts)
		}
	}
}

// testGuards: each guard of the flow refuses with its documented kind.
func testGuards(t *testing.T, s identification.Store) {
	check := func(name string, i *identification.Identification, code *identification.CodeMaterial, cmd identification.Command, want identification.Kind) {
		t.Helper()
		mustCreateWith(t, s, i, code)
		checkKind(t, name, apply(s, t.Context(), i.Ref(), cmd), want)
		if got := mustGet(t, s, i.Ref()); want != ok && got.Version != 1 {
			t.Errorf("%s: refused write changed the version to %d", name, got.Version)
		}
	}
	i, code, cmd := flowFixture(t, identification.ActionAttempt, identification.StatusInProgress, Now.Add(time.Hour))
	i.OTP.CodeExpiresAt = Now
	check("attempt on an expired code", i, code, cmd, identification.KindExpired)

	i, code, cmd = flowFixture(t, identification.ActionAttempt, identification.StatusInProgress, Now.Add(time.Hour))
	check("attempt with no code", i, nil, cmd, identification.KindConflict)

	i, code, cmd = flowFixture(t, identification.ActionAttempt, identification.StatusInProgress, Now.Add(time.Hour))
	cmd.NoTwoFactor = true
	check("attempt without the second factor it needs", i, code, cmd, identification.KindInvalid)

	i, code, cmd = flowFixture(t, identification.ActionIssueCode, identification.StatusInProgress, Now.Add(time.Hour))
	i.OTP.LastCodeAt = Now.Add(-10 * time.Second)
	mustCreateWith(t, s, i, code)
	e, _ := identification.Plan(cmd)
	_, err := s.Apply(t.Context(), i.Ref(), e)
	var de *identification.Error
	if identification.KindOf(err) != identification.KindTooSoon || !errors.As(err, &de) || de.RetryAfter != 20*time.Second {
		t.Errorf("resend 10 s after the last code: %v, want too soon with Retry-After 20s", err)
	}

	i, code, cmd = flowFixture(t, identification.ActionIssueCode, identification.StatusInProgress, Now.Add(time.Hour))
	i.OTP.CodesSent = identification.MaxCodes
	check("a sixth code", i, code, cmd, identification.KindConflict)

	i, code, cmd = flowFixture(t, identification.ActionCompleteCode, identification.StatusInProgress, Now.Add(time.Hour))
	cmd.CodeHash = "another"
	check("complete with a replaced code", i, code, cmd, identification.KindConflict)

	i, code, cmd = flowFixture(t, identification.ActionCompleteAgent, identification.StatusInProgress, Now.Add(time.Hour))
	i.CurrentStep = 1
	i.SyncSteps()
	check("agent step not current", i, code, cmd, identification.KindConflict)

	// Chain actor calls must come from the bound device.
	ch := Chain(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
	ch.Device, ch.CurrentStep = Device, 1
	ch.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-time.Minute)}
	ch.SyncSteps()
	other := actor
	other.Device = &identification.Device{InstallationID: "inst-2", Fingerprint: "fp-1"}
	check("attempt from another device", ch, codeOf, identification.Command{Action: identification.ActionAttempt, At: Now, By: other, StepType: identification.StepOTP, Guesses: []string{"g"}}, identification.KindConflict)
	// The same installation id on another fingerprint is another device.
	for _, d := range []*identification.Device{{InstallationID: "inst-1", Fingerprint: "fp-2"}, {InstallationID: "inst-2", Fingerprint: "fp-1"}} {
		ch = Chain(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
		ch.Device, ch.CurrentStep = Device, 1
		ch.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-time.Minute)}
		ch.SyncSteps()
		by := actor
		by.Device = d
		check("attempt from "+d.InstallationID+"/"+d.Fingerprint, ch, codeOf, identification.Command{Action: identification.ActionAttempt, At: Now, By: by, StepType: identification.StepOTP, Guesses: []string{"g"}}, identification.KindConflict)
	}

	ch = Chain(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
	ch.Device, ch.CurrentStep = Device, 2
	ch.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-time.Minute)}
	ch.SyncSteps()
	check("attempt when the OTP step is not current", ch, codeOf, identification.Command{Action: identification.ActionAttempt, At: Now, By: actor, StepType: identification.StepOTP, Guesses: []string{"g"}}, identification.KindConflict)

	ch = Chain(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
	ch.Device, ch.CurrentStep = Device, 1
	ch.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: Now.Add(5 * time.Minute), LastCodeAt: Now.Add(-time.Minute)}
	ch.SyncSteps()
	check("attempt from the bound device", ch, codeOf, identification.Command{Action: identification.ActionAttempt, At: Now, By: actor, StepType: identification.StepOTP, Guesses: []string{"g"}}, ok)
}

// raceN runs fn in n goroutines released at once and returns their errors.
func raceN(n int, fn func(n int) error) []error {
	errs := make([]error, n)
	done := make(chan struct{})
	start := make(chan struct{})
	for k := range n {
		go func() {
			<-start
			errs[k] = fn(k)
			done <- struct{}{}
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}

// testHistory: every applied change adds one entry with its caller, reason
// and request id, written with the change; a refused one adds none.
func testHistory(t *testing.T, s identification.Store) {
	i, code, _ := flowFixture(t, identification.ActionAttempt, identification.StatusCreated, Now.Add(time.Hour))
	i.History = []identification.HistoryEntry{{At: Now.Add(-time.Hour), Action: identification.ActionCreate, To: identification.StatusCreated, ByKind: identification.CallerAdmin, BySub: "admin-1", RequestID: "req-0"}}
	mustCreateWith(t, s, i, code)
	steps := []identification.Command{
		{Action: identification.ActionAttempt, At: Now, By: identification.Caller{Kind: identification.CallerActor, Sub: "actor-1", RequestID: "req-1"}, Guesses: []string{"g"}},
		{Action: identification.ActionCancel, At: Now.Add(time.Second), By: identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-2", RequestID: "req-2"}, Reason: "customer asked"},
	}
	for _, cmd := range steps {
		if err := apply(s, t.Context(), i.Ref(), cmd); err != nil {
			t.Fatalf("%s: %v", cmd.Action, err)
		}
	}
	refused := identification.Command{Action: identification.ActionClose, At: Now.Add(2 * time.Second), By: identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-3", RequestID: "req-3"}}
	checkKind(t, "close after cancel", apply(s, t.Context(), i.Ref(), refused), identification.KindConflict)
	got := mustGet(t, s, i.Ref())
	want := []identification.HistoryEntry{
		i.History[0],
		{At: Now, Action: "attempt", To: identification.StatusInProgress, ByKind: identification.CallerActor, BySub: "actor-1", RequestID: "req-1"},
		{At: Now.Add(time.Second), Action: "cancel", To: identification.StatusCancelled, ByKind: identification.CallerAdmin, BySub: "admin-2", Reason: "customer asked", RequestID: "req-2"},
	}
	if len(got.History) != len(want) {
		t.Fatalf("history %+v, want %+v", got.History, want)
	}
	for n := range want {
		if got.History[n] != want[n] {
			t.Errorf("entry %d: got %+v, want %+v", n, got.History[n], want[n])
		}
	}
	if ft := got.FromTo(); ft[1] != [2]identification.Status{identification.StatusCreated, identification.StatusInProgress} || ft[2][0] != identification.StatusInProgress {
		t.Errorf("from/to %v", ft)
	}
}
