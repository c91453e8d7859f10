package stream_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/sns"
)

// withGuard is withSettings with the sending guard, on the rig's table,
// as the functions that issue codes wire it.
func (r *rig) withGuard(t *testing.T) *settings.Service {
	t.Helper()
	svc := r.withSettings(t)
	clock := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	r.svc = identification.NewService(r.store, identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()),
		identification.WithPolicies(r.proc.Texts.(*settings.Cache)), identification.WithSendGuard(guard.New(r.store, numbers.Numbers{}, nil, nil)))
	return svc
}

// TestPumping is an SMS pumping attack on one organisation's sign-up page:
// 2,000 creates, 64 at a time, to 400 numbers of one premium prefix (four
// creates each), 100 ordinary numbers of another country (three each) and
// 100 numbers of a country the organisation does not serve. In ENFORCE
// mode every create to the disallowed country and every one past the
// prefix's hourly limit (30) is refused with KindSendingBlocked (MDOC_009)
// and nothing of them reaches the provider (moto's SNS), while every
// ordinary number gets its three codes; in MONITOR mode all are sent and
// each would-be refusal is a guard event. The whole attack runs in ENFORCE
// mode on dynoxide; a quarter of it (500 creates, the same limits) in
// MONITOR mode on dynoxide and in ENFORCE mode on DynamoDB Local, where
// each create costs more (the counters' rules are held on both engines by
// storetest.RunGuard, 64-way races included).
func TestPumping(t *testing.T) {
	endpoint := mototest.Start(t)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		for mode, digit := range map[string]int{identification.GuardEnforce: 1, identification.GuardMonitor: 2} {
			if e.Name == "dynamodb-local" {
				digit += 2 // numbers of their own in the one moto
			}
			if mode == identification.GuardMonitor && e.Name == "dynamodb-local" {
				continue // MONITOR counts as ENFORCE does, unconditionally (storetest.RunGuard on both engines)
			}
			t.Run(mode, func(t *testing.T) {
				r := newRig(t, e)
				svc := r.withGuard(t)
				if mode == identification.GuardEnforce {
					// What is refused must not reach the provider: moto's
					// SNS counts what did.
					r.proc.Senders = map[string]identification.Sender{"SMS": sns.New(sns.NewClient("us-east-1", endpoint, nil))}
				}
				if _, err := svc.Put(t.Context(), "acme", settings.Settings{Guard: settings.Guard{Mode: mode, AllowedCountries: []string{"ES", "FR"},
					MaxSendsPerDestinationPerDay: 10, PrefixDigits: 6, PrefixMaxPerHour: 30}}, 0, ops); err != nil {
					t.Fatal(err)
				}
				// The whole attack where it is cheap to run (ENFORCE on
				// dynoxide: the refused creates write no process); a
				// quarter of it, 500 creates with the same limits,
				// where every create is a process to deliver (MONITOR) or
				// the engine is slower (DynamoDB Local).
				premium, ordinary := 400, 100
				if e.Name == "dynamodb-local" || mode == identification.GuardMonitor {
					premium, ordinary = 100, 25
				}
				type target struct{ cc, national, kind string }
				var targets []target
				for n := range premium {
					for range 4 {
						targets = append(targets, target{"34", fmt.Sprintf("8%d1%06d", digit, n), "premium"})
					}
				}
				for n := range ordinary {
					for range 3 {
						targets = append(targets, target{"33", fmt.Sprintf("6%02d%d%05d", n, digit, n), "ordinary"})
					}
					targets = append(targets, target{"44", fmt.Sprintf("7%02d%d%06d", n, digit, n), "disallowed"})
				}
				var mu sync.Mutex
				created, refused := map[string]int{}, map[string]int{}
				var wg sync.WaitGroup
				for w := range 64 {
					wg.Go(func() {
						for k := w; k < len(targets); k += 64 {
							tg := targets[k]
							_, err := r.svc.CreateOTP(t.Context(), "acme", identification.CreateOTP{
								Actor:   &identification.Actor{Name: "Bot", MSISDN: &identification.MSISDN{CountryCode: tg.cc, PhoneNumber: tg.national}},
								Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "PT1H"}, admin)
							mu.Lock()
							switch {
							case err == nil:
								created[tg.kind]++
							case identification.KindOf(err) == identification.KindSendingBlocked:
								refused[tg.kind]++
							default:
								t.Errorf("create to %s: %v", tg.kind, err)
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				want := map[string]int{"premium": 30, "ordinary": 3 * ordinary}
				wantRefused := map[string]int{"premium": 4*premium - 30, "disallowed": ordinary}
				wantEvents := map[string]int{identification.RulePrefixVelocity: 4*premium - 30, identification.RuleCountry: ordinary}
				if mode == identification.GuardMonitor {
					want, wantRefused = map[string]int{"premium": 4 * premium, "ordinary": 3 * ordinary, "disallowed": ordinary}, map[string]int{}
				}
				if fmt.Sprint(created) != fmt.Sprint(want) || fmt.Sprint(refused) != fmt.Sprint(wantRefused) {
					t.Fatalf("created %v and refused %v, want %v and %v", created, refused, want, wantRefused)
				}
				r.drain(t)
				sent := map[string]int{}
				var to []string
				if mode == identification.GuardEnforce {
					for _, m := range mototest.Data(t, endpoint).SNS.SMS {
						to = append(to, m.PhoneNumber)
					}
				} else {
					// MONITOR sends all: the rig's outbox (the senders'
					// side of the same path) counts them.
					for _, m := range r.box.messages() {
						to = append(to, m.To)
					}
				}
				for _, phone := range to {
					m := struct{ PhoneNumber string }{phone}
					switch {
					case strings.HasPrefix(m.PhoneNumber, fmt.Sprintf("+348%d1", digit)):
						sent["premium"]++
					case strings.HasPrefix(m.PhoneNumber, "+336") && len(m.PhoneNumber) == 12 && m.PhoneNumber[6] == byte('0'+digit):
						sent["ordinary"]++
					case strings.HasPrefix(m.PhoneNumber, "+447") && len(m.PhoneNumber) == 13 && m.PhoneNumber[6] == byte('0'+digit):
						sent["disallowed"]++
					}
				}
				if fmt.Sprint(sent) != fmt.Sprint(want) {
					t.Fatalf("moto's SNS sent %v, want %v", sent, want)
				}
				events := map[string]int{}
				cursor := ""
				for range 100 {
					page, next, err := r.store.GuardEvents(t.Context(), "acme", 200, cursor)
					if err != nil {
						t.Fatal(err)
					}
					for _, ev := range page {
						if ev.Mode != mode {
							t.Fatalf("a guard event of mode %s in %s", ev.Mode, mode)
						}
						events[ev.Rule]++
					}
					if cursor = next; next == "" {
						break
					}
				}
				if fmt.Sprint(events) != fmt.Sprint(wantEvents) {
					t.Fatalf("guard events %v, want %v", events, wantEvents)
				}
			})
		}
	})
}
