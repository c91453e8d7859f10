package identification

import (
	"testing"
	"time"
)

func TestActionRules(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	future, past := now.Add(time.Hour), now.Add(-time.Second)
	cases := []struct {
		action  Action
		from    Status
		expires time.Time
		want    Kind // 0: allowed
	}{
		{ActionCancel, StatusCreated, future, 0},
		{ActionCancel, StatusInProgress, future, 0},
		{ActionCancel, StatusCompleted, future, KindConflict},
		{ActionCancel, StatusCancelled, future, KindConflict},
		{ActionCancel, StatusClosed, future, KindConflict},
		{ActionCancel, StatusExpired, past, KindExpired},
		{ActionCancel, StatusCreated, past, KindExpired},
		{ActionCancel, StatusCreated, now, KindExpired},
		{ActionClose, StatusCreated, future, 0},
		{ActionClose, StatusInProgress, future, 0},
		{ActionClose, StatusCompleted, future, 0},
		{ActionClose, StatusCompleted, past, 0},
		{ActionClose, StatusInProgress, past, KindExpired},
		{ActionClose, StatusClosed, future, KindConflict},
		{ActionExpire, StatusCreated, past, 0},
		{ActionExpire, StatusInProgress, now, 0},
		{ActionExpire, StatusCreated, future, KindConflict},
		{ActionExpire, StatusCompleted, past, KindConflict},
		{ActionExpire, StatusCancelled, past, KindConflict},
	}
	for _, tc := range cases {
		err := tc.action.Refusal(tc.from, tc.expires, now)
		var got Kind
		if err != nil {
			got = err.Kind
		}
		if got != tc.want {
			t.Errorf("%s from %s (expires %s): got %v, want %v", tc.action, tc.from, tc.expires.Sub(now), got, tc.want)
		}
		if allowed := tc.action.Allows(tc.from, tc.expires, now); allowed != (tc.want == 0) {
			t.Errorf("%s from %s: Allows %v disagrees with Refusal %v", tc.action, tc.from, allowed, err)
		}
	}
}

func TestRefusalNamesTheStatus(t *testing.T) {
	now := time.Now()
	err := ActionClose.Refusal(StatusCancelled, now.Add(time.Hour), now)
	want := "identification is CANCELLED; close is allowed from CREATED, IN_PROGRESS, COMPLETED"
	if err == nil || err.Message != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestDeleteRules(t *testing.T) {
	now := time.Now()
	for _, s := range Statuses {
		for _, force := range []bool{false, true} {
			want := force || s == StatusCreated
			if got := DeleteAllowed(s, now.Add(time.Hour), now, force); got != want {
				t.Errorf("delete %s force=%v: got %v, want %v", s, force, got, want)
			}
		}
	}
	if DeleteAllowed(StatusCreated, now, now, false) {
		t.Error("a CREATED process at its expiry must not be deletable without force")
	}
	if err := DeleteRefusal(StatusCreated, now, now); err.Kind != KindForbidden || err.Message == "" {
		t.Errorf("got %v, want a KindForbidden naming EXPIRED", err)
	}
}

func TestAsSeenAt(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	i := &Identification{Status: StatusInProgress, ExpiresAt: now}
	got := i.AsSeenAt(now)
	if got.Status != StatusExpired || got.EndedAt == nil || !got.EndedAt.Equal(now) {
		t.Errorf("at expiry: got %s ended %v, want EXPIRED ended at expiry", got.Status, got.EndedAt)
	}
	if i.Status != StatusInProgress {
		t.Error("AsSeenAt changed the stored value")
	}
	completed := &Identification{Status: StatusCompleted, ExpiresAt: now}
	if completed.AsSeenAt(now.Add(time.Hour)).Status != StatusCompleted {
		t.Error("a COMPLETED process must not read as EXPIRED")
	}
}
