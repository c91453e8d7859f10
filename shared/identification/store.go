package identification

import (
	"context"
	"time"
)

// Store persists identifications. Every method is one round trip to the
// backing store, and every change is one conditional write: two racing
// changes to one process can never both succeed.
type Store interface {
	// Create stores a new identification with version 1. It returns
	// KindConflict if one with the same key exists, KindUnavailable when the
	// store throttles or cannot be reached.
	Create(ctx context.Context, i *Identification) error

	// Get returns the identification as stored (callers apply AsSeenAt). It
	// returns KindNotFound when there is none under ref, including when the
	// id belongs to another organisation or type.
	Get(ctx context.Context, ref Ref) (*Identification, error)

	// Transition applies ch in one conditional write that re-checks the
	// lifecycle rule (status and expiry) at ch.At and increments the version.
	// A refused write is classified from the item as it was, without a
	// second read: KindNotFound, KindExpired or KindConflict (see
	// Action.Refusal).
	Transition(ctx context.Context, ref Ref, ch Change) error

	// Delete removes the identification in one conditional write. Without
	// force only a CREATED process that has not expired at now may go
	// (KindForbidden otherwise); a missing one is KindNotFound. The caller
	// checks the force-delete permission.
	Delete(ctx context.Context, ref Ref, force bool, now time.Time) error
}

// Change is one lifecycle transition requested of a Store.
type Change struct {
	Action    Action
	At        time.Time
	Reason    string
	UserAgent string
}
