package guard_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
)

// fixedRules is every organisation's Policy: the service's defaults and
// these sending rules.
type fixedRules struct{ rules identification.SendingRules }

func (f *fixedRules) Policy(context.Context, string) (identification.Policy, error) {
	return identification.Policy{Sending: f.rules}, nil
}

type rig struct {
	svc    *identification.Service
	events *memstore.Guard
	rules  *fixedRules
	now    time.Time
}

func newRig(t *testing.T, rules identification.SendingRules) *rig {
	r := &rig{events: memstore.NewGuard(), rules: &fixedRules{rules}, now: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}
	r.svc = identification.NewService(memstore.New(), identification.WithCodeKeys(fixture.CodeKeys()),
		identification.WithClock(func() time.Time { return r.now }), identification.WithPolicies(r.rules),
		identification.WithSendGuard(guard.New(r.events, numbers.Numbers{}, nil, nil)))
	return r
}

var admin = identification.Caller{Kind: identification.CallerAdmin, Sub: "ops"}

func phone(cc, number string) *identification.Actor {
	return &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{CountryCode: cc, PhoneNumber: number}}
}

func (r *rig) create(t *testing.T, a *identification.Actor, external bool) (identification.Created, error) {
	t.Helper()
	return r.svc.CreateOTP(context.Background(), "acme", identification.CreateOTP{Actor: a, Channel: &identification.Channel{Type: "SMS", External: external}}, admin)
}

func (r *rig) listed(t *testing.T) int {
	t.Helper()
	p, err := r.svc.List(context.Background(), "acme", identification.TypeOTP, identification.ListQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items)
}

func (r *rig) guardEvents(t *testing.T) []guard.Event {
	t.Helper()
	e, _, err := r.events.GuardEvents(context.Background(), "acme", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTheGuardRefusesACreateBeforeAnythingIsWritten: in ENFORCE mode a
// create to a country not allowed is KindSendingBlocked naming the rule,
// writes no process and records an event with the country and the masked
// prefix (never the number); one to an allowed country is created; a code
// the organisation delivers itself (external) is not the guard's.
func TestTheGuardRefusesACreateBeforeAnythingIsWritten(t *testing.T) {
	r := newRig(t, identification.SendingRules{AllowedCountries: []string{"ES"}})
	_, err := r.create(t, phone("44", "7911123456"), false)
	if identification.KindOf(err) != identification.KindSendingBlocked {
		t.Fatalf("a create to the United Kingdom: %v, want KindSendingBlocked", err)
	}
	var ie *identification.Error
	if !asError(err, &ie) || !contains(ie.Message, identification.RuleCountry) || contains(ie.Message, "7911123456") {
		t.Fatalf("the refusal says %q: it must name the rule and never the number", err)
	}
	if n := r.listed(t); n != 0 {
		t.Fatalf("%d processes after a refused create, want none", n)
	}
	ev := r.guardEvents(t)
	if len(ev) != 1 || ev[0].Rule != identification.RuleCountry || ev[0].Country != "GB" || ev[0].Prefix != "+44 79…" || ev[0].Mode != identification.GuardEnforce {
		t.Fatalf("guard events %+v", ev)
	}
	if _, err := r.create(t, phone("34", "612345678"), false); err != nil {
		t.Fatalf("a create to Spain: %v", err)
	}
	if _, err := r.create(t, phone("44", "7911123456"), true); err != nil {
		t.Fatalf("an external create to the United Kingdom: %v (the organisation sends it, not the guard's)", err)
	}
	if n, e := r.listed(t), len(r.guardEvents(t)); n != 2 || e != 1 {
		t.Fatalf("%d processes and %d guard events, want 2 and 1", n, e)
	}
}

// TestMonitorSendsAndRecordsOffChecksNothing: MONITOR creates the process
// and records the would-be refusal; OFF does neither check nor record.
func TestMonitorSendsAndRecordsOffChecksNothing(t *testing.T) {
	r := newRig(t, identification.SendingRules{Mode: identification.GuardMonitor, AllowedCountries: []string{"ES"}})
	c, err := r.create(t, phone("1", "8765551234"), false)
	if err != nil {
		t.Fatalf("a monitored create to Jamaica: %v", err)
	}
	ev := r.guardEvents(t)
	if len(ev) != 1 || ev[0].Mode != identification.GuardMonitor || ev[0].Country != "JM" || ev[0].ID != c.ID {
		t.Fatalf("guard events %+v, want one MONITOR event of JM naming %s", ev, c.ID)
	}
	r.rules.rules.Mode = identification.GuardOff
	if _, err := r.create(t, phone("1", "8765551234"), false); err != nil {
		t.Fatal(err)
	}
	if n := len(r.guardEvents(t)); n != 1 {
		t.Fatalf("%d guard events after a create with the guard OFF, want still 1", n)
	}
}

// TestAResendTheGuardRefusesChangesNothing: a resend past the destination's
// daily limit is KindSendingBlocked and leaves the process as it was (its
// code, its count of codes); one the lifecycle refuses anyway (too soon) is
// not counted, so it cannot use up the destination's limit.
func TestAResendTheGuardRefusesChangesNothing(t *testing.T) {
	r := newRig(t, identification.SendingRules{MaxPerDestinationPerDay: 2})
	c, err := r.create(t, phone("34", "612345678"), false)
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Ref()
	// Too soon: refused by the lifecycle, not counted.
	for range 3 {
		if _, err := r.svc.Resend(context.Background(), ref, admin); identification.KindOf(err) != identification.KindTooSoon {
			t.Fatalf("a resend at once: %v, want KindTooSoon", err)
		}
	}
	r.now = r.now.Add(time.Minute)
	if _, err := r.svc.Resend(context.Background(), ref, admin); err != nil {
		t.Fatalf("the second code of the day: %v", err)
	}
	before, err := r.svc.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	r.now = r.now.Add(time.Minute)
	if _, err := r.svc.Resend(context.Background(), ref, admin); identification.KindOf(err) != identification.KindSendingBlocked {
		t.Fatalf("the third code of the day: %v, want KindSendingBlocked", err)
	}
	after, err := r.svc.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || after.OTP.CodesSent != 2 {
		t.Fatalf("a refused resend changed the process: version %d → %d, codes sent %d", before.Version, after.Version, after.OTP.CodesSent)
	}
}

// TestAChainStepWhoseCodeIsRefusedIsBlocked: starting a chain whose first
// step is an OTP step to a country not allowed starts it all the same (the
// actor's request is not the send), with the step's delivery BLOCKED, so
// the stream never delivers that code.
func TestAChainStepWhoseCodeIsRefusedIsBlocked(t *testing.T) {
	r := newRig(t, identification.SendingRules{AllowedCountries: []string{"ES"}})
	c, err := r.svc.CreateChain(context.Background(), "acme", identification.CreateChain{Actor: phone("44", "7911123456"), ExpiresIn: "PT1H",
		Sequence: []identification.Step{{IdentificationType: "OTP", OTPStep: &identification.OTPStep{Channel: &identification.Channel{Type: "SMS"}}}}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	actor := identification.Caller{Kind: identification.CallerActor, Sub: "actor-1", Device: &identification.Device{InstallationID: "i", Fingerprint: "f"}}
	if err := r.svc.StartChain(context.Background(), c.Ref(), actor); err != nil {
		t.Fatalf("start: %v", err)
	}
	got, err := r.svc.Get(context.Background(), c.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != identification.StatusInProgress || got.OTP == nil || got.OTP.Delivery.Status != identification.DeliveryBlocked {
		t.Fatalf("started chain: status %s, otp %+v; want IN_PROGRESS with the code BLOCKED", got.Status, got.OTP)
	}
	if ev := r.guardEvents(t); len(ev) != 1 || ev[0].ID != c.ID || ev[0].Type != identification.TypeChain {
		t.Fatalf("guard events %+v", ev)
	}
}

func asError(err error, target **identification.Error) bool { return errors.As(err, target) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// countingStore counts the service's reads of a process.
type countingStore struct {
	*memstore.Store
	gets int
}

func (c *countingStore) Get(ctx context.Context, ref identification.Ref) (*identification.Identification, error) {
	c.gets++
	return c.Store.Get(ctx, ref)
}

// TestRulesThatCheckNothingCostNothing: with the default settings (every
// country, no limit) and the deployment allowing every country, the guard
// checks nothing, so a resend does not read the process for it and a
// create records nothing; a deployment's default countries, a limit, or
// an organisation's countries make it check again, and OFF never does.
func TestRulesThatCheckNothingCostNothing(t *testing.T) {
	open := guard.New(memstore.NewGuard(), numbers.Numbers{}, nil, nil)
	spain := guard.New(memstore.NewGuard(), numbers.Numbers{}, []string{"ES"}, nil)
	for _, tc := range []struct {
		g     *guard.Guard
		rules identification.SendingRules
		want  bool
	}{
		{open, identification.SendingRules{}, false},
		{open, identification.SendingRules{Mode: identification.GuardMonitor}, false},
		{open, identification.SendingRules{MaxPerDestinationPerDay: 5}, true},
		{open, identification.SendingRules{AllowedCountries: []string{"PT"}}, true},
		{spain, identification.SendingRules{}, true},
		{spain, identification.SendingRules{Mode: identification.GuardOff, MaxPerHour: 5}, false},
	} {
		if got := tc.g.Checks(tc.rules); got != tc.want {
			t.Errorf("Checks(%+v) = %v, want %v", tc.rules, got, tc.want)
		}
	}
	store := &countingStore{Store: memstore.New()}
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rules := &fixedRules{}
	svc := identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys()),
		identification.WithClock(func() time.Time { return now }), identification.WithPolicies(rules), identification.WithSendGuard(open))
	c, err := svc.CreateOTP(context.Background(), "acme", identification.CreateOTP{Actor: phone("34", "612345678"), Channel: &identification.Channel{Type: "SMS"}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if _, err := svc.Resend(context.Background(), c.Ref(), admin); err != nil || store.gets != 0 {
		t.Fatalf("a resend with rules that check nothing: %v, %d reads of the process, want none", err, store.gets)
	}
	rules.rules.MaxPerDestinationPerDay = 10
	now = now.Add(time.Minute)
	if _, err := svc.Resend(context.Background(), c.Ref(), admin); err != nil || store.gets != 1 {
		t.Fatalf("a resend with a limit: %v, %d reads of the process, want 1", err, store.gets)
	}
}
