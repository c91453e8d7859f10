package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

// Keeper is a store whose bookkeeping (the open index the sweep reads, the
// TTL) the keeping contract checks: it lists the due processes as the
// sweep's source and reports each process's Keeping.
type Keeper interface {
	identification.Store
	sweep.Source
	Keeping(ctx context.Context, ref identification.Ref) (identification.Keeping, error)
	Retention() time.Duration
}

// RunKeeping runs the keeping contract: after every action the store's
// open index and TTL are where identification.KeepingOf puts them.
func RunKeeping(t *testing.T, newStore func(t *testing.T) Keeper) {
	t.Run("every action keeps the index and TTL in step", func(t *testing.T) { testKeptInStep(t, newStore(t)) })
}

// checkKept fails unless the store's bookkeeping of ref is the rule's.
func checkKept(t *testing.T, s Keeper, ref identification.Ref, what string) identification.Keeping {
	t.Helper()
	got, err := s.Keeping(t.Context(), ref)
	if err != nil {
		t.Fatalf("%s: keeping: %v", what, err)
	}
	want := identification.KeepingOf(mustGet(t, s, ref), s.Retention())
	if got.Open != want.Open || !got.OpenUntil.Equal(want.OpenUntil) || !got.Until.Equal(want.Until) {
		t.Errorf("%s: kept %+v, want %+v", what, got, want)
	}
	return got
}

func testKeptInStep(t *testing.T, s Keeper) {
	for action := range Oracles() {
		for _, status := range []identification.Status{identification.StatusCreated, identification.StatusInProgress, identification.StatusCompleted} {
			expiry := Now.Add(time.Hour)
			if action == identification.ActionExpire {
				expiry = Now
			}
			i, code, cmd := keepingFixture(t, action, status, expiry)
			mustCreateWith(t, s, i, code)
			checkKept(t, s, i.Ref(), "created "+string(status))
			if err := apply(s, t.Context(), i.Ref(), cmd); err != nil {
				continue // the oracles say where each action applies
			}
			checkKept(t, s, i.Ref(), string(action)+" from "+string(status))
		}
	}
}

// keepingFixture is flowFixture for every action of the oracles.
func keepingFixture(t *testing.T, action identification.Action, status identification.Status, expiry time.Time) (*identification.Identification, *identification.CodeMaterial, identification.Command) {
	if _, flow := flowLifecycle[action]; flow {
		return flowFixture(t, action, status, expiry)
	}
	i := OTP(t, "acme", status, expiry)
	return i, nil, identification.Command{Action: action, At: Now, By: admin, Reason: "r"}
}
