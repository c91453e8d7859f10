package identification

import (
	"context"
	"time"
)

// Store persists identifications. Every method is one round trip to the
// backing store, and every change is one conditional write (or one
// transaction): two racing changes to one process can never both succeed,
// and the SDK's retry of a write whose answer was lost is recognised as the
// same write, never applied twice.
type Store interface {
	// Create stores a new identification with version 1, with code as its
	// first code when it has one. It returns KindConflict if one with the
	// same key exists, KindUnavailable when the store throttles or cannot
	// be reached.
	Create(ctx context.Context, i *Identification, code *CodeMaterial) error

	// Get returns the identification as stored (callers apply AsSeenAt). It
	// returns KindNotFound when there is none under ref, including when the
	// id belongs to another organisation or type.
	Get(ctx context.Context, ref Ref) (*Identification, error)

	// Apply makes the change e in one conditional write that checks every
	// guard of e at e.At and increments the version. On success it returns
	// the process as it now is (with its code material for an attempt). A
	// refused write is classified by e.Check from the item as it was,
	// without a second read, and Result.Old holds that item:
	// KindNotFound, KindExpired, KindConflict or KindTooSoon.
	Apply(ctx context.Context, ref Ref, e Effect) (Result, error)

	// Delete removes the identification in one conditional write. Without
	// force only a CREATED process that has not expired at now may go
	// (KindForbidden otherwise); a missing one is KindNotFound. The caller
	// checks the force-delete permission. The process leaves a tombstone
	// for the retention period: Get then answers KindNotFound saying when
	// and by whom it was deleted.
	Delete(ctx context.Context, ref Ref, force bool, by Caller, now time.Time) error
}

// CompleteStore is a Store with every capability the service uses:
// Idempotency-Key records (OnceStore) and listing (Lister). The
// production store declares it, checked by the compiler
// (dynamostore.Store); the service also runs on a plain Store (a test's
// in-memory one), whose Idempotency-Key and list requests then fail with
// an error saying which capability it lacks.
type CompleteStore interface {
	Store
	OnceStore
	Lister
}

// Result is what Apply saw: the process after the change (New, on success)
// or as it was when the change was refused (Old).
type Result struct {
	New  *Identification
	Old  *Identification
	Code *CodeMaterial
}

// Do plans cmd and has s apply it, returning only the error: the short
// form tools and tests use when the result does not matter.
func Do(ctx context.Context, s Store, ref Ref, cmd Command) error {
	e, err := Plan(cmd)
	if err != nil {
		return err
	}
	_, err = s.Apply(ctx, ref, e)
	return err
}
