// Package memstore is an in-memory identification.Store. It exists so that
// benchmarks can measure the handler tree without a database behind it; it
// is never deployed. Because it re-implements conditional writes, it passes
// the same contract suite as the DynamoDB store (package storetest), and it
// takes its rules from the domain itself (Action.Allows and Refusal,
// DeleteAllowed and DeleteRefusal) instead of restating them.
package memstore

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Store holds identifications in a map under one mutex: every method is
// atomic, so two racing changes can never both succeed. It keeps its own
// copies, so callers may change what they pass in or get back.
type Store struct {
	mu    sync.Mutex
	items map[identification.Ref]*entry
}

// DefaultRetention is how long a process is kept after it ended (its
// Keeping's Until): the DynamoDB store's default.
const DefaultRetention = 30 * 24 * time.Hour

// Retention is how long a process is kept after it ended.
func (s *Store) Retention() time.Duration { return DefaultRetention }

// entry is one stored process, its code material, or its tombstone.
type entry struct {
	i         *identification.Identification
	code      *identification.CodeMaterial
	deletedAt time.Time
	deletedBy string
}

var _ identification.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{items: map[identification.Ref]*entry{}}
}

// Shards is the number of partitions of the open index Due reads: one.
func (s *Store) Shards() int { return 1 }

// Due returns the open processes whose Keeping puts them in the open index
// at or before now, as the DynamoDB store's index query does; one page.
func (s *Store) Due(_ context.Context, _ int, now time.Time, _ int32, _ any) ([]identification.Ref, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []identification.Ref
	for ref, e := range s.items {
		if e.i == nil {
			continue
		}
		if k := identification.KeepingOf(e.i, DefaultRetention); k.Open && !k.OpenUntil.After(now) {
			out = append(out, ref)
		}
	}
	slices.SortFunc(out, func(a, b identification.Ref) int { return strings.Compare(a.ID, b.ID) })
	return out, nil, nil
}

// Keeping is the bookkeeping of the process under ref: the one rule
// (identification.KeepingOf) applied to it as stored.
func (s *Store) Keeping(_ context.Context, ref identification.Ref) (identification.Keeping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[ref]
	if !ok || e.i == nil {
		return identification.Keeping{}, notFound(ref)
	}
	return identification.KeepingOf(e.i, DefaultRetention), nil
}

// Create stores a copy of i unless one with its key exists (KindConflict).
func (s *Store) Create(_ context.Context, i *identification.Identification, code *identification.CodeMaterial) error {
	c := identification.Clone(i)
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := c.Ref()
	if _, ok := s.items[ref]; ok {
		return identification.Errorf(identification.KindConflict, "identification %s already exists", i.ID)
	}
	s.items[ref] = &entry{i: c, code: identification.CloneCode(code)}
	return nil
}

// Get returns a copy of the identification under ref, or KindNotFound.
func (s *Store) Get(_ context.Context, ref identification.Ref) (*identification.Identification, error) {
	s.mu.Lock()
	e, ok := s.items[ref]
	s.mu.Unlock()
	if !ok {
		return nil, notFound(ref)
	}
	if e.i == nil {
		return nil, deleted(ref, e)
	}
	// Stored values are never changed in place (Apply replaces them), so
	// copying outside the lock is safe.
	return seen(e), nil
}

// Apply makes the change if Effect.Check passes on the stored process, as
// the DynamoDB store's conditional UpdateItem does, with Effect.Apply.
func (s *Store) Apply(_ context.Context, ref identification.Ref, e identification.Effect) (identification.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[ref]
	if !ok {
		return identification.Result{}, notFound(ref)
	}
	if old.i == nil {
		return identification.Result{}, deleted(ref, old)
	}
	if refusal := e.Check(old.i, old.code); refusal != nil {
		return identification.Result{Old: seen(old)}, refusal
	}
	i, code := e.Apply(old.i, old.code)
	s.items[ref] = &entry{i: i, code: code}
	return identification.Result{New: identification.Clone(i), Code: identification.CloneCode(code)}, nil
}

// Delete leaves a tombstone if DeleteAllowed says so at now: KindNotFound
// when missing, DeleteRefusal (KindForbidden) otherwise.
func (s *Store) Delete(_ context.Context, ref identification.Ref, force bool, by identification.Caller, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[ref]
	if !ok {
		return notFound(ref)
	}
	if old.i == nil {
		return deleted(ref, old)
	}
	if !identification.DeleteAllowed(old.i.Status, old.i.ExpiresAt, now, force) {
		return identification.DeleteRefusal(old.i.Status, old.i.ExpiresAt, now)
	}
	sub := by.Sub
	if sub == "" {
		sub = "unknown"
	}
	s.items[ref] = &entry{deletedAt: now, deletedBy: sub}
	return nil
}

// seen is a copy of e's process as a read returns it, with what a counted
// attempt left it owed.
func seen(e *entry) *identification.Identification {
	c := identification.Clone(e.i)
	c.Unsettled = identification.SettlementOf(c, e.code)
	return c
}

// notFound reads like the DynamoDB store's: the id is not repeated, so
// another organisation's id reads exactly like a random one.
func notFound(ref identification.Ref) error {
	if ref.Type == identification.TypeChain {
		return identification.Errorf(identification.KindNotFound, "no such chain identification in this organisation")
	}
	return identification.Errorf(identification.KindNotFound, "no such otp identification in this organisation")
}

func deleted(ref identification.Ref, e *entry) error {
	kind := "otp"
	if ref.Type == identification.TypeChain {
		kind = "chain"
	}
	return identification.Errorf(identification.KindNotFound, "the %s identification was deleted at %s by %s",
		kind, e.deletedAt.UTC().Format(time.RFC3339), e.deletedBy)
}

var _ identification.Lister = (*Store)(nil)

// List answers a page of f by looking at every process: the meaning of a
// listing, without the indexes the DynamoDB store reads it from.
func (s *Store) List(_ context.Context, f identification.ListFilter) (identification.ListPage, error) {
	s.mu.Lock()
	var all []*identification.Identification
	for ref, e := range s.items {
		if ref.Org == f.Org && ref.Type == f.Type && e.deletedAt.IsZero() && Matches(e.i, f) {
			all = append(all, identification.Clone(e.i))
		}
	}
	s.mu.Unlock()
	slices.SortFunc(all, func(a, b *identification.Identification) int {
		return strings.Compare(identification.Position(b), identification.Position(a))
	})
	page := identification.ListPage{More: len(all) > f.Limit}
	if page.More {
		all = all[:f.Limit]
	}
	page.Items = all
	return page, nil
}

// Matches reports whether i belongs to the listing f describes, ignoring
// the organisation, the type and the limit: the definition tests hold
// every store's listing to.
func Matches(i *identification.Identification, f identification.ListFilter) bool {
	pos := identification.Position(i)
	switch {
	case f.Before != "" && pos >= f.Before,
		!f.From.IsZero() && i.CreatedAt.Before(f.From),
		!f.To.IsZero() && i.CreatedAt.After(f.To),
		f.Email != nil && !slices.Contains(f.Email, i.ActorKeys.Email),
		f.Phone != nil && !slices.Contains(f.Phone, i.ActorKeys.Phone),
		f.Document != nil && !slices.Contains(f.Document, i.ActorKeys.Document),
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, listedStatus(i, f.Now)):
		return false
	}
	return true
}

// listedStatus is the status a status filter sees: the status as read at
// now, except that an open process past its expiry has none until the
// sweep has ended it.
func listedStatus(i *identification.Identification, now time.Time) identification.Status {
	if i.Status.Open() && i.ExpiredAt(now) {
		return ""
	}
	return i.Status
}
