// Package memstore is an in-memory identification.Store. It exists so that
// benchmarks can measure the handler tree without a database behind it; it
// is never deployed. Because it re-implements conditional writes, it passes
// the same contract suite as the DynamoDB store (package storetest), and it
// takes its rules from the domain itself (Action.Allows and Refusal,
// DeleteAllowed and DeleteRefusal) instead of restating them.
package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Store holds identifications in a map under one mutex: every method is
// atomic, so two racing changes can never both succeed. It keeps its own
// copies, so callers may change what they pass in or get back.
type Store struct {
	mu    sync.Mutex
	items map[identification.Ref]*identification.Identification
}

var _ identification.Store = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	return &Store{items: map[identification.Ref]*identification.Identification{}}
}

// Create stores a copy of i unless one with its key exists (KindConflict).
func (s *Store) Create(_ context.Context, i *identification.Identification) error {
	c := clone(i)
	s.mu.Lock()
	defer s.mu.Unlock()
	ref := c.Ref()
	if _, ok := s.items[ref]; ok {
		return identification.Errorf(identification.KindConflict, "identification %s already exists", i.ID)
	}
	s.items[ref] = c
	return nil
}

// Get returns a copy of the identification under ref, or KindNotFound.
func (s *Store) Get(_ context.Context, ref identification.Ref) (*identification.Identification, error) {
	s.mu.Lock()
	i, ok := s.items[ref]
	s.mu.Unlock()
	if !ok {
		return nil, notFound(ref)
	}
	// Stored values are never changed in place (Transition replaces them),
	// so copying outside the lock is safe.
	return clone(i), nil
}

// Transition applies ch if the lifecycle allows it at ch.At, as the
// DynamoDB store's conditional UpdateItem does; a refusal is classified by
// Action.Refusal from the item as it was.
func (s *Store) Transition(_ context.Context, ref identification.Ref, ch identification.Change) error {
	rule, ok := identification.Lifecycle[ch.Action]
	if !ok {
		return fmt.Errorf("transition: unknown action %q", ch.Action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[ref]
	if !ok {
		return notFound(ref)
	}
	if refusal := ch.Action.Refusal(old.Status, old.ExpiresAt, ch.At); refusal != nil {
		return refusal
	}
	i := clone(old)
	i.Status = rule.To
	i.UpdatedAt = ch.At
	i.Version++
	ended := ch.At
	if ch.Action == identification.ActionExpire {
		// An expired process ended at its expiry, whenever the sweep ran.
		ended = old.ExpiresAt
	}
	i.EndedAt = &ended
	if ch.Reason != "" {
		i.CancelReason = ch.Reason
	}
	if ch.UserAgent != "" {
		i.EndedUserAgent = ch.UserAgent
	}
	s.items[ref] = i
	return nil
}

// Delete removes the identification if DeleteAllowed says so at now:
// KindNotFound when missing, DeleteRefusal (KindForbidden) otherwise.
func (s *Store) Delete(_ context.Context, ref identification.Ref, force bool, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.items[ref]
	if !ok {
		return notFound(ref)
	}
	if !identification.DeleteAllowed(old.Status, old.ExpiresAt, now, force) {
		return identification.DeleteRefusal(old.Status, old.ExpiresAt, now)
	}
	delete(s.items, ref)
	return nil
}

// notFound reads like the DynamoDB store's: the id is not repeated, so
// another organisation's id reads exactly like a random one.
func notFound(ref identification.Ref) error {
	if ref.Type == identification.TypeChain {
		return identification.Errorf(identification.KindNotFound, "no such chain identification in this organisation")
	}
	return identification.Errorf(identification.KindNotFound, "no such otp identification in this organisation")
}

// clone copies i deeply: nothing reachable from the copy is shared.
func clone(i *identification.Identification) *identification.Identification {
	c := *i
	if i.EndedAt != nil {
		t := *i.EndedAt
		c.EndedAt = &t
	}
	if d := i.Actor.IdentityDocument; d != nil {
		dc := *d
		c.Actor.IdentityDocument = &dc
	}
	if m := i.Actor.MSISDN; m != nil {
		mc := *m
		c.Actor.MSISDN = &mc
	}
	if ch := i.Channel; ch != nil {
		cc := *ch
		c.Channel = &cc
	}
	if i.Sequence != nil {
		c.Sequence = make([]identification.Step, len(i.Sequence))
		for n, st := range i.Sequence {
			if o := st.OTPStep; o != nil {
				oc := *o
				if o.Channel != nil {
					cc := *o.Channel
					oc.Channel = &cc
				}
				st.OTPStep = &oc
			}
			if d := st.IdentityDocumentStep; d != nil {
				dc := *d
				st.IdentityDocumentStep = &dc
			}
			c.Sequence[n] = st
		}
	}
	return &c
}
