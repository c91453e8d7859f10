// Package storetest is the contract every identification.Store must meet:
// the round trip, the error kinds each method documents, the lifecycle
// table applied by conditional writes (with refusals classified as
// NotFound, Expired or Conflict), the version rule, the delete rules,
// tenant isolation and exactly one winner among racing writers. The DynamoDB
// store runs it on both local engines, and so does every stand-in that
// re-implements conditional writes (package memstore).
//
// The expectations are written out by hand from docs/lifecycle.md, not computed from
// the domain's rules, so that a store built on those rules is still checked
// against the specification.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idadmin/api/shared/identification"
)

// Now is the time the suite's changes happen at; stored times are whole
// seconds in UTC, as the service produces them.
var Now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// Racers is how many goroutines race for one process.
const Racers = 32

// Run runs the contract against stores made by newStore. newStore is
// called once per group of subtests; each subtest uses fresh ids, so a
// store may be shared by the subtests of a group.
func Run(t *testing.T, newStore func(t *testing.T) identification.Store) {
	t.Run("create and get", func(t *testing.T) { testCreateGet(t, newStore(t)) })
	t.Run("copies", func(t *testing.T) { testCopies(t, newStore(t)) })
	t.Run("transitions", func(t *testing.T) { testTransitions(t, newStore(t)) })
	t.Run("applied transition", func(t *testing.T) { testAppliedTransition(t, newStore(t)) })
	t.Run("delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("isolation", func(t *testing.T) { testIsolation(t, newStore(t)) })
	t.Run("race", func(t *testing.T) { testRace(t, newStore(t)) })
}

// OTP returns an OTP identification of org with every optional field set,
// in status, expiring at expiresAt.
func OTP(t testing.TB, org string, status identification.Status, expiresAt time.Time) *identification.Identification {
	t.Helper()
	i := base(t, org, identification.TypeOTP, status, expiresAt)
	i.TwoFactorType = "DOCUMENT_NUMBER"
	i.Channel = &identification.Channel{Type: "SMS", External: true}
	return i
}

// Chain returns a chain identification of org with three steps, in
// status, expiring at expiresAt.
func Chain(t testing.TB, org string, status identification.Status, expiresAt time.Time) *identification.Identification {
	t.Helper()
	i := base(t, org, identification.TypeChain, status, expiresAt)
	i.Sequence = []identification.Step{
		{IdentificationType: "OTP", Status: "PENDING", OTPStep: &identification.OTPStep{TwoFactorType: "EMAIL", Channel: &identification.Channel{Type: "EMAIL"}}},
		{IdentificationType: "AGENT", Status: "PENDING"},
		{IdentificationType: "IDENTITY_DOCUMENT", Status: "PENDING", IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "EXTERNAL"}},
	}
	i.CreatedUserAgent = "storetest/1"
	i.SyncSteps()
	return i
}

func base(t testing.TB, org string, typ identification.Type, status identification.Status, expiresAt time.Time) *identification.Identification {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("new id: %v", err)
	}
	created := Now.Add(-time.Hour)
	i := &identification.Identification{
		ID: id.String(), OrgID: org, Type: typ, Status: status,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: expiresAt,
		Actor: identification.Actor{
			Name: "James", LastName: "Smith", Email: "j@example.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF", Country: "ES"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"},
		},
		Version: 1,
	}
	if status == identification.StatusFailed {
		i.FailureReason = identification.FailureMaxAttempts
	}
	if status == identification.StatusCompleted {
		done := created.Add(time.Minute)
		i.CompletedAt = &done
	}
	if status.Final() {
		ended := created.Add(time.Minute)
		i.EndedAt = &ended
		i.UpdatedAt = ended
	}
	return i
}

func mustCreate(t *testing.T, s identification.Store, i *identification.Identification) {
	t.Helper()
	if err := s.Create(t.Context(), i, nil); err != nil {
		t.Fatalf("create %s %s: %v", i.Type, i.Status, err)
	}
}

func mustGet(t *testing.T, s identification.Store, ref identification.Ref) *identification.Identification {
	t.Helper()
	got, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("get %+v: %v", ref, err)
	}
	return got
}

// checkKind fails unless err is nil when want is 0, or of kind want.
func checkKind(t *testing.T, what string, err error, want identification.Kind) {
	t.Helper()
	if got := identification.KindOf(err); got != want || (want == 0 && err != nil) {
		t.Errorf("%s: got %v (kind %v), want kind %v", what, err, got, want)
	}
}

func testCreateGet(t *testing.T, s identification.Store) {
	for _, want := range []*identification.Identification{
		OTP(t, "acme", identification.StatusCreated, Now.Add(time.Hour)),
		Chain(t, "acme", identification.StatusCreated, Now.Add(time.Hour)),
		Chain(t, "acme", identification.StatusCancelled, Now.Add(time.Hour)),
	} {
		mustCreate(t, s, want)
		if got := mustGet(t, s, want.Ref()); !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %s %s:\n got %+v\nwant %+v", want.Type, want.Status, got, want)
		}
		dup := *want
		dup.Status = identification.StatusInProgress
		checkKind(t, "second create with the same key", s.Create(t.Context(), &dup, nil), identification.KindConflict)
		if got := mustGet(t, s, want.Ref()); got.Status != want.Status {
			t.Errorf("after refused create: status %s, want %s", got.Status, want.Status)
		}
	}
	_, err := s.Get(t.Context(), identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: uuid.NewString()})
	checkKind(t, "get of an unknown id", err, identification.KindNotFound)
}

// testCopies proves the store keeps its own copy: changing what was passed
// to Create, or what Get returned, changes nothing stored.
func testCopies(t *testing.T, s identification.Store) {
	in := Chain(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
	want := Chain(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
	want.ID = in.ID
	mustCreate(t, s, in)
	in.Actor.Name = "changed"
	in.Actor.MSISDN.PhoneNumber = "1"
	in.Sequence[0].OTPStep.Channel.Type = "SMS"

	got := mustGet(t, s, want.Ref())
	got.Actor.IdentityDocument.DocumentNumber = "X"
	got.Sequence[2].IdentityDocumentStep.ProviderType = "INTERNAL"
	got.Status = identification.StatusClosed

	if again := mustGet(t, s, want.Ref()); !reflect.DeepEqual(again, want) {
		t.Errorf("stored value changed through a caller's copy:\n got %+v\nwant %+v", again, want)
	}
}

// outcome is what an action does to a process in one status: on a live
// process (expiry still ahead) and on a due one (expiry reached exactly).
type outcome struct{ live, due identification.Kind }

const (
	ok       = identification.Kind(0)
	expired  = identification.KindExpired
	conflict = identification.KindConflict
)

// lifecycle is the table of docs/lifecycle.md, written out for every status.
var lifecycle = map[identification.Action]map[identification.Status]outcome{
	identification.ActionCancel: {
		identification.StatusCreated:    {ok, expired},
		identification.StatusInProgress: {ok, expired},
		identification.StatusCompleted:  {conflict, conflict},
		identification.StatusFailed:     {expired, expired},
		identification.StatusCancelled:  {conflict, conflict},
		identification.StatusClosed:     {conflict, conflict},
		identification.StatusExpired:    {expired, expired},
	},
	identification.ActionClose: {
		identification.StatusCreated:    {ok, expired},
		identification.StatusInProgress: {ok, expired},
		identification.StatusCompleted:  {ok, ok},
		identification.StatusFailed:     {expired, expired},
		identification.StatusCancelled:  {conflict, conflict},
		identification.StatusClosed:     {conflict, conflict},
		identification.StatusExpired:    {expired, expired},
	},
	identification.ActionExpire: {
		identification.StatusCreated:    {conflict, ok},
		identification.StatusInProgress: {conflict, ok},
		identification.StatusCompleted:  {conflict, conflict},
		identification.StatusFailed:     {conflict, conflict},
		identification.StatusCancelled:  {conflict, conflict},
		identification.StatusClosed:     {conflict, conflict},
		identification.StatusExpired:    {conflict, conflict},
	},
}

// testTransitions applies every action to every status, live and due, and
// to a missing process: the write is applied (version +1) or refused with
// the documented kind, leaving the process as it was.
func testTransitions(t *testing.T, s identification.Store) {
	for _, action := range []identification.Action{identification.ActionCancel, identification.ActionClose, identification.ActionExpire} {
		t.Run(string(action), func(t *testing.T) {
			err := apply(s, t.Context(), identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: uuid.NewString()},
				identification.Command{Action: action, At: Now})
			checkKind(t, "missing", err, identification.KindNotFound)
			for _, status := range identification.Statuses {
				want := lifecycle[action][status]
				for _, c := range []struct {
					name   string
					expiry time.Time
					want   identification.Kind
				}{
					{"live", Now.Add(time.Second), want.live},
					{"due", Now, want.due},
				} {
					i := OTP(t, "acme", status, c.expiry)
					mustCreate(t, s, i)
					err := apply(s, t.Context(), i.Ref(), identification.Command{Action: action, At: Now, Reason: "r"})
					checkKind(t, string(status)+" "+c.name, err, c.want)
					got := mustGet(t, s, i.Ref())
					switch {
					case c.want != ok && (got.Status != status || got.Version != 1):
						t.Errorf("%s %s: refused write left status %s version %d, want %s 1", status, c.name, got.Status, got.Version, status)
					case c.want == ok && (got.Status != identification.Lifecycle[action].To || got.Version != 2):
						t.Errorf("%s %s: applied write left status %s version %d, want %s 2", status, c.name, got.Status, got.Version, identification.Lifecycle[action].To)
					}
				}
			}
		})
	}
}

// testAppliedTransition checks what an applied transition records, and
// that the version goes up by one with each change.
func testAppliedTransition(t *testing.T, s identification.Store) {
	at := Now.Add(time.Minute)
	t.Run("cancel", func(t *testing.T) {
		i := Chain(t, "acme", identification.StatusInProgress, Now.Add(time.Hour))
		mustCreate(t, s, i)
		if err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionCancel, At: at, Reason: "customer asked", By: identification.Caller{UserAgent: "ua/1"}}); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		want := *i
		want.Status, want.UpdatedAt, want.EndedAt, want.Version = identification.StatusCancelled, at, &at, 2
		want.CancelReason, want.EndedUserAgent = "customer asked", "ua/1"
		want.History = []identification.HistoryEntry{{At: at, Action: "cancel", To: identification.StatusCancelled, Reason: "customer asked"}}
		if got := mustGet(t, s, i.Ref()); !reflect.DeepEqual(got, &want) {
			t.Errorf("after cancel:\n got %+v\nwant %+v", got, &want)
		}
		err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionCancel, At: at})
		checkKind(t, "second cancel", err, identification.KindConflict)
	})
	t.Run("close then expire", func(t *testing.T) {
		i := OTP(t, "acme", identification.StatusCompleted, Now.Add(-time.Hour))
		mustCreate(t, s, i)
		if err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionClose, At: at}); err != nil {
			t.Fatalf("close: %v", err)
		}
		got := mustGet(t, s, i.Ref())
		if got.Status != identification.StatusClosed || got.Version != 2 || got.EndedAt == nil || !got.EndedAt.Equal(at) || got.CancelReason != "" {
			t.Errorf("after close: %s version %d ended %v reason %q, want CLOSED 2 %v \"\"", got.Status, got.Version, got.EndedAt, got.CancelReason, at)
		}
		err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionExpire, At: at})
		checkKind(t, "expire after close", err, identification.KindConflict)
	})
	t.Run("expire", func(t *testing.T) {
		expiry := Now.Add(-time.Hour)
		i := OTP(t, "acme", identification.StatusCreated, expiry)
		mustCreate(t, s, i)
		if err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionExpire, At: at}); err != nil {
			t.Fatalf("expire: %v", err)
		}
		got := mustGet(t, s, i.Ref())
		if got.Status != identification.StatusExpired || got.Version != 2 || got.EndedAt == nil || !got.EndedAt.Equal(expiry) || !got.UpdatedAt.Equal(at) {
			t.Errorf("after expire: %s version %d ended %v updated %v, want EXPIRED 2, ended at the expiry %v, updated %v",
				got.Status, got.Version, got.EndedAt, got.UpdatedAt, expiry, at)
		}
		err := apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionExpire, At: at})
		checkKind(t, "second expire", err, identification.KindConflict)
		err = apply(s, t.Context(), i.Ref(), identification.Command{Action: identification.ActionCancel, At: at})
		checkKind(t, "cancel after expire", err, identification.KindExpired)
	})
}

// testDelete checks the delete rules: without force only a live CREATED
// process goes; with force any; a missing one is KindNotFound.
func testDelete(t *testing.T, s identification.Store) {
	for _, status := range identification.Statuses {
		for _, c := range []struct {
			name   string
			expiry time.Time
		}{{"live", Now.Add(time.Second)}, {"due", Now}} {
			want := identification.KindForbidden
			if status == identification.StatusCreated && c.name == "live" {
				want = ok
			}
			i := OTP(t, "acme", status, c.expiry)
			mustCreate(t, s, i)
			checkKind(t, "delete "+string(status)+" "+c.name, s.Delete(t.Context(), i.Ref(), false, admin, Now), want)
			if want == ok {
				_, err := s.Get(t.Context(), i.Ref())
				checkKind(t, "get after delete", err, identification.KindNotFound)
				checkKind(t, "second delete", s.Delete(t.Context(), i.Ref(), false, admin, Now), identification.KindNotFound)
				continue
			}
			if got := mustGet(t, s, i.Ref()); got.Status != status || got.Version != 1 {
				t.Errorf("refused delete of %s %s left %s version %d", status, c.name, got.Status, got.Version)
			}
			checkKind(t, "forced delete "+string(status)+" "+c.name, s.Delete(t.Context(), i.Ref(), true, admin, Now), ok)
			_, err := s.Get(t.Context(), i.Ref())
			checkKind(t, "get after forced delete", err, identification.KindNotFound)
		}
	}
	missing := identification.Ref{Org: "acme", Type: identification.TypeChain, ID: uuid.NewString()}
	checkKind(t, "forced delete of a missing one", s.Delete(t.Context(), missing, true, admin, Now), identification.KindNotFound)

	due := OTP(t, "acme", identification.StatusCreated, Now)
	mustCreate(t, s, due)
	var de *identification.Error
	const wantMsg = "identification is EXPIRED; delete without force=true is allowed only from CREATED"
	if err := s.Delete(t.Context(), due.Ref(), false, admin, Now); !errors.As(err, &de) || de.Message != wantMsg {
		t.Errorf("refusal of a due process: got %v, want the message %q", err, wantMsg)
	}
}

// testIsolation: the organisation and the type are part of every key.
func testIsolation(t *testing.T, s identification.Store) {
	i := OTP(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
	mustCreate(t, s, i)
	for _, ref := range []identification.Ref{
		{Org: "acme2", Type: i.Type, ID: i.ID},
		{Org: "acm", Type: i.Type, ID: i.ID},
		{Org: "acme", Type: identification.TypeChain, ID: i.ID},
	} {
		_, err := s.Get(t.Context(), ref)
		checkKind(t, "get as another org or type", err, identification.KindNotFound)
		err = apply(s, t.Context(), ref, identification.Command{Action: identification.ActionCancel, At: Now, Reason: "r"})
		checkKind(t, "cancel as another org or type", err, identification.KindNotFound)
		checkKind(t, "forced delete as another org or type", s.Delete(t.Context(), ref, true, admin, Now), identification.KindNotFound)
	}
	if got := mustGet(t, s, i.Ref()); got.Status != identification.StatusCreated || got.Version != 1 {
		t.Errorf("after actions in other tenants: %s version %d, want CREATED 1", got.Status, got.Version)
	}
}

// testRace runs Racers goroutines against one process: for creates with one
// key, for cancel against close, and for a delete against transitions.
// Exactly one wins each time, and the record shows the winner's outcome.
func testRace(t *testing.T, s identification.Store) {
	t.Run("create", func(t *testing.T) {
		i := OTP(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
		errs := race(func(n int) error {
			c := *i
			c.Actor.Name = string(rune('A' + n%26))
			return s.Create(context.Background(), &c, nil)
		})
		winner := oneWinner(t, errs, identification.KindConflict)
		if got := mustGet(t, s, i.Ref()); winner >= 0 && got.Actor.Name != string(rune('A'+winner%26)) {
			t.Errorf("stored actor %q, want the winner's %q", got.Actor.Name, string(rune('A'+winner%26)))
		}
	})
	t.Run("cancel and close", func(t *testing.T) {
		i := OTP(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
		mustCreate(t, s, i)
		actions := []identification.Action{identification.ActionCancel, identification.ActionClose}
		errs := race(func(n int) error {
			return apply(s, context.Background(), i.Ref(), identification.Command{Action: actions[n%2], At: Now, Reason: "race"})
		})
		winner := oneWinner(t, errs, identification.KindConflict)
		got := mustGet(t, s, i.Ref())
		if winner >= 0 && (got.Status != identification.Lifecycle[actions[winner%2]].To || got.Version != 2) {
			t.Errorf("after the race: %s version %d, want the winner's %s version 2", got.Status, got.Version, identification.Lifecycle[actions[winner%2]].To)
		}
	})
	t.Run("delete and cancel", func(t *testing.T) {
		i := OTP(t, "acme", identification.StatusCreated, Now.Add(time.Hour))
		mustCreate(t, s, i)
		errs := race(func(n int) error {
			if n%2 == 0 {
				return s.Delete(context.Background(), i.Ref(), false, admin, Now)
			}
			return apply(s, context.Background(), i.Ref(), identification.Command{Action: identification.ActionCancel, At: Now, Reason: "race"})
		})
		var wins []int
		for n, err := range errs {
			if err == nil {
				wins = append(wins, n)
				continue
			}
			// A loser finds the process gone (after the delete), cancelled
			// (a cancel after the cancel) or not deletable (a delete after it).
			switch identification.KindOf(err) {
			case identification.KindNotFound, identification.KindConflict, identification.KindForbidden:
			default:
				t.Errorf("racer %d: %v, want NotFound, Conflict or Forbidden", n, err)
			}
		}
		if len(wins) != 1 {
			t.Fatalf("winners: %v, want exactly one", wins)
		}
		_, err := s.Get(t.Context(), i.Ref())
		if wins[0]%2 == 0 {
			checkKind(t, "get after the delete won", err, identification.KindNotFound)
		} else {
			checkKind(t, "get after the cancel won", err, ok)
		}
	})
}

// admin is the caller of the suite's deletes.
var admin = identification.Caller{Kind: identification.CallerAdmin, Sub: "storetest-admin"}

// apply plans cmd and has s apply it, returning the store's error.
func apply(s identification.Store, ctx context.Context, ref identification.Ref, cmd identification.Command) error {
	e, err := identification.Plan(cmd)
	if err != nil {
		return err
	}
	_, err = s.Apply(ctx, ref, e)
	return err
}

// race runs fn in Racers goroutines released at once and returns their errors.
func race(fn func(n int) error) []error { return raceN(Racers, fn) }

// oneWinner checks that exactly one error is nil and every other is of
// kind loser; it returns the winner's index, or -1.
func oneWinner(t *testing.T, errs []error, loser identification.Kind) int {
	t.Helper()
	winner := -1
	wins := 0
	for n, err := range errs {
		switch {
		case err == nil:
			winner = n
			wins++
		case identification.KindOf(err) != loser:
			t.Errorf("racer %d: %v, want kind %v", n, err, loser)
		}
	}
	if wins != 1 {
		t.Errorf("winners: %d of %d, want exactly 1", wins, len(errs))
		return -1
	}
	return winner
}
