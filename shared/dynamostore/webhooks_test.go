package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// hooks is a table and its store, as the webhook tests share them.
type hooks struct {
	store   *dynamostore.Store
	client  *dynamodb.Client
	table   string
	counter *enginetest.CallCounter
}

func newHooks(t *testing.T, e enginetest.Engine) *hooks {
	t.Helper()
	s, client, table, counter := newStore(t, e)
	h := &hooks{store: s, client: client, table: table, counter: counter}
	// Whatever a test wrote, no item of the webhooks is in an index or
	// could reach the stream function.
	t.Cleanup(func() {
		if !t.Failed() {
			checkNoIndexKeys(t, h.client, h.table, "webhook")
		}
	})
	return h
}

// newEndpoint is an endpoint of org registered at at, with its sealed
// secret.
func newEndpoint(org, id string, at time.Time) webhooks.Stored {
	return webhooks.Stored{Endpoint: &webhooks.Endpoint{
		ID: id, OrgID: org, URL: "https://hooks.example.com/" + org + "/" + id, Events: []string{"identification.completed"},
		Description: "endpoint " + id, Status: webhooks.StatusEnabled, CreatedAt: at, UpdatedAt: at, Version: 1,
	}, Secret: "sealed:" + org + "/" + id + "/1"}
}

func (h *hooks) create(t *testing.T, st webhooks.Stored) {
	t.Helper()
	if err := h.store.CreateEndpoint(t.Context(), st); err != nil {
		t.Fatalf("CreateEndpoint %s/%s: %v", st.Endpoint.OrgID, st.Endpoint.ID, err)
	}
}

func (h *hooks) endpoint(t *testing.T, org, id string) webhooks.Stored {
	t.Helper()
	st, err := h.store.Endpoint(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Endpoint %s/%s: %v", org, id, err)
	}
	return st
}

// raw is the item under pk and sk as DynamoDB holds it.
func (h *hooks) raw(t *testing.T, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := h.client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(h.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatalf("raw get %s %s: %v", pk, sk, err)
	}
	return out.Item
}

// count is the organisation's endpoint count as stored.
func (h *hooks) count(t *testing.T, org string) string {
	t.Helper()
	return n(h.raw(t, "ORG#"+org+"#WEBHOOKS", "N")["count"])
}

// indexKeys are the attributes the table's indexes key on.
var indexKeys = []string{"l_org", "l_email", "l_phone", "l_document", "ls", "open_shard", "open_expires_at"}

// checkNoIndexKeys scans the table: every item is of a kind named
// kindPrefix..., no item has an index's key attribute or sort key P, and
// every index is empty.
func checkNoIndexKeys(t *testing.T, client *dynamodb.Client, table, kindPrefix string) {
	t.Helper()
	// t.Context() is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	keyed := slices.Clone(indexKeys)
	for _, gsi := range desc.Table.GlobalSecondaryIndexes {
		for _, k := range gsi.KeySchema {
			if !slices.Contains(keyed, aws.ToString(k.AttributeName)) {
				t.Errorf("index %s keys on %s, which the test does not know", aws.ToString(gsi.IndexName), aws.ToString(k.AttributeName))
			}
		}
		out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), IndexName: gsi.IndexName})
		if err != nil {
			t.Fatalf("scan %s: %v", aws.ToString(gsi.IndexName), err)
		}
		if len(out.Items) != 0 {
			t.Errorf("index %s holds %d items: %v", aws.ToString(gsi.IndexName), len(out.Items), out.Items)
		}
	}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	items := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			items++
			if s(it["sk"]) == "P" {
				t.Errorf("item %s has sort key P: the stream function would see it", s(it["pk"]))
			}
			if k := s(it["kind"]); !strings.HasPrefix(k, kindPrefix) {
				t.Errorf("item %s %s is of kind %q", s(it["pk"]), s(it["sk"]), k)
			}
			for _, a := range keyed {
				if _, ok := it[a]; ok {
					t.Errorf("item %s %s has index key attribute %s", s(it["pk"]), s(it["sk"]), a)
				}
			}
		}
	}
	if items == 0 {
		t.Error("the table holds no item: nothing was checked")
	}
}

func wantKind(t *testing.T, what string, err error, kind identification.Kind) {
	t.Helper()
	if identification.KindOf(err) != kind {
		t.Errorf("%s: %v (kind %v); want kind %v", what, err, identification.KindOf(err), kind)
	}
}

// TestWebhookEndpointRegistrationsAtOnceStopAtTheLimit: 30 registrations
// of one organisation at once: exactly MaxEndpoints are stored, the rest
// are refused with KindConflict, and the count says so; a deletion frees
// one place, once; an id taken is refused without counting.
func TestWebhookEndpointRegistrationsAtOnceStopAtTheLimit(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			created   []string
			conflicts int
			others    []error
		)
		for k := range 30 {
			wg.Go(func() {
				id := fmt.Sprintf("ep-%02d", k)
				err := h.store.CreateEndpoint(t.Context(), newEndpoint("acme", id, now.Add(time.Duration(k)*time.Second)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created = append(created, id)
				case identification.KindOf(err) == identification.KindConflict && strings.Contains(err.Error(), "at most 10"):
					conflicts++
				default:
					others = append(others, err)
				}
			})
		}
		wg.Wait()
		if len(created) != webhooks.MaxEndpoints || conflicts != 30-webhooks.MaxEndpoints || len(others) > 0 {
			t.Fatalf("30 registrations at once: %d created, %d refused at the limit, other errors %v; want 10, 20, none", len(created), conflicts, others)
		}
		if got := h.count(t, "acme"); got != "10" {
			t.Errorf("count = %q, want 10", got)
		}
		list, err := h.store.Endpoints(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ep := range list {
			ids = append(ids, ep.ID)
		}
		slices.Sort(created)
		// Oldest first: the ids were numbered by their creation time.
		if !slices.Equal(ids, created) {
			t.Errorf("Endpoints = %v, want %v", ids, created)
		}

		h.counter.Reset()
		if err := h.store.DeleteEndpoint(t.Context(), "acme", created[3]); err != nil {
			t.Fatal(err)
		}
		if ops := h.counter.Ops(); !slices.Equal(ops, []string{"TransactWriteItems"}) {
			t.Errorf("DeleteEndpoint made %v; want one TransactWriteItems", ops)
		}
		err = h.store.DeleteEndpoint(t.Context(), "acme", created[3])
		wantKind(t, "deleting it again", err, identification.KindNotFound)
		if got := h.count(t, "acme"); got != "9" {
			t.Errorf("count after a deletion (and a deletion of nothing) = %q, want 9", got)
		}
		err = h.store.CreateEndpoint(t.Context(), newEndpoint("acme", created[0], now))
		if wantKind(t, "registering an id taken", err, identification.KindConflict); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Errorf("registering an id taken: %v; want it said to exist", err)
		}
		if got := h.count(t, "acme"); got != "9" {
			t.Errorf("count after registering an id taken = %q, want 9", got)
		}
		h.counter.Reset()
		h.create(t, newEndpoint("acme", "late-1", now.Add(time.Hour)))
		if ops := h.counter.Ops(); !slices.Equal(ops, []string{"TransactWriteItems"}) {
			t.Errorf("CreateEndpoint made %v; want one TransactWriteItems", ops)
		}
		err = h.store.CreateEndpoint(t.Context(), newEndpoint("acme", "late-2", now.Add(time.Hour)))
		if wantKind(t, "an 11th registration", err, identification.KindConflict); err == nil || !strings.Contains(err.Error(), "at most 10 webhook endpoints") {
			t.Errorf("an 11th registration: %v; want the limit", err)
		}
		if got := h.count(t, "acme"); got != "10" {
			t.Errorf("count = %q, want 10", got)
		}
		// Another organisation counts its own.
		h.create(t, newEndpoint("globex", "late-2", now))
		if got := h.count(t, "globex"); got != "1" {
			t.Errorf("globex's count = %q, want 1", got)
		}
	})
}

// TestWebhookEndpointUpdate: each change sets its fields and moves the
// version up by one, in one UpdateItem; enabling clears DisabledReason and
// FailingSince; the organisation's disabling says so; a missing endpoint
// is KindNotFound.
func TestWebhookEndpointUpdate(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		ctx := t.Context()
		st := newEndpoint("acme", "e1", now)
		h.create(t, st)
		pk := "ORG#acme#WEBHOOKS"

		update := func(c webhooks.Change, at time.Time) *webhooks.Endpoint {
			t.Helper()
			h.counter.Reset()
			got, err := h.store.UpdateEndpoint(ctx, "acme", "e1", c, at)
			if err != nil {
				t.Fatalf("UpdateEndpoint: %v", err)
			}
			if ops := h.counter.Ops(); !slices.Equal(ops, []string{"UpdateItem"}) {
				t.Errorf("UpdateEndpoint made %v; want one UpdateItem", ops)
			}
			if read := h.endpoint(t, "acme", "e1"); !reflect.DeepEqual(read.Endpoint, got) {
				t.Errorf("UpdateEndpoint returned %+v, Endpoint reads %+v", got, read.Endpoint)
			}
			return got
		}

		url := "https://hooks.example.com/v2"
		t1 := now.Add(time.Minute)
		got := update(webhooks.Change{URL: &url}, t1)
		if got.URL != url || got.Version != 2 || !got.UpdatedAt.Equal(t1) || !got.CreatedAt.Equal(now) ||
			got.Description != st.Endpoint.Description || !slices.Equal(got.Events, st.Endpoint.Events) || got.Status != webhooks.StatusEnabled {
			t.Errorf("after a URL change: %+v", got)
		}

		desc := "the new one"
		got = update(webhooks.Change{Events: []string{"*"}, Description: &desc}, t1)
		if !slices.Equal(got.Events, []string{"*"}) || got.Description != desc || got.URL != url || got.Version != 3 {
			t.Errorf("after an events and description change: %+v", got)
		}

		// Failing, then disabled for it, then enabled by its organisation.
		t2 := now.Add(2 * time.Minute)
		if _, err := h.store.Failing(ctx, "acme", "e1", t2); err != nil {
			t.Fatal(err)
		}
		if ok, err := h.store.Disable(ctx, "acme", "e1", "failing for 72 hours", t2, t2); !ok || err != nil {
			t.Fatalf("Disable = %v, %v", ok, err)
		}
		enabled := webhooks.StatusEnabled
		got = update(webhooks.Change{Status: &enabled}, t2)
		if got.Status != webhooks.StatusEnabled || got.DisabledReason != "" || got.FailingSince != nil || got.Version != 5 {
			t.Errorf("after enabling: %+v; want ENABLED, no reason, not failing, version 5", got)
		}
		raw := h.raw(t, pk, "E#e1")
		for _, a := range []string{"disabled_reason", "failing_since"} {
			if _, ok := raw[a]; ok {
				t.Errorf("after enabling the item still has %s", a)
			}
		}

		disabled := webhooks.StatusDisabled
		got = update(webhooks.Change{Status: &disabled}, t2)
		if got.Status != webhooks.StatusDisabled || got.DisabledReason != "disabled by the organisation" || got.Version != 6 {
			t.Errorf("after disabling: %+v", got)
		}
		// The sender's Disable does not override the organisation's.
		if ok, err := h.store.Disable(ctx, "acme", "e1", "failing", t2, t2); ok || err != nil {
			t.Errorf("Disable of a disabled endpoint = %v, %v; want false", ok, err)
		}

		empty := ""
		got = update(webhooks.Change{Description: &empty}, t2)
		if got.Description != "" || got.Version != 7 || got.DisabledReason != "disabled by the organisation" {
			t.Errorf("after clearing the description: %+v", got)
		}
		if after := h.endpoint(t, "acme", "e1"); after.Secret != st.Secret || after.PreviousSecret != "" {
			t.Errorf("a change touched the secrets: %+v", after)
		}

		_, err := h.store.UpdateEndpoint(ctx, "acme", "nope", webhooks.Change{URL: &url}, t2)
		wantKind(t, "UpdateEndpoint of a missing endpoint", err, identification.KindNotFound)
		if raw := h.raw(t, pk, "E#nope"); len(raw) != 0 {
			t.Errorf("UpdateEndpoint of a missing endpoint wrote %v", raw)
		}
	})
}

// TestWebhookSecretRotation: a rotation makes the new sealed secret the
// current one and the current the previous, until 24 hours later; a second
// rotation drops the first secret altogether.
func TestWebhookSecretRotation(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		ctx := t.Context()
		st := newEndpoint("acme", "e1", now)
		h.create(t, st)

		t1 := now.Add(time.Hour)
		h.counter.Reset()
		got, err := h.store.RotateSecret(ctx, "acme", "e1", "sealed:two", t1)
		if err != nil {
			t.Fatal(err)
		}
		if ops := h.counter.Ops(); !slices.Equal(ops, []string{"UpdateItem"}) {
			t.Errorf("RotateSecret made %v; want one UpdateItem", ops)
		}
		if got.Version != 2 || !got.UpdatedAt.Equal(t1) {
			t.Errorf("after a rotation: %+v; want version 2 updated at %v", got, t1)
		}
		read := h.endpoint(t, "acme", "e1")
		if read.Secret != "sealed:two" || read.PreviousSecret != st.Secret || !read.PreviousUntil.Equal(t1.Add(24*time.Hour)) {
			t.Errorf("after a rotation: secret %q, previous %q until %v; want sealed:two, %q until %v",
				read.Secret, read.PreviousSecret, read.PreviousUntil, st.Secret, t1.Add(24*time.Hour))
		}

		t2 := t1.Add(time.Hour)
		if _, err := h.store.RotateSecret(ctx, "acme", "e1", "sealed:three", t2); err != nil {
			t.Fatal(err)
		}
		read = h.endpoint(t, "acme", "e1")
		if read.Secret != "sealed:three" || read.PreviousSecret != "sealed:two" || !read.PreviousUntil.Equal(t2.Add(24*time.Hour)) || read.Endpoint.Version != 3 {
			t.Errorf("after a second rotation: %+v", read)
		}
		for name, v := range h.raw(t, "ORG#acme#WEBHOOKS", "E#e1") {
			if s(v) == st.Secret {
				t.Errorf("the first secret is still in attribute %s", name)
			}
		}

		_, err = h.store.RotateSecret(ctx, "acme", "nope", "sealed:x", t2)
		wantKind(t, "RotateSecret of a missing endpoint", err, identification.KindNotFound)
	})
}

// TestWebhookEndpointFailingSucceededDisable: FailingSince is the start of
// the current run of failures; Disable disables only an endpoint still
// failing since the time it was given; Succeeded ends the run, and is no
// error on an endpoint that is gone.
func TestWebhookEndpointFailingSucceededDisable(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		ctx := t.Context()
		h.create(t, newEndpoint("acme", "e1", now))

		failing := func(at time.Time, want time.Time) {
			t.Helper()
			got, err := h.store.Failing(ctx, "acme", "e1", at)
			if err != nil {
				t.Fatal(err)
			}
			if got.FailingSince == nil || !got.FailingSince.Equal(want) {
				t.Errorf("Failing at %v: failing since %v; want %v", at, got.FailingSince, want)
			}
			if got.Version != 1 {
				t.Errorf("Failing moved the version to %d", got.Version)
			}
		}
		t0 := now.Add(time.Minute)
		failing(t0, t0)
		failing(t0.Add(time.Hour), t0)

		if err := h.store.Succeeded(ctx, "acme", "e1", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got := h.endpoint(t, "acme", "e1").Endpoint; got.FailingSince != nil || got.Version != 1 {
			t.Errorf("after Succeeded: failing since %v, version %d; want nil, 1", got.FailingSince, got.Version)
		}
		if err := h.store.Succeeded(ctx, "acme", "e1", t0.Add(2*time.Hour)); err != nil {
			t.Errorf("Succeeded of an endpoint not failing: %v", err)
		}

		// Failing again, later: a Disable decided on the first run is
		// too late.
		t1 := t0.Add(3 * time.Hour)
		failing(t1, t1)
		if ok, err := h.store.Disable(ctx, "acme", "e1", "failing since t0", t0, t1.Add(72*time.Hour)); ok || err != nil {
			t.Errorf("Disable with a stale since = %v, %v; want false", ok, err)
		}
		if got := h.endpoint(t, "acme", "e1").Endpoint; got.Status != webhooks.StatusEnabled || got.DisabledReason != "" || got.Version != 1 {
			t.Errorf("after a stale Disable: %+v; want ENABLED, version 1", got)
		}

		at := t1.Add(72 * time.Hour)
		h.counter.Reset()
		if ok, err := h.store.Disable(ctx, "acme", "e1", "no 2xx answer for 72 hours", t1, at); !ok || err != nil {
			t.Fatalf("Disable = %v, %v; want true", ok, err)
		}
		if ops := h.counter.Ops(); !slices.Equal(ops, []string{"UpdateItem"}) {
			t.Errorf("Disable made %v; want one UpdateItem", ops)
		}
		got := h.endpoint(t, "acme", "e1").Endpoint
		if got.Status != webhooks.StatusDisabled || got.DisabledReason != "no 2xx answer for 72 hours" || got.Version != 2 ||
			!got.UpdatedAt.Equal(at) || got.FailingSince == nil || !got.FailingSince.Equal(t1) {
			t.Errorf("after Disable: %+v", got)
		}
		if ok, err := h.store.Disable(ctx, "acme", "e1", "again", t1, at); ok || err != nil {
			t.Errorf("a second Disable = %v, %v; want false", ok, err)
		}

		if err := h.store.Succeeded(ctx, "acme", "e1", at); err != nil {
			t.Fatal(err)
		}
		if got := h.endpoint(t, "acme", "e1").Endpoint; got.FailingSince != nil {
			t.Errorf("after Succeeded: failing since %v", got.FailingSince)
		}

		if err := h.store.DeleteEndpoint(ctx, "acme", "e1"); err != nil {
			t.Fatal(err)
		}
		if err := h.store.Succeeded(ctx, "acme", "e1", at); err != nil {
			t.Errorf("Succeeded of a deleted endpoint: %v", err)
		}
		_, err := h.store.Failing(ctx, "acme", "e1", at)
		wantKind(t, "Failing of a deleted endpoint", err, identification.KindNotFound)
		if ok, err := h.store.Disable(ctx, "acme", "e1", "gone", t1, at); ok || err != nil {
			t.Errorf("Disable of a deleted endpoint = %v, %v; want false", ok, err)
		}
		if raw := h.raw(t, "ORG#acme#WEBHOOKS", "E#e1"); len(raw) != 0 {
			t.Errorf("a write after the deletion left %v", raw)
		}
		// Keep one item for the index check.
		h.create(t, newEndpoint("acme", "e2", now))
	})
}

// TestWebhookDeliveriesLog: an endpoint's log pages newest event first,
// saying whether more follow; saving a delivery again replaces it; each
// entry goes 30 days after its event, and keeps its event whole.
func TestWebhookDeliveriesLog(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		ctx := t.Context()
		var ids []string
		events := map[string]identification.Event{}
		saved := map[string]webhooks.Delivery{}
		for k := range 25 {
			ev := identification.Event{DetailType: "identification.step.completed", OrgID: "acme", ID: "p" + strconv.Itoa(k%3),
				Type: identification.TypeChain, Status: identification.StatusInProgress, Previous: identification.StatusCreated,
				Step:     &identification.StepRef{Position: k % 2, Type: "OTP", Status: "COMPLETED"},
				Evidence: identification.EvidenceSelfie, Version: int64(k + 1),
				At: now.Add(time.Duration(k)*time.Minute + 123456789*time.Nanosecond)}
			next := now.Add(time.Hour)
			d := webhooks.Delivery{ID: webhooks.DeliveryID("e1", ev), EndpointID: "e1", OrgID: "acme", EventType: ev.DetailType,
				IdentificationID: ev.ID, Version: ev.Version, Status: webhooks.DeliveryPending, Attempts: 1, LastStatusCode: 500,
				LastError: "status 500", NextAttemptAt: &next, At: ev.At.Truncate(time.Second)}
			h.counter.Reset()
			if err := h.store.SaveDelivery(ctx, d, ev); err != nil {
				t.Fatal(err)
			}
			if ops := h.counter.Ops(); !slices.Equal(ops, []string{"PutItem"}) {
				t.Errorf("SaveDelivery made %v; want one PutItem", ops)
			}
			ids = append(ids, d.ID)
			events[d.ID], saved[d.ID] = ev, d
		}
		// Another endpoint's deliveries are in another log.
		other := identification.Event{DetailType: "identification.created", OrgID: "acme", ID: "p9", Type: identification.TypeOTP, At: now.Add(time.Hour)}
		if err := h.store.SaveDelivery(ctx, webhooks.Delivery{ID: webhooks.DeliveryID("e2", other), EndpointID: "e2", OrgID: "acme",
			Status: webhooks.DeliveryPending, At: other.At}, other); err != nil {
			t.Fatal(err)
		}
		newestFirst := slices.Clone(ids)
		slices.Reverse(newestFirst)

		page := func(after string) ([]string, bool) {
			t.Helper()
			h.counter.Reset()
			got, more, err := h.store.Deliveries(ctx, "acme", "e1", 10, after)
			if err != nil {
				t.Fatal(err)
			}
			if ops := h.counter.Ops(); !slices.Equal(ops, []string{"Query"}) {
				t.Errorf("Deliveries made %v; want one Query", ops)
			}
			var out []string
			for _, d := range got {
				if !reflect.DeepEqual(d, saved[d.ID]) {
					t.Errorf("listed %+v\n saved %+v", d, saved[d.ID])
				}
				out = append(out, d.ID)
			}
			return out, more
		}
		all := func() []string {
			t.Helper()
			var out []string
			after := ""
			for n, wantMore := range []bool{true, true, false} {
				got, more := page(after)
				if len(got) != []int{10, 10, 5}[n] || more != wantMore {
					t.Errorf("page %d: %d deliveries, more %v; want %d, %v", n+1, len(got), more, []int{10, 10, 5}[n], wantMore)
				}
				out = append(out, got...)
				if len(got) > 0 {
					after = got[len(got)-1]
				}
			}
			if got, more := page(after); len(got) != 0 || more {
				t.Errorf("after the last page: %v, %v; want nothing", got, more)
			}
			return out
		}
		if got := all(); !slices.Equal(got, newestFirst) {
			t.Errorf("the log paged as\n %v\nwant newest first\n %v", got, newestFirst)
		}

		// The latest attempt's outcome replaces the entry.
		id := ids[7]
		d := saved[id]
		delivered := d.At.Add(time.Hour)
		d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.NextAttemptAt, d.DeliveredAt = webhooks.DeliveryDelivered, 2, 204, "", nil, &delivered
		if err := h.store.SaveDelivery(ctx, d, events[id]); err != nil {
			t.Fatal(err)
		}
		saved[id] = d
		if got := all(); !slices.Equal(got, newestFirst) {
			t.Errorf("after saving one again the log paged as\n %v\nwant\n %v", got, newestFirst)
		}
		gotD, gotE, err := h.store.Delivery(ctx, "acme", "e1", id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotD, d) {
			t.Errorf("Delivery = %+v\nwant %+v", gotD, d)
		}
		want := events[id]
		if !gotE.At.Equal(want.At) {
			t.Errorf("event time %v, want %v", gotE.At, want.At)
		}
		gotE.At, want.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(gotE, want) {
			t.Errorf("event = %+v\nwant %+v", gotE, want)
		}
		if webhooks.DeliveryID("e1", events[id]) != id {
			t.Error("the stored event does not give its delivery's id back")
		}

		raw := h.raw(t, "ORG#acme#WEBHOOK#e1", "D#"+id)
		if got, want := n(raw["ttl"]), strconv.FormatInt(d.At.Add(30*24*time.Hour).Unix(), 10); got != want {
			t.Errorf("ttl = %s, want %s (30 days after the event)", got, want)
		}
		if s(raw["kind"]) != "webhook-delivery" {
			t.Errorf("kind = %q", s(raw["kind"]))
		}

		// A page that holds exactly what is left says no more follow.
		for _, tc := range []struct {
			limit int
			more  bool
		}{{25, false}, {24, true}, {26, false}} {
			got, more, err := h.store.Deliveries(ctx, "acme", "e1", tc.limit, "")
			if err != nil || len(got) != min(tc.limit, 25) || more != tc.more {
				t.Errorf("Deliveries(limit %d) = %d, %v, %v; want %d, more %v", tc.limit, len(got), more, err, min(tc.limit, 25), tc.more)
			}
		}

		_, _, err = h.store.Delivery(ctx, "acme", "e1", "msg_nope")
		wantKind(t, "Delivery of a missing id", err, identification.KindNotFound)
		if got, more, err := h.store.Deliveries(ctx, "acme", "e3", 10, ""); len(got) != 0 || more || err != nil {
			t.Errorf("Deliveries of an endpoint with none = %v, %v, %v", got, more, err)
		}
		if got, more, err := h.store.Deliveries(ctx, "acme", "e2", 10, ""); len(got) != 1 || more || err != nil {
			t.Errorf("Deliveries of e2 = %v, %v, %v; want its one", got, more, err)
		}
		var ierr *identification.Error
		if _, _, err := h.store.Deliveries(ctx, "acme", "e1", 0, ""); err == nil || errors.As(err, &ierr) {
			t.Errorf("Deliveries with limit 0 = %v; want an internal error", err)
		}
	})
}

// transactConflicts cancels the next fail TransactWriteItems calls as
// DynamoDB does one that meets another transaction on its first item
// (the count), having written nothing, and records each call's
// ClientRequestToken.
type transactConflicts struct {
	mu     sync.Mutex
	fail   int
	tokens []string
}

func (c *transactConflicts) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("transactConflicts",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			req, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput)
			if !ok {
				return next.HandleInitialize(ctx, in)
			}
			c.mu.Lock()
			c.tokens = append(c.tokens, aws.ToString(req.ClientRequestToken))
			fail := c.fail > 0
			if fail {
				c.fail--
			}
			c.mu.Unlock()
			if !fail {
				return next.HandleInitialize(ctx, in)
			}
			reasons := make([]types.CancellationReason, len(req.TransactItems))
			for n := range reasons {
				reasons[n].Code = aws.String("None")
			}
			reasons[0].Code = aws.String("TransactionConflict")
			return middleware.InitializeOutput{}, middleware.Metadata{}, &types.TransactionCanceledException{
				Message: aws.String("Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]"), CancellationReasons: reasons}
		}), middleware.After)
}

func (c *transactConflicts) set(fail int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail, c.tokens = fail, nil
}

// distinctTokens reports whether every call had a token of its own.
func (c *transactConflicts) distinctTokens() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, tok := range c.tokens {
		if tok == "" || seen[tok] {
			return false
		}
		seen[tok] = true
	}
	return true
}

// TestWebhookEndpointTransactionConflictsAreTriedAgain: a registration or
// deletion that DynamoDB cancels for meeting another transaction on the
// count (which the SDK does not retry) is tried again, each time as a new
// transaction, and succeeds; one that keeps meeting others is KindConflict
// and has written nothing.
func TestWebhookEndpointTransactionConflictsAreTriedAgain(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		h := newHooks(t, e)
		c := &transactConflicts{}
		faulty, counter := enginetest.NewClientWithCounter(e, dynamodb.WithAPIOptions(c.addTo))
		store := dynamostore.New(faulty, dynamostore.Options{Table: h.table})
		ctx := t.Context()

		c.set(3)
		if err := store.CreateEndpoint(ctx, newEndpoint("acme", "e1", now)); err != nil {
			t.Fatalf("CreateEndpoint after 3 conflicts: %v", err)
		}
		if n := counter.Count("TransactWriteItems"); n != 4 || !c.distinctTokens() {
			t.Errorf("%d TransactWriteItems calls (tokens %q); want 4, each with its own token", n, c.tokens)
		}
		h.endpoint(t, "acme", "e1")

		c.set(1000)
		counter.Reset()
		err := store.CreateEndpoint(ctx, newEndpoint("acme", "e2", now))
		if wantKind(t, "CreateEndpoint that always conflicts", err, identification.KindConflict); err == nil || !strings.Contains(err.Error(), "retry") {
			t.Errorf("CreateEndpoint that always conflicts: %v; want to be told to retry", err)
		}
		if n := counter.Count("TransactWriteItems"); n < 2 || n > 20 {
			t.Errorf("%d TransactWriteItems calls for a registration that always conflicts; want a few", n)
		}
		err = store.DeleteEndpoint(ctx, "acme", "e1")
		wantKind(t, "DeleteEndpoint that always conflicts", err, identification.KindConflict)

		c.set(2)
		if err := store.DeleteEndpoint(ctx, "acme", "e1"); err != nil {
			t.Fatalf("DeleteEndpoint after 2 conflicts: %v", err)
		}
		if got := h.count(t, "acme"); got != "0" {
			t.Errorf("count = %q; want 0", got)
		}
		// An item for the index check.
		h.create(t, newEndpoint("acme", "e3", now))
	})
}
