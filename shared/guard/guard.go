// Package guard is the sending guard (docs/guard.md): before the service
// issues a code it delivers itself, the destination's country is checked
// against the organisation's allowed countries and the send is counted,
// atomically with the checking, against its budgets (an hour's and a
// day's sends), the destination's sends of the day and the hour's sends to
// numbers of the same prefix. In ENFORCE mode a send that breaks a rule is
// refused and counted nowhere; in MONITOR mode it is sent and counted, and
// the rule it broke recorded. Every refusal and would-be refusal is a
// guard event (Event).
//
// The counters are items of their own (a Store keeps them), each changed
// by one conditional write: the check and the count of a rule cannot come
// apart. One organisation's budgets are split over Shards counters a
// window, so that 1,000 sends a second take no hot key (Shards).
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Shards is how many counters one organisation's budgets are split over
// (each a window's: a day's, holding its hours too). At 1,000 sends a
// second a counter takes 1000/Shards = 125 write units a second, an eighth
// of a partition key's 1,000. A budget of B is split into Shards caps that
// sum to B exactly (B/Shards, one more for the first B mod Shards), and a
// send goes to the first shard, from a random one, that is below its cap:
// so the organisation's sends never pass B, and one is refused only when
// every shard is full, that is when B were counted. The bound is exact;
// the cost is that a send near the budget may try several shards (each a
// write unit), which Guard remembers per window once full.
const Shards = 8

// Window is a counter's period.
type Window int

const (
	// Hour is a UTC hour, Day a UTC day.
	Hour Window = iota
	Day
)

// Counter is one counter item: its key (the organisation, what it counts
// and its window) and the fields one send adds one to, each below its
// limit (0: no limit).
type Counter struct {
	Org string
	// Key names the counter within the organisation: "budget#<day>#<shard>",
	// "dest#<keyed hash>#<day>", "prefix#<keyed hash>#<hour>".
	Key string
	// Fields are added to together, each on the condition that it is
	// below its Limit (when Enforce).
	Fields []Field
	// Expires is when the counter is of no more use (its window's end):
	// the store lets it go after that.
	Expires time.Time
}

// Field is one count of a counter.
type Field struct {
	Name  string
	Limit int64
}

// Store keeps the counters and the guard events.
type Store interface {
	// Count adds one to each of c's fields. With enforce, only if every
	// field with a Limit is below it: counted is then false and nothing
	// changed. It answers the fields' values after (or, when refused, as
	// they are).
	Count(ctx context.Context, c Counter, enforce bool) (counted bool, values map[string]int64, err error)
	// Uncount takes back one count of each of c's fields (a send refused
	// by a later rule).
	Uncount(ctx context.Context, c Counter) error
	// RecordGuardEvent keeps e, for GuardEvents to list.
	RecordGuardEvent(ctx context.Context, e Event) error
	// GuardEvents lists a page of org's events, newest first, below the
	// cursor before ("" from the newest): at most limit, and the cursor of
	// the next page ("" for none).
	GuardEvents(ctx context.Context, org string, limit int, before string) ([]Event, string, error)
}

// Event is a refusal (ENFORCE) or a would-be refusal (MONITOR): the rule,
// the channel, the destination's country and its number's prefix masked
// to the calling code and two digits ("+34 61…"), never the destination.
type Event struct {
	Org     string
	At      time.Time
	Rule    string
	Mode    string
	Channel string
	Country string
	Prefix  string
	// Type and ID are the process's: the one created anyway (MONITOR), the
	// chain whose step's code was blocked, or the id a refused create
	// would have had.
	Type identification.Type
	ID   string
}

// Guard is the sending guard of one function instance: it checks and
// counts sends in the Store, and remembers which budget shards it found
// full in their window, so that a send past a budget does not try them
// again.
type Guard struct {
	store   Store
	numbers Numbers
	// defaults are the deployment's allowed countries
	// (DefaultAllowedCountries) for an organisation that names none; nil
	// allows every country.
	defaults []string
	logger   *slog.Logger
	rand     func(int) int

	mu   sync.Mutex
	full map[string]time.Time // counter key → the end of its window
}

// Numbers reads a phone number's country and masked prefix
// (numbers.Numbers, a package of its own so that only the functions that
// issue codes link its metadata).
type Numbers interface {
	// Country is the number's ISO 3166-1 alpha-2 country, "" when none.
	Country(e164 string) string
	// MaskedPrefix is its calling code and two digits: "+34 61…".
	MaskedPrefix(e164 string) string
}

// New is a Guard on store, reading numbers with numbers. defaults are the
// countries allowed where the organisation names none (nil: every
// country).
func New(store Store, numbers Numbers, defaults []string, logger *slog.Logger) *Guard {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{store: store, numbers: numbers, defaults: defaults, logger: logger, rand: rand.IntN, full: map[string]time.Time{}}
}

var _ identification.SendGuard = (*Guard)(nil)

// Checks reports whether r checks anything (identification.SendGuard):
// not when OFF, nor when every country is allowed (by the organisation
// and the deployment) and no limit is set.
func (g *Guard) Checks(r identification.SendingRules) bool {
	if r.Mode == identification.GuardOff {
		return false
	}
	limited := r.MaxPerHour > 0 || r.MaxPerDay > 0 || r.MaxPerDestinationPerDay > 0 || r.PrefixMaxPerHour > 0
	return limited || r.AllowedCountries != nil || g.defaults != nil
}

// Admit checks s against its rules and counts it (identification.SendGuard).
func (g *Guard) Admit(ctx context.Context, s identification.Send) (identification.Verdict, error) {
	r := s.Rules
	if r.Mode == identification.GuardOff {
		return identification.Verdict{}, nil
	}
	enforce := r.Enforced()
	country, prefix := "", ""
	if s.Phone != "" {
		country, prefix = g.numbers.Country(s.Phone), g.numbers.MaskedPrefix(s.Phone)
	}
	verdict := func(rule string) (identification.Verdict, error) {
		e := Event{Org: s.Ref.Org, At: s.At, Rule: rule, Mode: identification.GuardMonitor, Channel: s.Channel,
			Country: country, Prefix: prefix, Type: s.Ref.Type, ID: s.Ref.ID}
		if enforce {
			e.Mode = identification.GuardEnforce
		}
		if err := g.store.RecordGuardEvent(ctx, e); err != nil {
			return identification.Verdict{}, err
		}
		return identification.Verdict{Rule: rule, Refused: enforce}, nil
	}
	if s.Phone != "" {
		allowed := r.AllowedCountries
		if allowed == nil {
			allowed = g.defaults
		}
		if allowed != nil && !slices.Contains(allowed, country) {
			if v, err := verdict(identification.RuleCountry); err != nil || v.Refused {
				return v, err
			}
			// MONITOR: counted as any send below.
		}
	}
	var counted []Counter
	undo := func() {
		for _, c := range counted {
			if err := g.store.Uncount(context.WithoutCancel(ctx), c); err != nil {
				// The count stays one too high: the guard errs on the
				// side of refusing.
				g.logger.Warn("guard: take back a count", slog.String("error", err.Error()))
			}
		}
	}
	broken := ""
	day, hour := s.At.UTC().Format("20060102"), s.At.UTC().Format("2006010215")
	dayEnd := s.At.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	hourEnd := s.At.UTC().Truncate(time.Hour).Add(time.Hour)
	single := []struct {
		rule  string
		limit int
		hash  string
		c     Counter
	}{
		// The prefix first: under a pumping attack it is the rule that
		// refuses, and once its counter is full for the hour this Guard
		// refuses without a write, and counts nothing to take back.
		{identification.RulePrefixVelocity, r.PrefixMaxPerHour, s.PrefixKey,
			Counter{Org: s.Ref.Org, Key: "prefix#" + s.PrefixKey + "#" + hour, Expires: hourEnd}},
		{identification.RuleDestinationDaily, r.MaxPerDestinationPerDay, s.DestinationKey,
			Counter{Org: s.Ref.Org, Key: "dest#" + s.DestinationKey + "#" + day, Expires: dayEnd}},
	}
	for _, one := range single {
		if one.limit == 0 || one.hash == "" {
			continue
		}
		one.c.Fields = []Field{{Name: "n", Limit: int64(one.limit)}}
		ok, values, err := g.count(ctx, one.c, enforce)
		if err != nil {
			undo()
			return identification.Verdict{}, err
		}
		if !ok {
			undo()
			return verdict(one.rule)
		}
		counted = append(counted, one.c)
		if values["n"] > int64(one.limit) && broken == "" {
			broken = one.rule // MONITOR: counted past the limit
		}
	}
	if r.MaxPerHour > 0 || r.MaxPerDay > 0 {
		rule, err := g.budget(ctx, s, enforce, day, hour, dayEnd, hourEnd)
		if err != nil {
			undo()
			return identification.Verdict{}, err
		}
		if rule != "" {
			if enforce {
				undo()
				return verdict(rule)
			}
			if broken == "" {
				broken = rule
			}
		}
	}
	if broken != "" {
		return verdict(broken)
	}
	return identification.Verdict{}, nil
}

// count is Store.Count, skipping (as refused) a counter this Guard found
// full in its window, and remembering one it finds full.
func (g *Guard) count(ctx context.Context, c Counter, enforce bool) (bool, map[string]int64, error) {
	if enforce && g.isFull(c.Org+"\x00"+c.Key, c.Expires) {
		return false, nil, nil
	}
	ok, values, err := g.store.Count(ctx, c, enforce)
	if err == nil && !ok {
		g.markFull(c.Org+"\x00"+c.Key, c.Expires)
	}
	return ok, values, err
}

// budget counts s against the organisation's hourly and daily budgets:
// the rule it broke, or "". In ENFORCE mode it tries the shards from a
// random one until one has room under both caps; a shard full for the
// hour (or the day) is remembered until the hour's (the day's) end.
func (g *Guard) budget(ctx context.Context, s identification.Send, enforce bool, day, hour string, dayEnd, hourEnd time.Time) (string, error) {
	r := s.Rules
	hourField, dayField := "h"+hour[8:], "d"
	first := g.rand(Shards)
	if !enforce {
		c := g.budgetCounter(s.Ref.Org, day, first, hourField, dayField, r, dayEnd)
		_, values, err := g.store.Count(ctx, c, false)
		if err != nil {
			return "", err
		}
		// MONITOR: the shard's count past its cap says the budget is
		// about to be spent; the organisation's total is the sum of the
		// shards, which one send does not read. A shard over its cap is
		// reported as the budget broken (at most Shards−1 sends early).
		switch {
		case r.MaxPerHour > 0 && values[hourField] > int64(capOf(r.MaxPerHour, first)):
			return identification.RuleHourlyBudget, nil
		case r.MaxPerDay > 0 && values[dayField] > int64(capOf(r.MaxPerDay, first)):
			return identification.RuleDailyBudget, nil
		}
		return "", nil
	}
	hourFull, dayFull := 0, 0
	for n := range Shards {
		shard := (first + n) % Shards
		c := g.budgetCounter(s.Ref.Org, day, shard, hourField, dayField, r, dayEnd)
		hk, dk := c.Org+"\x00"+c.Key+"#"+hourField, c.Org+"\x00"+c.Key+"#"+dayField
		if g.isFull(dk, dayEnd) {
			dayFull++
			continue
		}
		if g.isFull(hk, hourEnd) {
			hourFull++
			continue
		}
		// A budget smaller than Shards leaves some shards a cap of 0.
		if c.Fields[1].Limit == 0 && r.MaxPerDay > 0 {
			dayFull++
			continue
		}
		if c.Fields[0].Limit == 0 && r.MaxPerHour > 0 {
			hourFull++
			continue
		}
		ok, values, err := g.store.Count(ctx, c, true)
		if err != nil {
			return "", err
		}
		if ok {
			return "", nil
		}
		if r.MaxPerDay > 0 && values[dayField] >= int64(capOf(r.MaxPerDay, shard)) {
			g.markFull(dk, dayEnd)
			dayFull++
		} else {
			g.markFull(hk, hourEnd)
			hourFull++
		}
	}
	if dayFull > 0 && hourFull == 0 {
		return identification.RuleDailyBudget, nil
	}
	return identification.RuleHourlyBudget, nil
}

// budgetCounter is shard's counter of org's budgets on day: its day's
// count and this hour's, each capped at the shard's share of the budget.
func (g *Guard) budgetCounter(org, day string, shard int, hourField, dayField string, r identification.SendingRules, dayEnd time.Time) Counter {
	c := Counter{Org: org, Key: fmt.Sprintf("budget#%s#%d", day, shard), Expires: dayEnd}
	c.Fields = []Field{{Name: hourField}, {Name: dayField}}
	if r.MaxPerHour > 0 {
		c.Fields[0].Limit = int64(capOf(r.MaxPerHour, shard))
	}
	if r.MaxPerDay > 0 {
		c.Fields[1].Limit = int64(capOf(r.MaxPerDay, shard))
	}
	return c
}

// capOf is shard's share of a budget: the shares sum to the budget.
func capOf(budget, shard int) int {
	c := budget / Shards
	if shard < budget%Shards {
		c++
	}
	return c
}

func (g *Guard) isFull(key string, until time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	end, ok := g.full[key]
	if ok && !end.Equal(until) {
		delete(g.full, key) // another window's
		return false
	}
	return ok
}

func (g *Guard) markFull(key string, until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, end := range g.full {
		if !end.After(until.Add(-24 * time.Hour)) {
			delete(g.full, k) // windows long past
		}
	}
	g.full[key] = until
}

// ErrBadCursor is a guard events cursor that is not one a page gave.
var ErrBadCursor = errors.New("guard: bad cursor")
