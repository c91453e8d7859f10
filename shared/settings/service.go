package settings

import (
	"context"
	"sync"
	"time"

	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stats"
)

// Service is what the settings routes do: read an organisation's document
// (the defaults until it is first written), replace it on the condition
// that it did not change since it was read, and read the audit list.
type Service struct {
	store  Store
	events Records
	now    func() time.Time
}

// Records are what an organisation's guard and stream processor recorded:
// its sending guard's events (guard.Store) and its statistics.
type Records interface {
	GuardEvents(ctx context.Context, org string, limit int, before string) ([]guard.Event, string, error)
	stats.Reader
}

// NewService makes the service on store, reading the guard's events and
// the statistics from records (time.Now when now is nil).
func NewService(store Store, records Records, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, events: records, now: now}
}

// Stats reads org's statistics in [from, to), grouped by groupBy (a
// stats.Dimensions, or "" for the total): a row per hour and group, and
// one per group for the whole span.
func (s *Service) Stats(ctx context.Context, org string, from, to time.Time, groupBy string) (rows, totals []stats.Row, err error) {
	hours, err := s.events.Stats(ctx, org, from, to)
	if err != nil {
		return nil, nil, err
	}
	rows, totals = stats.Report(hours, groupBy)
	return rows, totals, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// GuardEvents is a page of org's guard events, newest first, and the
// cursor of the next ("" for none); guard.ErrBadCursor for a cursor no
// page gave.
func (s *Service) GuardEvents(ctx context.Context, org string, limit int, cursor string) ([]guard.Event, string, error) {
	return s.events.GuardEvents(ctx, org, limit, cursor)
}

// Get returns org's document, version 0 with nothing set when it was never
// written.
func (s *Service) Get(ctx context.Context, org string) (Stored, error) {
	st, err := s.store.Settings(ctx, org)
	if identification.KindOf(err) == identification.KindNotFound {
		return Stored{}, nil
	}
	return st, err
}

// Put replaces org's document with in, made from version from (the
// version the caller read: its ETag), by caller. It returns the document
// as stored; KindInvalid naming every member that breaks a rule;
// KindPrecondition when the document is no longer at version from. A put
// that changes nothing writes nothing and returns the document as it is.
func (s *Service) Put(ctx context.Context, org string, in Settings, from int64, caller identification.Caller) (Stored, error) {
	p := &identification.Problems{}
	in.Check(p, org)
	if err := p.Err(); err != nil {
		return Stored{}, err
	}
	cur, err := s.Get(ctx, org)
	if err != nil {
		return Stored{}, err
	}
	if cur.Version != from {
		return Stored{}, preconditionFailed(cur.Version)
	}
	fields := Changed(cur.Settings, in)
	if len(fields) == 0 {
		return cur, nil
	}
	at := s.now().UTC().Truncate(time.Second)
	next := Stored{Settings: in.Clone(), Version: from + 1, UpdatedAt: at, UpdatedBy: caller.Sub}
	c := Change{Version: next.Version, At: at, ByKind: caller.Kind, BySub: caller.Sub, RequestID: caller.RequestID, Fields: fields}
	if err := s.store.PutSettings(ctx, org, next, from, c); err != nil {
		return Stored{}, err
	}
	return next, nil
}

func preconditionFailed(current int64) error {
	return identification.Errorf(identification.KindPrecondition,
		"the settings changed since they were read (they are at version %d): read them again, apply your change and send it with the new ETag", current)
}

// MaxHistoryPage is the longest page of the audit list.
const MaxHistoryPage = 100

// History returns a page of org's audit list, newest first, before
// version before (0: the newest), and whether older entries follow.
func (s *Service) History(ctx context.Context, org string, limit int, before int64) ([]Change, bool, error) {
	return s.store.SettingsHistory(ctx, org, min(max(limit, 1), MaxHistoryPage), before)
}

// CacheTTL is how long a function keeps an organisation's settings before
// reading them again. A change reaches the create, resend and delivery
// paths within it: short enough that an organisation that changes a text
// or a lifetime sees it on its next test, long enough that a busy
// organisation's creates read the document about once per CacheTTL per
// warm function rather than once each. Nothing that protects anyone rests
// on the settings being fresh to the second (codes issued keep the length
// and lifetime they were issued with); a change of the sending guard (a
// budget lowered during an attack) holds everywhere within CacheTTL.
const CacheTTL = 10 * time.Second

// Cache reads organisations' settings for the hot paths, keeping each for
// CacheTTL. It is safe for concurrent use.
type Cache struct {
	store Store
	now   func() time.Time
	ttl   time.Duration

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	s  Settings
	at time.Time
}

// NewCache makes a cache reading store (time.Now when now is nil).
func NewCache(store Store, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{store: store, now: now, ttl: CacheTTL, entries: map[string]cached{}}
}

// Settings returns org's settings as stored at most CacheTTL ago (nothing
// set when never written). An error reading them is returned, never
// cached.
func (c *Cache) Settings(ctx context.Context, org string) (Settings, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[org]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.s, nil
	}
	st, err := c.store.Settings(ctx, org)
	if identification.KindOf(err) == identification.KindNotFound {
		st, err = Stored{}, nil
	}
	if err != nil {
		return Settings{}, err
	}
	c.mu.Lock()
	c.entries[org] = cached{s: st.Settings, at: now}
	c.mu.Unlock()
	return st.Settings, nil
}

// Policy is org's identification.Policy: its codes' length and lifetime
// and the channels the service delivers on (the service's defaults for
// what the organisation did not set).
func (c *Cache) Policy(ctx context.Context, org string) (identification.Policy, error) {
	s, err := c.Settings(ctx, org)
	if err != nil {
		return identification.Policy{}, err
	}
	return identification.Policy{CodeLength: s.CodeLength, CodeTTL: time.Duration(s.CodeTTLMinutes) * time.Minute, Channels: s.Channels,
		Sending: s.Guard.Rules()}, nil
}

// MessageTexts are org's identification.MessageTexts: its display name,
// default language and own texts.
func (c *Cache) MessageTexts(ctx context.Context, org string) (identification.MessageTexts, error) {
	s, err := c.Settings(ctx, org)
	if err != nil {
		return identification.MessageTexts{}, err
	}
	return identification.MessageTexts{Name: s.DisplayName, DefaultLanguage: s.DefaultLanguage, Texts: s.Messages}, nil
}

// Forget drops every organisation's settings the cache holds: the next
// read of each goes to the store. (Tests use it to see what a route reads
// from a function's cold start.)
func (c *Cache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
