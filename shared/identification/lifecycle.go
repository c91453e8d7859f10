package identification

import (
	"strings"
	"time"
)

// Action is something that moves a process to another status.
type Action string

// The actions of the lifecycle (docs/lifecycle.md).
const (
	ActionCancel Action = "cancel"
	ActionClose  Action = "close"
	ActionExpire Action = "expire"
)

// Rule is one row of the lifecycle table.
type Rule struct {
	// From lists the statuses the action is allowed from. For open statuses
	// the process must also not have expired (for expire: must have).
	From []Status
	// To is the status the action leads to.
	To Status
}

// Lifecycle is the transition table of docs/lifecycle.md. Delete is not a transition
// (the record goes away) and is ruled by DeleteAllowed.
var Lifecycle = map[Action]Rule{
	ActionCancel: {From: []Status{StatusCreated, StatusInProgress}, To: StatusCancelled},
	ActionClose:  {From: []Status{StatusCreated, StatusInProgress, StatusCompleted}, To: StatusClosed},
	ActionExpire: {From: []Status{StatusCreated, StatusInProgress}, To: StatusExpired},
}

// Allows reports whether the action may be applied to a process in status
// from whose expiry is expiresAt, at now.
func (a Action) Allows(from Status, expiresAt, now time.Time) bool {
	rule, ok := Lifecycle[a]
	if !ok || !contains(rule.From, from) {
		return false
	}
	expired := from.Open() && !now.Before(expiresAt)
	if a == ActionExpire {
		return expired
	}
	return !expired
}

// Refusal explains why the action is not allowed on a process found in
// status from with expiry expiresAt at now: KindExpired when it has expired
// (open past its expiry, or already EXPIRED), KindConflict naming the status
// otherwise. It is how stores classify a failed conditional write from the
// old item, without a second read. It returns nil when the action is allowed.
func (a Action) Refusal(from Status, expiresAt, now time.Time) *Error {
	if a.Allows(from, expiresAt, now) {
		return nil
	}
	if a != ActionExpire && (from == StatusExpired || (from.Open() && !now.Before(expiresAt))) {
		return Errorf(KindExpired, "identification expired at %s; %s is no longer possible",
			expiresAt.UTC().Format(time.RFC3339), a)
	}
	return Errorf(KindConflict, "identification is %s; %s is allowed from %s",
		from, a, joinStatuses(Lifecycle[a].From))
}

// DeleteAllowed reports whether a delete may remove a process in status
// from: without force only a CREATED process that has not expired; with
// force (and the force-delete permission, checked by the caller) any.
func DeleteAllowed(from Status, expiresAt, now time.Time, force bool) bool {
	if force {
		return true
	}
	return from == StatusCreated && now.Before(expiresAt)
}

// DeleteRefusal is the error for a delete that DeleteAllowed refused.
func DeleteRefusal(from Status, expiresAt, now time.Time) *Error {
	status := from
	if from.Open() && !now.Before(expiresAt) {
		status = StatusExpired
	}
	return Errorf(KindForbidden, "identification is %s; delete without force=true is allowed only from CREATED", status)
}

func contains(list []Status, s Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinStatuses(list []Status) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// String names the action.
func (a Action) String() string { return string(a) }
