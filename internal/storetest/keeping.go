package storetest

import (
	"context"
	"errors"
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
// open index and TTL are where identification.KeepingOf puts them, and an
// extend moves both, so the sweep expires the process at its new expiry,
// not the old one.
func RunKeeping(t *testing.T, newStore func(t *testing.T) Keeper) {
	t.Run("every action keeps the index and TTL in step", func(t *testing.T) { testKeptInStep(t, newStore(t)) })
	t.Run("extend moves the index and TTL", func(t *testing.T) { testExtendMoves(t, newStore(t)) })
	t.Run("extend refusals", func(t *testing.T) { testExtendRefusals(t, newStore(t)) })
	t.Run("extend races the sweep", func(t *testing.T) { testExtendRacesExpire(t, newStore(t)) })
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

func extend(s Keeper, t *testing.T, ref identification.Ref, at, to time.Time) error {
	return apply(s, t.Context(), ref, identification.Command{Action: identification.ActionExtend, At: at, By: admin, ExpiresAt: to})
}

func testExtendMoves(t *testing.T, s Keeper) {
	old, moved := Now.Add(time.Hour), Now.Add(3*time.Hour)
	i := OTP(t, "acme", identification.StatusInProgress, old)
	mustCreate(t, s, i)
	if err := extend(s, t, i.Ref(), Now, moved); err != nil {
		t.Fatalf("extend: %v", err)
	}
	got := mustGet(t, s, i.Ref())
	if !got.ExpiresAt.Equal(moved) || got.Status != identification.StatusInProgress || got.Version != 2 {
		t.Errorf("after extend: %s expires %v version %d, want IN_PROGRESS %v 2", got.Status, got.ExpiresAt, got.Version, moved)
	}
	if h := got.History; len(h) == 0 || h[len(h)-1].Action != string(identification.ActionExtend) || h[len(h)-1].BySub != admin.Sub {
		t.Errorf("history %+v does not end with the admin's extend", h)
	}
	k := checkKept(t, s, i.Ref(), "extended")
	if !k.Open || !k.OpenUntil.Equal(moved) || !k.Until.Equal(moved.Add(s.Retention())) {
		t.Errorf("extended: kept %+v, want open until %v, TTL %v", k, moved, moved.Add(s.Retention()))
	}
	// The sweep at the old expiry leaves it; at the new one expires it.
	if res := sweep.Run(t.Context(), s, s, old.Add(time.Minute), sweep.Options{}, nil); res.Expired != 0 {
		t.Errorf("the sweep past the old expiry expired %d", res.Expired)
	}
	if got := mustGet(t, s, i.Ref()); got.Status != identification.StatusInProgress {
		t.Fatalf("past the old expiry: %s, want IN_PROGRESS", got.Status)
	}
	if res := sweep.Run(t.Context(), s, s, moved, sweep.Options{}, nil); res.Expired != 1 {
		t.Errorf("the sweep at the new expiry expired %d, want 1 (%+v)", res.Expired, res)
	}
	got = mustGet(t, s, i.Ref())
	if got.Status != identification.StatusExpired || got.EndedAt == nil || !got.EndedAt.Equal(moved) {
		t.Errorf("at the new expiry: %s ended %v, want EXPIRED at %v", got.Status, got.EndedAt, moved)
	}
	k = checkKept(t, s, i.Ref(), "expired")
	if k.Open || !k.Until.Equal(moved.Add(s.Retention())) {
		t.Errorf("expired: kept %+v, want out of the index, TTL %v", k, moved.Add(s.Retention()))
	}
}

func testExtendRefusals(t *testing.T, s Keeper) {
	expiry := Now.Add(time.Hour)
	for _, c := range []struct {
		name   string
		status identification.Status
		at, to time.Time
		want   identification.Kind
	}{
		{"earlier", identification.StatusCreated, Now, Now.Add(30 * time.Minute), identification.KindConflict},
		{"the same", identification.StatusCreated, Now, expiry, identification.KindConflict},
		{"past 30 days after creation", identification.StatusInProgress, Now, Now.Add(identification.MaxExpiresIn + time.Second), identification.KindConflict},
		{"expired", identification.StatusInProgress, expiry, expiry.Add(time.Hour), identification.KindExpired},
		{"completed", identification.StatusCompleted, Now, expiry.Add(time.Hour), identification.KindConflict},
		{"closed", identification.StatusClosed, Now, expiry.Add(time.Hour), identification.KindConflict},
		{"30 days after creation exactly", identification.StatusInProgress, Now, Now.Add(identification.MaxExpiresIn), ok},
	} {
		i := OTP(t, "acme", c.status, expiry)
		i.CreatedAt = Now
		mustCreate(t, s, i)
		err := extend(s, t, i.Ref(), c.at, c.to)
		checkKind(t, c.name, err, c.want)
		if c.want != ok {
			if got := mustGet(t, s, i.Ref()); !got.ExpiresAt.Equal(expiry) || got.Version != 1 {
				t.Errorf("%s: refused extend left expiry %v version %d", c.name, got.ExpiresAt, got.Version)
			}
		}
		checkKept(t, s, i.Ref(), c.name)
	}
}

// testExtendRacesExpire: an extend just before the expiry and the sweep's
// expire just after it race; exactly one wins, and the index and TTL
// follow the winner.
func testExtendRacesExpire(t *testing.T, s Keeper) {
	for round := range 10 {
		expiry := Now.Add(time.Hour)
		i := OTP(t, "acme", identification.StatusInProgress, expiry)
		mustCreate(t, s, i)
		errs := raceN(Racers, func(n int) error {
			if n%2 == 0 {
				return extend(s, t, i.Ref(), expiry.Add(-time.Second), expiry.Add(time.Duration(n+1)*time.Minute))
			}
			return apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionExpire, At: expiry, By: identification.Caller{Kind: identification.CallerSystem}})
		})
		wins := 0
		for _, err := range errs {
			var e *identification.Error
			switch {
			case err == nil:
				wins++
			case !errors.As(err, &e) || e.Kind != identification.KindConflict && e.Kind != identification.KindExpired:
				t.Errorf("round %d: %v", round, err)
			}
		}
		got := mustGet(t, s, i.Ref())
		// Extends may follow one another (each later than the last), but
		// never after an expire, and an expire never after an extend.
		if got.Status == identification.StatusExpired && wins != 1 {
			t.Errorf("round %d: expired after %d winning writes, want 1", round, wins)
		}
		if got.Status == identification.StatusExpired && !got.EndedAt.Equal(expiry) {
			t.Errorf("round %d: expired at %v, want %v", round, got.EndedAt, expiry)
		}
		checkKept(t, s, i.Ref(), "after the race")
	}
}
