package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/identification"
)

// RunGuard runs the contract every guard.Store must meet, and the sending
// guard's rules on it: a count with a limit is refused at the limit and
// changes nothing then; an uncount takes one back; of 64 goroutines
// counting at once exactly the limit are counted; guard events page
// newest first with cursors, a cursor no page gave is guard.ErrBadCursor,
// one organisation sees none of another's. Then guard.Guard on the store:
// an organisation's hourly budget holds exactly under 64-way concurrency
// (its shards' caps sum to it), a new hour resets it (a fake clock) while
// the daily budget goes on counting, a destination's daily limit and a
// prefix's hourly one hold, and a send refused by a later rule is taken
// back from the earlier ones' counts.
func RunGuard(t *testing.T, newStore func(t *testing.T) guard.Store) {
	t.Run("count and limit", func(t *testing.T) { testGuardCount(t, newStore(t)) })
	t.Run("counts at once", func(t *testing.T) { testGuardCountRace(t, newStore(t)) })
	t.Run("events", func(t *testing.T) { testGuardEvents(t, newStore(t)) })
	t.Run("budgets at once", func(t *testing.T) { testGuardBudgets(t, newStore(t)) })
	t.Run("destination and prefix", func(t *testing.T) { testGuardDestinationAndPrefix(t, newStore(t)) })
}

var guardNow = time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)

func testGuardCount(t *testing.T, s guard.Store) {
	ctx := context.Background()
	c := guard.Counter{Org: "acme", Key: "dest#k1:abc#20261206", Fields: []guard.Field{{Name: "n", Limit: 2}}, Expires: guardNow.Add(time.Hour)}
	for n := int64(1); n <= 2; n++ {
		ok, v, err := s.Count(ctx, c, true)
		if err != nil || !ok || v["n"] != n {
			t.Fatalf("count %d: counted %v, values %v, %v; want counted, n=%d", n, ok, v, err, n)
		}
	}
	ok, v, err := s.Count(ctx, c, true)
	if err != nil || ok || v["n"] != 2 {
		t.Fatalf("count past the limit: counted %v, values %v, %v; want refused at n=2", ok, v, err)
	}
	// Not enforced: counted past the limit, and said so.
	ok, v, err = s.Count(ctx, c, false)
	if err != nil || !ok || v["n"] != 3 {
		t.Fatalf("monitored count: counted %v, values %v, %v; want counted, n=3", ok, v, err)
	}
	if err := s.Uncount(ctx, c); err != nil {
		t.Fatal(err)
	}
	if ok, v, _ := s.Count(ctx, c, true); ok || v["n"] != 2 {
		t.Fatalf("after an uncount: counted %v, values %v; want refused at n=2", ok, v)
	}
	// Another organisation's counter of the same key is its own.
	other := c
	other.Org = "globex"
	if ok, v, err := s.Count(ctx, other, true); err != nil || !ok || v["n"] != 1 {
		t.Fatalf("another organisation's counter: counted %v, values %v, %v", ok, v, err)
	}
	// Two fields: refused when either is at its limit, neither counted.
	two := guard.Counter{Org: "acme", Key: "budget#20261206#0", Fields: []guard.Field{{Name: "h10", Limit: 1}, {Name: "d", Limit: 5}}, Expires: guardNow.Add(time.Hour)}
	if ok, _, err := s.Count(ctx, two, true); err != nil || !ok {
		t.Fatalf("two fields: %v %v", ok, err)
	}
	if ok, v, err := s.Count(ctx, two, true); err != nil || ok || v["h10"] != 1 || v["d"] != 1 {
		t.Fatalf("two fields, one full: counted %v, values %v, %v; want refused at h10=1, d=1", ok, v, err)
	}
}

func testGuardCountRace(t *testing.T, s guard.Store) {
	const limit, workers, each = 100, 64, 4
	c := guard.Counter{Org: "acme", Key: "prefix#k1:race#2026120610", Fields: []guard.Field{{Name: "n", Limit: limit}}, Expires: guardNow.Add(time.Hour)}
	var counted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				ok, _, err := s.Count(context.Background(), c, true)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					counted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := counted.Load(); got != limit {
		t.Fatalf("%d of %d counts at once were counted under a limit of %d", got, workers*each, limit)
	}
}

func testGuardEvents(t *testing.T, s guard.Store) {
	ctx := context.Background()
	for n := range 25 {
		e := guard.Event{Org: "acme", At: guardNow.Add(time.Duration(n) * time.Second), Rule: identification.RulePrefixVelocity,
			Mode: identification.GuardEnforce, Channel: "SMS", Country: "ES", Prefix: "+34 80…", Type: identification.TypeOTP, ID: fmt.Sprintf("id-%02d", n)}
		if err := s.RecordGuardEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordGuardEvent(ctx, guard.Event{Org: "globex", At: guardNow, Rule: identification.RuleCountry, Mode: identification.GuardMonitor, Channel: "SMS", ID: "theirs"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("the events do not end")
		}
		page, next, err := s.GuardEvents(ctx, "acme", 10, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if next != "" && len(page) != 10 {
			t.Fatalf("a page with a next cursor holds %d events, want 10", len(page))
		}
		for _, e := range page {
			ids = append(ids, e.ID)
			if e.Org != "acme" || e.Rule != identification.RulePrefixVelocity || e.Prefix != "+34 80…" || e.Country != "ES" || e.Channel != "SMS" || e.Mode != identification.GuardEnforce || e.Type != identification.TypeOTP {
				t.Fatalf("event read back as %+v", e)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(ids) != 25 {
		t.Fatalf("listed %d events, want 25: %v", len(ids), ids)
	}
	for n, id := range ids {
		if want := fmt.Sprintf("id-%02d", 24-n); id != want {
			t.Fatalf("event %d is %s, want %s (newest first)", n, id, want)
		}
	}
	if _, _, err := s.GuardEvents(ctx, "acme", 10, "not-a-cursor"); !errors.Is(err, guard.ErrBadCursor) {
		t.Fatalf("a made-up cursor: %v, want guard.ErrBadCursor", err)
	}
	if page, _, err := s.GuardEvents(ctx, "initech", 10, ""); err != nil || len(page) != 0 {
		t.Fatalf("an organisation without events: %d, %v", len(page), err)
	}
}

// sameCountry reads every number as Spain's, masked to its first digits.
type sameCountry struct{}

func (sameCountry) Country(string) string      { return "ES" }
func (sameCountry) MaskedPrefix(string) string { return "+34 6…" }
func send(org, dest string, at time.Time, r identification.SendingRules) identification.Send {
	return identification.Send{Ref: identification.Ref{Org: org, Type: identification.TypeOTP, ID: "p-" + dest}, Channel: "SMS",
		Phone: "+34600000000", DestinationKey: "k1:" + dest, PrefixKey: "k1:prefix-" + dest[:1], At: at, Rules: r}
}

func testGuardBudgets(t *testing.T, s guard.Store) {
	g := guard.New(s, sameCountry{}, nil, nil)
	rules := identification.SendingRules{MaxPerHour: 100, MaxPerDay: 150}
	admitted := func(at time.Time, n int) (int, map[string]int) {
		var ok atomic.Int64
		var mu sync.Mutex
		rulesBroken := map[string]int{}
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				for k := w; k < n; k += 64 {
					v, err := g.Admit(context.Background(), send("acme", fmt.Sprintf("d%d-%d", at.Hour(), k), at, rules))
					if err != nil {
						t.Error(err)
						return
					}
					if v.Refused {
						mu.Lock()
						rulesBroken[v.Rule]++
						mu.Unlock()
						continue
					}
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		return int(ok.Load()), rulesBroken
	}
	if got, broken := admitted(guardNow, 300); got != 100 || broken[identification.RuleHourlyBudget] != 200 {
		t.Fatalf("hour 1: %d of 300 sends at once admitted under an hourly budget of 100 (refused: %v)", got, broken)
	}
	// The next hour: the hourly budget starts again, the day's goes on
	// (150 in all: 50 more).
	if got, broken := admitted(guardNow.Add(time.Hour), 200); got != 50 || broken[identification.RuleDailyBudget] != 150 {
		t.Fatalf("hour 2: %d of 200 sends admitted with 50 of the daily budget of 150 left (refused: %v)", got, broken)
	}
	// The next day: both start again.
	if got, _ := admitted(guardNow.Add(24*time.Hour), 120); got != 100 {
		t.Fatalf("the next day: %d of 120 sends admitted under an hourly budget of 100", got)
	}
	// Another organisation has budgets of its own.
	if v, err := g.Admit(context.Background(), send("globex", "x", guardNow, rules)); err != nil || v.Refused {
		t.Fatalf("another organisation: %+v, %v", v, err)
	}
}

func testGuardDestinationAndPrefix(t *testing.T, s guard.Store) {
	g := guard.New(s, sameCountry{}, nil, nil)
	ctx := context.Background()
	rules := identification.SendingRules{MaxPerDestinationPerDay: 3, PrefixDigits: 6, PrefixMaxPerHour: 5, MaxPerHour: 1000}
	for n := range 4 {
		v, err := g.Admit(ctx, send("acme", "a1", guardNow.Add(time.Duration(n)*time.Minute), rules))
		if err != nil || v.Refused != (n == 3) || (n == 3 && v.Rule != identification.RuleDestinationDaily) {
			t.Fatalf("send %d to one destination: %+v, %v; want the 4th refused by %s", n+1, v, err, identification.RuleDestinationDaily)
		}
	}
	// The prefix "a" has had 3 sends this hour: 2 more to other
	// destinations of it, then refused; the refused one is taken back
	// from its destination's count (that destination can still get 3).
	for n, dest := range []string{"a2", "a3", "a4"} {
		v, err := g.Admit(ctx, send("acme", dest, guardNow, rules))
		if err != nil || v.Refused != (n == 2) || (n == 2 && v.Rule != identification.RulePrefixVelocity) {
			t.Fatalf("send to %s: %+v, %v; want the 3rd refused by %s", dest, v, err, identification.RulePrefixVelocity)
		}
	}
	next := guardNow.Add(time.Hour)
	for n := range 3 {
		if v, err := g.Admit(ctx, send("acme", "a4", next.Add(time.Duration(n)*time.Minute), rules)); err != nil || v.Refused {
			t.Fatalf("send %d to a4 in the next hour: %+v, %v (its refused send must not count)", n+1, v, err)
		}
	}
	// MONITOR: sent, and the rule broken said.
	rules.Mode = identification.GuardMonitor
	v, err := g.Admit(ctx, send("acme", "a1", guardNow.Add(2*time.Hour), rules))
	if err != nil || v.Refused || v.Rule != identification.RuleDestinationDaily {
		t.Fatalf("monitored send past the destination's limit: %+v, %v; want not refused, rule %s", v, err, identification.RuleDestinationDaily)
	}
	events, _, err := s.GuardEvents(ctx, "acme", 50, "")
	if err != nil {
		t.Fatal(err)
	}
	byMode := map[string]int{}
	for _, e := range events {
		byMode[e.Mode+" "+e.Rule]++
	}
	want := map[string]int{"ENFORCE " + identification.RuleDestinationDaily: 1, "ENFORCE " + identification.RulePrefixVelocity: 1,
		"MONITOR " + identification.RuleDestinationDaily: 1}
	if fmt.Sprint(byMode) != fmt.Sprint(want) {
		t.Fatalf("guard events %v, want %v", byMode, want)
	}
}
