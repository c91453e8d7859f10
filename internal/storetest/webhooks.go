package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// RunWebhooks runs the contract every webhooks.Store must meet: the round
// trip of an endpoint and its sealed secrets, the per-organisation limit
// held by registrations at once, tenant isolation on every method, the
// version rule of a change, secret rotation, the sender's bookkeeping
// (Failing, Succeeded, Disable), the deliveries log and deletion.
//
// As for Run, the expectations are written out by hand from the port's
// doc comments (shared/webhooks/store.go) and docs/webhooks.md, not
// computed from a store, so that the in-memory stand-in the handler tests
// trust is held to what the DynamoDB store is held to. newStore is called
// once per subtest.
func RunWebhooks(t *testing.T, newStore func(t *testing.T) webhooks.Store) {
	t.Run("register and read", func(t *testing.T) { testHookRegister(t, newStore(t)) })
	t.Run("copies", func(t *testing.T) { testHookCopies(t, newStore(t)) })
	t.Run("registrations at once stop at the limit", func(t *testing.T) { testHookLimitRace(t, newStore(t)) })
	t.Run("deletions at once free one place", func(t *testing.T) { testHookDeleteRace(t, newStore(t)) })
	t.Run("isolation", func(t *testing.T) { testHookIsolation(t, newStore(t)) })
	t.Run("update", func(t *testing.T) { testHookUpdate(t, newStore(t)) })
	t.Run("secret rotation", func(t *testing.T) { testHookRotation(t, newStore(t)) })
	t.Run("failing, succeeded, disable", func(t *testing.T) { testHookFailing(t, newStore(t)) })
	t.Run("deliveries log", func(t *testing.T) { testHookDeliveries(t, newStore(t)) })
	t.Run("delete", func(t *testing.T) { testHookDelete(t, newStore(t)) })
}

// The reasons an endpoint is DISABLED with, as docs/webhooks.md shows
// them: the organisation's own, and the sender's after three days of
// failures.
const (
	disabledByOrganisation = "disabled by the organisation"
	disabledForFailing     = "every delivery failed for 72 hours"
)

// maxEndpoints is how many endpoints an organisation may have: a
// registration past 10 is a 409 (docs/webhooks.md, "Register an
// endpoint").
const maxEndpoints = 10

// rotationGrace is how long a rotated secret keeps signing: 24 hours
// (docs/webhooks.md, "Rotate the secret").
const rotationGrace = 24 * time.Hour

// hookEndpoint is an endpoint of org registered at at, as the service
// registers one: ENABLED, version 1, with its sealed secret (any string
// will do: a store never opens it).
func hookEndpoint(org, id string, at time.Time) webhooks.Stored {
	return webhooks.Stored{Endpoint: &webhooks.Endpoint{
		ID: id, OrgID: org, URL: "https://hooks.example.com/" + org + "/" + id,
		Events:      []string{"identification.completed", "identification.failed"},
		Description: "endpoint " + id, Status: webhooks.StatusEnabled, CreatedAt: at, UpdatedAt: at, Version: 1,
	}, Secret: "sealed:" + org + "/" + id + "/1"}
}

// hookDelivery is the delivery to endpoint of org's k-th event (k from
// 0), its first attempt failed and the next one due an hour later, with
// that event. The events are a minute apart and not on whole seconds, as
// the stream's are; the delivery's own times are whole seconds, as the
// sender writes them.
func hookDelivery(org, endpoint string, k int) (webhooks.Delivery, identification.Event) {
	ev := identification.Event{
		DetailType: "identification.step.completed", OrgID: org, ID: "p" + strconv.Itoa(k%3),
		Type: identification.TypeChain, Status: identification.StatusInProgress, Previous: identification.StatusCreated,
		Step:     &identification.StepRef{Position: k % 2, Type: "OTP", Status: "COMPLETED"},
		Evidence: identification.EvidenceSelfie, Version: int64(k + 1),
		At: Now.Add(time.Duration(k)*time.Minute + 123456789*time.Nanosecond),
	}
	next := Now.Add(time.Hour)
	return webhooks.Delivery{
		ID: webhooks.DeliveryID(endpoint, ev), EndpointID: endpoint, OrgID: org, EventType: ev.DetailType,
		IdentificationID: ev.ID, Version: ev.Version, Status: webhooks.DeliveryPending, Attempts: 1,
		LastStatusCode: 500, LastError: "status 500", NextAttemptAt: &next, At: ev.At.Truncate(time.Second),
		Sandbox: k%4 == 0,
	}, ev
}

func mustRegister(t *testing.T, s webhooks.Store, st webhooks.Stored) {
	t.Helper()
	if err := s.CreateEndpoint(t.Context(), st); err != nil {
		t.Fatalf("CreateEndpoint %s/%s: %v", st.Endpoint.OrgID, st.Endpoint.ID, err)
	}
}

func mustEndpoint(t *testing.T, s webhooks.Store, org, id string) webhooks.Stored {
	t.Helper()
	st, err := s.Endpoint(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Endpoint %s/%s: %v", org, id, err)
	}
	return st
}

func mustSaveDelivery(t *testing.T, s webhooks.Store, d webhooks.Delivery, ev identification.Event) {
	t.Helper()
	if err := s.SaveDelivery(t.Context(), d, ev); err != nil {
		t.Fatalf("SaveDelivery %s: %v", d.ID, err)
	}
}

// checkEndpoints fails unless Endpoints lists exactly ids for org, in
// that order, each of them org's.
func checkEndpoints(t *testing.T, s webhooks.Store, org string, ids ...string) {
	t.Helper()
	list, err := s.Endpoints(t.Context(), org)
	if err != nil {
		t.Fatalf("Endpoints %s: %v", org, err)
	}
	got := []string{}
	for _, e := range list {
		got = append(got, e.ID)
		if e.OrgID != org {
			t.Errorf("Endpoints %s lists %s of %s", org, e.ID, e.OrgID)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("Endpoints %s = %v, want %v", org, got, ids)
	}
}

// checkStored fails unless the endpoint reads as want.
func checkStored(t *testing.T, s webhooks.Store, what string, want webhooks.Stored) {
	t.Helper()
	if got := mustEndpoint(t, s, want.Endpoint.OrgID, want.Endpoint.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: endpoint reads\n %s\nwant\n %s", what, showStored(got), showStored(want))
	}
}

// checkEndpoint fails unless got, an endpoint a method returned, is want,
// and the endpoint reads so too.
func checkEndpoint(t *testing.T, s webhooks.Store, what string, got *webhooks.Endpoint, want webhooks.Endpoint) {
	t.Helper()
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("%s returned\n %s\nwant\n %s", what, showEndpoint(got), showEndpoint(&want))
	}
	if read := mustEndpoint(t, s, want.OrgID, want.ID).Endpoint; !reflect.DeepEqual(read, &want) {
		t.Errorf("after %s the endpoint reads\n %s\nwant\n %s", what, showEndpoint(read), showEndpoint(&want))
	}
}

// showEndpoint prints e with its FailingSince's time, not its address.
func showEndpoint(e *webhooks.Endpoint) string {
	if e == nil {
		return "<nil>"
	}
	failing := "nil"
	if e.FailingSince != nil {
		failing = e.FailingSince.String()
	}
	c := *e
	c.FailingSince = nil
	return fmt.Sprintf("%+v failing since %s", c, failing)
}

func showStored(s webhooks.Stored) string {
	return fmt.Sprintf("%s secret %q previous %q until %v", showEndpoint(s.Endpoint), s.Secret, s.PreviousSecret, s.PreviousUntil)
}

// timePtr is a pointer to t, for FailingSince and the delivery times.
func timePtr(t time.Time) *time.Time { return &t }

// testHookRegister: a registration reads back whole, at version 1 whatever
// the caller left in Version; an id taken is KindConflict and changes
// nothing; the same id in another organisation is another endpoint; the
// listing is oldest first, whatever order the registrations came in.
func testHookRegister(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	e1 := hookEndpoint("acme", "e1", Now)
	mustRegister(t, s, e1)
	checkStored(t, s, "after the registration", hookEndpoint("acme", "e1", Now))

	unset := hookEndpoint("acme", "e2", Now.Add(time.Second))
	unset.Endpoint.Version = 0
	mustRegister(t, s, unset)
	checkStored(t, s, "registered with no version", hookEndpoint("acme", "e2", Now.Add(time.Second)))

	taken := hookEndpoint("acme", "e1", Now.Add(time.Minute))
	taken.Endpoint.URL, taken.Secret = "https://other.example.com/", "sealed:other"
	checkKind(t, "registering an id taken", s.CreateEndpoint(ctx, taken), identification.KindConflict)
	checkStored(t, s, "after registering its id again", hookEndpoint("acme", "e1", Now))

	mustRegister(t, s, hookEndpoint("globex", "e1", Now.Add(time.Hour)))
	checkStored(t, s, "the same id in another organisation", hookEndpoint("globex", "e1", Now.Add(time.Hour)))
	checkStored(t, s, "acme's, after globex registered its id", hookEndpoint("acme", "e1", Now))

	_, err := s.Endpoint(ctx, "acme", "e9")
	checkKind(t, "reading an unknown id", err, identification.KindNotFound)

	// Registered last but oldest, and registered before e1 but newest.
	mustRegister(t, s, hookEndpoint("acme", "late", Now.Add(time.Hour)))
	mustRegister(t, s, hookEndpoint("acme", "early", Now.Add(-time.Hour)))
	checkEndpoints(t, s, "acme", "early", "e1", "e2", "late")
	checkEndpoints(t, s, "globex", "e1")
	checkEndpoints(t, s, "initech")

	// The listing holds the endpoints whole.
	list, err := s.Endpoints(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if want := hookEndpoint("acme", "e1", Now).Endpoint; len(list) != 4 || !reflect.DeepEqual(list[1], want) {
		var got []string
		for _, e := range list {
			got = append(got, showEndpoint(e))
		}
		t.Errorf("Endpoints lists\n %s\nwant e1 second as\n %s", strings.Join(got, "\n "), showEndpoint(want))
	}
}

// testHookCopies proves the store keeps its own copy: changing what was
// given to it, or what it returned, changes nothing stored.
func testHookCopies(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	in := hookEndpoint("acme", "e1", Now)
	mustRegister(t, s, in)
	in.Endpoint.URL = "https://changed.example.com/"
	in.Endpoint.Events[0] = "identification.created"

	got := mustEndpoint(t, s, "acme", "e1")
	got.Endpoint.Events[1] = "identification.created"
	got.Endpoint.Description = "changed"
	list, err := s.Endpoints(ctx, "acme")
	if err != nil || len(list) != 1 {
		t.Fatalf("Endpoints = %v, %v", list, err)
	}
	list[0].Events[0] = "identification.created"
	checkStored(t, s, "after changing what went in and came out", hookEndpoint("acme", "e1", Now))

	events := []string{"identification.expired"}
	updated, err := s.UpdateEndpoint(ctx, "acme", "e1", webhooks.Change{Events: events}, Now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	events[0] = "identification.created"
	updated.Events[0] = "identification.created"
	failing, err := s.Failing(ctx, "acme", "e1", Now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	*failing.FailingSince = Now.Add(time.Hour)
	want := hookEndpoint("acme", "e1", Now)
	want.Endpoint.Events, want.Endpoint.Version, want.Endpoint.UpdatedAt = []string{"identification.expired"}, 2, Now.Add(time.Minute)
	want.Endpoint.FailingSince = timePtr(Now.Add(2 * time.Minute))
	checkStored(t, s, "after changing what a change took and returned", want)

	d, ev := hookDelivery("acme", "e1", 0)
	wantD, wantE := hookDelivery("acme", "e1", 0)
	mustSaveDelivery(t, s, d, ev)
	*d.NextAttemptAt = Now.Add(5 * time.Hour)
	ev.Step.Position = 9
	gotD, gotE, err := s.Delivery(ctx, "acme", "e1", wantD.ID)
	if err != nil {
		t.Fatal(err)
	}
	*gotD.NextAttemptAt = Now.Add(6 * time.Hour)
	gotE.Step.Status = "FAILED"
	page, _, err := s.Deliveries(ctx, "acme", "e1", 10, "")
	if err != nil || len(page) != 1 {
		t.Fatalf("Deliveries = %v, %v", page, err)
	}
	*page[0].NextAttemptAt = Now.Add(7 * time.Hour)

	gotD, gotE, err = s.Delivery(ctx, "acme", "e1", wantD.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotD, wantD) || gotD.NextAttemptAt == nil || !gotD.NextAttemptAt.Equal(Now.Add(time.Hour)) {
		t.Errorf("the delivery changed through a caller's copy: %+v, want %+v", gotD, wantD)
	}
	if gotE.Step == nil || *gotE.Step != *wantE.Step {
		t.Errorf("the delivered event's step changed through a caller's copy: %+v, want %+v", gotE.Step, wantE.Step)
	}
}

// testHookLimitRace: three times the limit of registrations of one
// organisation at once: exactly the limit are stored and the rest are
// KindConflict (the count is kept in the same write as the endpoint, not
// read first). Afterwards a deletion frees one place, once, and an id
// taken is refused without taking a place.
func testHookLimitRace(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	id := func(n int) string { return fmt.Sprintf("e%02d", n) }
	errs := raceN(3*maxEndpoints, func(n int) error {
		return s.CreateEndpoint(context.Background(), hookEndpoint("acme", id(n), Now.Add(time.Duration(n)*time.Second)))
	})
	var won []string
	for n, err := range errs {
		switch {
		case err == nil:
			won = append(won, id(n))
		case identification.KindOf(err) != identification.KindConflict:
			t.Errorf("registration %s: %v, want nil or kind %v", id(n), err, identification.KindConflict)
		}
	}
	if len(won) != maxEndpoints {
		t.Fatalf("%d registrations at once: %d stored (%v), want %d", 3*maxEndpoints, len(won), won, maxEndpoints)
	}
	// The ids are numbered in the order of their registration times, so
	// the winners in the order of n are the listing's oldest first.
	checkEndpoints(t, s, "acme", won...)
	for _, w := range won {
		n, _ := strconv.Atoi(w[1:])
		checkStored(t, s, "a winner", hookEndpoint("acme", w, Now.Add(time.Duration(n)*time.Second)))
	}

	err := s.CreateEndpoint(ctx, hookEndpoint("acme", "late-0", Now.Add(time.Hour)))
	checkKind(t, "an 11th registration", err, identification.KindConflict)
	// Another organisation has places of its own.
	mustRegister(t, s, hookEndpoint("globex", "late-0", Now))

	if err := s.DeleteEndpoint(ctx, "acme", won[3]); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	checkKind(t, "deleting it again", s.DeleteEndpoint(ctx, "acme", won[3]), identification.KindNotFound)
	checkKind(t, "registering an id taken", s.CreateEndpoint(ctx, hookEndpoint("acme", won[0], Now)), identification.KindConflict)
	mustRegister(t, s, hookEndpoint("acme", "late-1", Now.Add(time.Hour)))
	err = s.CreateEndpoint(ctx, hookEndpoint("acme", "late-2", Now.Add(time.Hour)))
	checkKind(t, "a registration after the freed place was taken", err, identification.KindConflict)
	checkEndpoints(t, s, "acme", slices.Concat(won[:3], won[4:], []string{"late-1"})...)
	checkEndpoints(t, s, "globex", "late-0")
}

// testHookDeleteRace: Racers deletions of one endpoint at once: exactly
// one succeeds, the rest are KindNotFound, and the organisation's count
// goes down by one only.
func testHookDeleteRace(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	for n := range maxEndpoints {
		mustRegister(t, s, hookEndpoint("acme", fmt.Sprintf("e%02d", n), Now.Add(time.Duration(n)*time.Second)))
	}
	errs := race(func(int) error { return s.DeleteEndpoint(context.Background(), "acme", "e03") })
	oneWinner(t, errs, identification.KindNotFound)
	_, err := s.Endpoint(ctx, "acme", "e03")
	checkKind(t, "reading it after the deletions", err, identification.KindNotFound)
	mustRegister(t, s, hookEndpoint("acme", "new-1", Now.Add(time.Hour)))
	err = s.CreateEndpoint(ctx, hookEndpoint("acme", "new-2", Now.Add(time.Hour)))
	checkKind(t, "a second registration into the one freed place", err, identification.KindConflict)
}

// testHookIsolation: an organisation reaches none of another's endpoints
// or deliveries, by any method: each is KindNotFound, or for the sender's
// bookkeeping (Succeeded, Disable) no error and no effect. None of its
// attempts changes the endpoint, or either organisation's count; and an
// endpoint's log is its own, not its organisation's.
func testHookIsolation(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	t0 := Now.Add(time.Minute)
	mustRegister(t, s, hookEndpoint("acme", "a1", Now))
	mustRegister(t, s, hookEndpoint("acme", "a2", Now.Add(time.Second)))
	mustRegister(t, s, hookEndpoint("globex", "g1", Now))
	// a1 is failing, so that a Succeeded or a Disable reaching it would
	// show.
	if _, err := s.Failing(ctx, "acme", "a1", t0); err != nil {
		t.Fatal(err)
	}
	d, ev := hookDelivery("acme", "a1", 0)
	mustSaveDelivery(t, s, d, ev)
	want := hookEndpoint("acme", "a1", Now)
	want.Endpoint.FailingSince = timePtr(t0)
	checkStored(t, s, "before", want)

	for _, org := range []string{"globex", "acm", "acme2"} {
		_, err := s.Endpoint(ctx, org, "a1")
		checkKind(t, org+": Endpoint", err, identification.KindNotFound)
		url := "https://evil.example.com/"
		_, err = s.UpdateEndpoint(ctx, org, "a1", webhooks.Change{URL: &url}, t0)
		checkKind(t, org+": UpdateEndpoint", err, identification.KindNotFound)
		_, err = s.RotateSecret(ctx, org, "a1", "sealed:evil", t0)
		checkKind(t, org+": RotateSecret", err, identification.KindNotFound)
		_, err = s.Failing(ctx, org, "a1", Now)
		checkKind(t, org+": Failing", err, identification.KindNotFound)
		checkKind(t, org+": Succeeded", s.Succeeded(ctx, org, "a1", t0), 0)
		if done, err := s.Disable(ctx, org, "a1", "evil", t0, t0); done || err != nil {
			t.Errorf("%s: Disable = %v, %v; want false, nil", org, done, err)
		}
		checkKind(t, org+": DeleteEndpoint", s.DeleteEndpoint(ctx, org, "a1"), identification.KindNotFound)
		_, _, err = s.Delivery(ctx, org, "a1", d.ID)
		checkKind(t, org+": Delivery", err, identification.KindNotFound)
		if page, more, err := s.Deliveries(ctx, org, "a1", 10, ""); len(page) != 0 || more || err != nil {
			t.Errorf("%s: Deliveries = %v, %v, %v; want an empty page", org, page, more, err)
		}
		// None of the attempts wrote an a1 of its own for org.
		_, err = s.Endpoint(ctx, org, "a1")
		checkKind(t, org+": Endpoint after its attempts", err, identification.KindNotFound)
	}
	_, _, err := s.Delivery(ctx, "acme", "a2", d.ID)
	checkKind(t, "a1's delivery as a2's", err, identification.KindNotFound)
	if page, more, err := s.Deliveries(ctx, "acme", "a2", 10, ""); len(page) != 0 || more || err != nil {
		t.Errorf("a2's log = %v, %v, %v; want it empty", page, more, err)
	}

	checkStored(t, s, "after the other organisations' attempts", want)
	if got, _, err := s.Delivery(ctx, "acme", "a1", d.ID); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("acme's own delivery: %+v, %v; want %+v", got, err, d)
	}
	checkEndpoints(t, s, "acme", "a1", "a2")
	checkEndpoints(t, s, "globex", "g1")
	checkEndpoints(t, s, "acm")
	checkEndpoints(t, s, "acme2")
	// Neither count moved: acme has exactly the limit less two places
	// left, globex the limit less one.
	for org, left := range map[string]int{"acme": maxEndpoints - 2, "globex": maxEndpoints - 1} {
		for n := range left {
			mustRegister(t, s, hookEndpoint(org, fmt.Sprintf("more-%d", n), Now.Add(time.Hour)))
		}
		err := s.CreateEndpoint(ctx, hookEndpoint(org, "one-too-many", Now.Add(time.Hour)))
		checkKind(t, org+": a registration past its places", err, identification.KindConflict)
	}
}

// testHookUpdate: each change sets its fields, at its time, and moves the
// version one up, leaving the rest and the secrets as they were (the
// version rule of docs/webhooks.md: one more with every change; the ETag
// is informational, as no route takes If-Match (docs/api.md), so a change
// carries no version for the store to check). Enabling clears
// DisabledReason and FailingSince; the organisation's disabling says so,
// and the sender's Disable does not override it; an empty description
// removes it. A missing endpoint is KindNotFound and is not created.
func testHookUpdate(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	st := hookEndpoint("acme", "e1", Now)
	mustRegister(t, s, st)
	update := func(c webhooks.Change, when time.Time, want webhooks.Endpoint) {
		t.Helper()
		got, err := s.UpdateEndpoint(ctx, "acme", "e1", c, when)
		if err != nil {
			t.Fatalf("UpdateEndpoint: %v", err)
		}
		checkEndpoint(t, s, "UpdateEndpoint", got, want)
	}
	want := webhooks.Endpoint{ID: "e1", OrgID: "acme", URL: "https://hooks.example.com/v2",
		Events: []string{"identification.completed", "identification.failed"}, Description: "endpoint e1",
		Status: webhooks.StatusEnabled, CreatedAt: Now, UpdatedAt: Now.Add(time.Minute), Version: 2}
	url := "https://hooks.example.com/v2"
	update(webhooks.Change{URL: &url}, Now.Add(time.Minute), want)

	desc := "the new one"
	want.Events, want.Description, want.UpdatedAt, want.Version = []string{"*"}, "the new one", Now.Add(2*time.Minute), 3
	update(webhooks.Change{Events: []string{"*"}, Description: &desc}, Now.Add(2*time.Minute), want)

	// Disabled by the sender for failing (version 4), then enabled by its
	// organisation: the reason and the run of failures both go.
	t3 := Now.Add(3 * time.Minute)
	if _, err := s.Failing(ctx, "acme", "e1", t3); err != nil {
		t.Fatal(err)
	}
	if done, err := s.Disable(ctx, "acme", "e1", disabledForFailing, t3, t3); !done || err != nil {
		t.Fatalf("Disable = %v, %v; want true", done, err)
	}
	enabled := webhooks.StatusEnabled
	want.UpdatedAt, want.Version = Now.Add(4*time.Minute), 5
	update(webhooks.Change{Status: &enabled}, Now.Add(4*time.Minute), want)

	disabled := webhooks.StatusDisabled
	want.Status, want.DisabledReason, want.UpdatedAt, want.Version = webhooks.StatusDisabled, disabledByOrganisation, Now.Add(5*time.Minute), 6
	update(webhooks.Change{Status: &disabled}, Now.Add(5*time.Minute), want)
	// Failing still records the run (an attempt already under way), but
	// the sender's Disable does not take over the organisation's.
	t6 := Now.Add(6 * time.Minute)
	failing, err := s.Failing(ctx, "acme", "e1", t6)
	if err != nil {
		t.Fatal(err)
	}
	want.FailingSince = timePtr(t6)
	checkEndpoint(t, s, "Failing of a disabled endpoint", failing, want)
	if done, err := s.Disable(ctx, "acme", "e1", disabledForFailing, t6, t6); done || err != nil {
		t.Errorf("Disable of an endpoint its organisation disabled = %v, %v; want false", done, err)
	}
	checkEndpoint(t, s, "a refused Disable", failing, want)

	empty := ""
	want.Description, want.UpdatedAt, want.Version = "", Now.Add(7*time.Minute), 7
	update(webhooks.Change{Description: &empty}, Now.Add(7*time.Minute), want)

	after := mustEndpoint(t, s, "acme", "e1")
	if after.Secret != st.Secret || after.PreviousSecret != "" || !after.PreviousUntil.IsZero() {
		t.Errorf("the changes touched the secrets: %s", showStored(after))
	}

	_, err = s.UpdateEndpoint(ctx, "acme", "nope", webhooks.Change{URL: &url}, Now)
	checkKind(t, "UpdateEndpoint of a missing endpoint", err, identification.KindNotFound)
	_, err = s.Endpoint(ctx, "acme", "nope")
	checkKind(t, "reading the missing endpoint after its update", err, identification.KindNotFound)
	checkEndpoints(t, s, "acme", "e1")
}

// testHookRotation: a rotation makes the new sealed secret the current
// one and the current one the previous, signing for 24 hours more, and
// moves the version one up; a second rotation, within those hours or
// after, drops the first secret altogether. A missing endpoint is
// KindNotFound.
func testHookRotation(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	mustRegister(t, s, hookEndpoint("acme", "e1", Now))
	want := hookEndpoint("acme", "e1", Now)
	for n, c := range []struct {
		sealed string
		at     time.Time
	}{
		{"sealed:2", Now.Add(time.Hour)},
		{"sealed:3", Now.Add(2 * time.Hour)},  // sealed:2 still in its grace
		{"sealed:4", Now.Add(50 * time.Hour)}, // sealed:3's grace over
	} {
		got, err := s.RotateSecret(ctx, "acme", "e1", c.sealed, c.at)
		if err != nil {
			t.Fatalf("rotation %d: %v", n+1, err)
		}
		want.PreviousSecret, want.Secret, want.PreviousUntil = want.Secret, c.sealed, c.at.Add(rotationGrace)
		want.Endpoint.Version, want.Endpoint.UpdatedAt = int64(n+2), c.at
		if !reflect.DeepEqual(got, want.Endpoint) {
			t.Errorf("rotation %d returned\n %s\nwant\n %s", n+1, showEndpoint(got), showEndpoint(want.Endpoint))
		}
		checkStored(t, s, fmt.Sprintf("after rotation %d", n+1), want)
	}
	_, err := s.RotateSecret(ctx, "acme", "nope", "sealed:x", Now)
	checkKind(t, "RotateSecret of a missing endpoint", err, identification.KindNotFound)
	_, err = s.Endpoint(ctx, "acme", "nope")
	checkKind(t, "reading the missing endpoint after its rotation", err, identification.KindNotFound)
}

// testHookFailing: FailingSince is the start of the current run of
// failures (Failing keeps the first time); Succeeded ends the run;
// Disable disables only an endpoint still ENABLED and failing since the
// time it was given, so that a success or an organisation's change made
// meanwhile wins. Failing and Succeeded are the sender's bookkeeping, no
// change of the endpoint: neither moves its version or UpdatedAt; Disable
// is a change. After the deletion Succeeded is no error, Failing is
// KindNotFound and Disable false, and none of them brings it back.
func testHookFailing(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	mustRegister(t, s, hookEndpoint("acme", "e1", Now))
	want := *hookEndpoint("acme", "e1", Now).Endpoint
	failing := func(when time.Time) {
		t.Helper()
		got, err := s.Failing(ctx, "acme", "e1", when)
		if err != nil {
			t.Fatalf("Failing at %v: %v", when, err)
		}
		checkEndpoint(t, s, "Failing at "+when.Format(time.TimeOnly), got, want)
	}
	disable := func(reason string, since, when time.Time, wantDone bool) {
		t.Helper()
		if done, err := s.Disable(ctx, "acme", "e1", reason, since, when); done != wantDone || err != nil {
			t.Errorf("Disable since %v = %v, %v; want %v, nil", since.Format(time.TimeOnly), done, err, wantDone)
		}
		checkStored(t, s, "after Disable since "+since.Format(time.TimeOnly), webhooks.Stored{Endpoint: &want, Secret: "sealed:acme/e1/1"})
	}
	succeeded := func(when time.Time) {
		t.Helper()
		if err := s.Succeeded(ctx, "acme", "e1", when); err != nil {
			t.Errorf("Succeeded: %v", err)
		}
		checkStored(t, s, "after Succeeded", webhooks.Stored{Endpoint: &want, Secret: "sealed:acme/e1/1"})
	}

	// Not failing: nothing to disable.
	disable(disabledForFailing, Now, Now.Add(time.Minute), false)

	t1 := Now.Add(time.Minute)
	want.FailingSince = timePtr(t1)
	failing(t1)
	failing(t1.Add(time.Hour))

	want.FailingSince = nil
	succeeded(t1.Add(2 * time.Hour))
	succeeded(t1.Add(2 * time.Hour)) // not failing: no error, nothing changes

	// A new run, later: a Disable decided on the first run is stale.
	t2 := t1.Add(3 * time.Hour)
	want.FailingSince = timePtr(t2)
	failing(t2)
	disable(disabledForFailing, t1, t2.Add(72*time.Hour), false)

	// The organisation disabled and enabled it meanwhile: its run is over,
	// and a Disable decided on it is stale.
	disabled, enabled := webhooks.StatusDisabled, webhooks.StatusEnabled
	if _, err := s.UpdateEndpoint(ctx, "acme", "e1", webhooks.Change{Status: &disabled}, t2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateEndpoint(ctx, "acme", "e1", webhooks.Change{Status: &enabled}, t2); err != nil {
		t.Fatal(err)
	}
	want.FailingSince, want.UpdatedAt, want.Version = nil, t2, 3
	disable(disabledForFailing, t2, t2.Add(72*time.Hour), false)

	t3 := t2.Add(time.Hour)
	want.FailingSince = timePtr(t3)
	failing(t3)
	when := t3.Add(72 * time.Hour)
	want.Status, want.DisabledReason, want.UpdatedAt, want.Version = webhooks.StatusDisabled, disabledForFailing, when, 4
	disable(disabledForFailing, t3, when, true)
	// Done once: a second Disable finds it DISABLED.
	disable("again", t3, when.Add(time.Minute), false)

	// A success after it was disabled ends the run, and only that.
	want.FailingSince = nil
	succeeded(when.Add(time.Hour))

	if err := s.DeleteEndpoint(ctx, "acme", "e1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Succeeded(ctx, "acme", "e1", when); err != nil {
		t.Errorf("Succeeded of a deleted endpoint: %v", err)
	}
	_, err := s.Failing(ctx, "acme", "e1", when)
	checkKind(t, "Failing of a deleted endpoint", err, identification.KindNotFound)
	if done, err := s.Disable(ctx, "acme", "e1", "gone", t3, when); done || err != nil {
		t.Errorf("Disable of a deleted endpoint = %v, %v; want false, nil", done, err)
	}
	_, err = s.Endpoint(ctx, "acme", "e1")
	checkKind(t, "reading it after the sender's writes", err, identification.KindNotFound)
	checkEndpoints(t, s, "acme")
}

// testHookDeliveries: an endpoint's log pages newest event first, whatever
// order the deliveries were saved in, at most limit a page, saying whether
// more follow (a page holding exactly what is left says none do), from
// after the last id of the previous page. Saving a delivery again replaces
// it; one delivery reads back whole with its event, to the nanosecond, so
// that a replay gives the same webhook-id. Each endpoint has its own log.
func testHookDeliveries(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	mustRegister(t, s, hookEndpoint("acme", "e1", Now))
	mustRegister(t, s, hookEndpoint("acme", "e2", Now))
	const total = 25
	ids := make([]string, total) // oldest event first
	saved := map[string]webhooks.Delivery{}
	events := map[string]identification.Event{}
	// 7 is prime to 25: every k once, in an order that is neither the
	// events' nor its reverse.
	for n := range total {
		k := n * 7 % total
		d, ev := hookDelivery("acme", "e1", k)
		mustSaveDelivery(t, s, d, ev)
		ids[k], saved[d.ID], events[d.ID] = d.ID, d, ev
	}
	other, otherEv := hookDelivery("acme", "e2", 30)
	mustSaveDelivery(t, s, other, otherEv)
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)

	page := func(limit int, after string) ([]string, bool) {
		t.Helper()
		got, more, err := s.Deliveries(ctx, "acme", "e1", limit, after)
		if err != nil {
			t.Fatalf("Deliveries(%d, %q): %v", limit, after, err)
		}
		out := []string{}
		for _, d := range got {
			if !reflect.DeepEqual(d, saved[d.ID]) {
				t.Errorf("listed %+v\n saved %+v", d, saved[d.ID])
			}
			out = append(out, d.ID)
		}
		return out, more
	}
	all := func() {
		t.Helper()
		var got []string
		after := ""
		for n, want := range []struct {
			size int
			more bool
		}{{10, true}, {10, true}, {5, false}} {
			ids, more := page(10, after)
			if len(ids) != want.size || more != want.more {
				t.Errorf("page %d: %d deliveries, more %v; want %d, %v", n+1, len(ids), more, want.size, want.more)
			}
			got = append(got, ids...)
			if len(ids) > 0 {
				after = ids[len(ids)-1]
			}
		}
		if rest, more := page(10, after); len(rest) != 0 || more {
			t.Errorf("after the last page: %v, %v; want nothing", rest, more)
		}
		if !slices.Equal(got, newestFirst) {
			t.Errorf("the log paged as\n %v\nwant newest first\n %v", got, newestFirst)
		}
	}
	all()

	// A page from the middle, and the limit's edges.
	if got, more := page(3, newestFirst[4]); !slices.Equal(got, newestFirst[5:8]) || !more {
		t.Errorf("3 after the 5th: %v, more %v; want %v, true", got, more, newestFirst[5:8])
	}
	if got, more := page(3, newestFirst[21]); !slices.Equal(got, newestFirst[22:]) || more {
		t.Errorf("3 after the 22nd: %v, more %v; want %v, false", got, more, newestFirst[22:])
	}
	for _, c := range []struct {
		limit, size int
		more        bool
	}{{1, 1, true}, {24, 24, true}, {25, 25, false}, {26, 25, false}} {
		if got, more := page(c.limit, ""); !slices.Equal(got, newestFirst[:c.size]) || more != c.more {
			t.Errorf("limit %d: %d deliveries, more %v; want the newest %d, more %v", c.limit, len(got), more, c.size, c.more)
		}
	}

	// The latest attempt's outcome replaces the entry.
	id := ids[7]
	d := saved[id]
	d.Status, d.Attempts, d.LastStatusCode, d.LastError = webhooks.DeliveryDelivered, 2, 204, ""
	d.NextAttemptAt, d.DeliveredAt = nil, timePtr(d.At.Add(time.Hour))
	mustSaveDelivery(t, s, d, events[id])
	saved[id] = d
	all()

	gotD, gotE, err := s.Delivery(ctx, "acme", "e1", id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotD, d) {
		t.Errorf("Delivery = %+v\nwant %+v", gotD, d)
	}
	want := events[id]
	if !gotE.At.Equal(want.At) {
		t.Errorf("the event's time reads %v, want %v", gotE.At, want.At)
	}
	if webhooks.DeliveryID("e1", gotE) != id {
		t.Errorf("the stored event gives the webhook-id %s, want %s", webhooks.DeliveryID("e1", gotE), id)
	}
	gotE.At, want.At = time.Time{}, time.Time{}
	if !reflect.DeepEqual(gotE, want) {
		t.Errorf("event = %+v\nwant %+v", gotE, want)
	}

	_, _, err = s.Delivery(ctx, "acme", "e1", "msg_nope")
	checkKind(t, "Delivery of a missing id", err, identification.KindNotFound)
	_, _, err = s.Delivery(ctx, "acme", "e2", id)
	checkKind(t, "e1's delivery as e2's", err, identification.KindNotFound)
	if got, more, err := s.Deliveries(ctx, "acme", "e2", 10, ""); len(got) != 1 || more || err != nil || !reflect.DeepEqual(got[0], other) {
		t.Errorf("e2's log = %v, %v, %v; want its one delivery", got, more, err)
	}
	if got, more, err := s.Deliveries(ctx, "acme", "e3", 10, ""); len(got) != 0 || more || err != nil {
		t.Errorf("the log of an endpoint with none = %v, %v, %v", got, more, err)
	}
}

// testHookDelete: a deletion removes the endpoint, KindNotFound for every
// change after it and again for a second deletion; the organisation's
// other endpoints stay. The log is not deleted with it: its entries go
// after DeliveryRetention, as SaveDelivery says. The id is free again,
// and an endpoint registered under it starts over.
func testHookDelete(t *testing.T, s webhooks.Store) {
	ctx := t.Context()
	mustRegister(t, s, hookEndpoint("acme", "e1", Now))
	mustRegister(t, s, hookEndpoint("acme", "e2", Now.Add(time.Second)))
	mustRegister(t, s, hookEndpoint("globex", "e1", Now))
	if _, err := s.Failing(ctx, "acme", "e1", Now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateSecret(ctx, "acme", "e1", "sealed:2", Now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	d, ev := hookDelivery("acme", "e1", 0)
	mustSaveDelivery(t, s, d, ev)

	checkKind(t, "DeleteEndpoint", s.DeleteEndpoint(ctx, "acme", "e1"), 0)
	_, err := s.Endpoint(ctx, "acme", "e1")
	checkKind(t, "Endpoint after the deletion", err, identification.KindNotFound)
	checkEndpoints(t, s, "acme", "e2")
	checkStored(t, s, "the same id in another organisation", hookEndpoint("globex", "e1", Now))
	checkStored(t, s, "another endpoint of the organisation", hookEndpoint("acme", "e2", Now.Add(time.Second)))
	checkKind(t, "a second deletion", s.DeleteEndpoint(ctx, "acme", "e1"), identification.KindNotFound)
	checkKind(t, "deleting an unknown id", s.DeleteEndpoint(ctx, "acme", "e9"), identification.KindNotFound)
	url := "https://hooks.example.com/v2"
	_, err = s.UpdateEndpoint(ctx, "acme", "e1", webhooks.Change{URL: &url}, Now.Add(time.Hour))
	checkKind(t, "UpdateEndpoint after the deletion", err, identification.KindNotFound)
	_, err = s.RotateSecret(ctx, "acme", "e1", "sealed:3", Now.Add(time.Hour))
	checkKind(t, "RotateSecret after the deletion", err, identification.KindNotFound)
	_, err = s.Endpoint(ctx, "acme", "e1")
	checkKind(t, "Endpoint after changes of the deleted endpoint", err, identification.KindNotFound)

	if got, _, err := s.Delivery(ctx, "acme", "e1", d.ID); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("the deleted endpoint's delivery: %+v, %v; want it kept until its retention", got, err)
	}
	if page, more, err := s.Deliveries(ctx, "acme", "e1", 10, ""); len(page) != 1 || more || err != nil {
		t.Errorf("the deleted endpoint's log: %v, %v, %v; want its one delivery", page, more, err)
	}

	mustRegister(t, s, hookEndpoint("acme", "e1", Now.Add(time.Hour)))
	checkStored(t, s, "registered again under the deleted id", hookEndpoint("acme", "e1", Now.Add(time.Hour)))
	checkEndpoints(t, s, "acme", "e2", "e1")
}
