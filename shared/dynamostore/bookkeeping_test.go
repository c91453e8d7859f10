package dynamostore_test

import (
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// deliveries is a table, its store and a service on it whose clock the
// test moves: what the tests of the processor's bookkeeping share.
type deliveries struct {
	store  *dynamostore.Store
	client *dynamodb.Client
	table  string
	svc    *identification.Service
	// counter counts the store's calls (and the test's raw reads).
	counter *enginetest.CallCounter
	mu      sync.Mutex
	now     time.Time
}

func newDeliveries(t *testing.T, e enginetest.Engine) *deliveries {
	t.Helper()
	s, client, table, counter := newStore(t, e)
	d := &deliveries{store: s, client: client, table: table, now: now, counter: counter}
	d.svc = identification.NewService(s, identification.WithCodeKeys(fixture.CodeKeys()),
		identification.WithClock(func() time.Time { d.mu.Lock(); defer d.mu.Unlock(); return d.now }))
	return d
}

func (d *deliveries) at() time.Time { d.mu.Lock(); defer d.mu.Unlock(); return d.now }

func (d *deliveries) advance(by time.Duration) { d.mu.Lock(); d.now = d.now.Add(by); d.mu.Unlock() }

var systemAdmin = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}

// create creates an OTP identification whose code the service sends by
// SMS, and returns it as a stream record's image shows it.
func (d *deliveries) create(t *testing.T) identification.StoredItem {
	t.Helper()
	created, err := d.svc.CreateOTP(t.Context(), "acme", identification.CreateOTP{
		Actor:   &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
		Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "P1D"}, systemAdmin)
	if err != nil {
		t.Fatal(err)
	}
	return d.image(t, created.Ref())
}

// image is the process item of ref as it is now, decoded as the stream
// processor decodes a record's image.
func (d *deliveries) image(t *testing.T, ref identification.Ref) identification.StoredItem {
	t.Helper()
	got, err := d.store.DecodeItem(d.raw(t, ref, "P"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Process == nil || got.Code == nil {
		t.Fatalf("%s: no process with a code: %+v", ref.ID, got)
	}
	return got
}

// raw reads the item of ref with sort key sk as DynamoDB holds it.
func (d *deliveries) raw(t *testing.T, ref identification.Ref, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := d.client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(d.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORG#" + ref.Org + "#" + string(ref.Type) + "#" + ref.ID},
			"sk": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		t.Fatalf("raw get %s: %v", sk, err)
	}
	return out.Item
}

func (d *deliveries) claim(t *testing.T, it identification.StoredItem, at time.Time) (identification.Delivery, bool) {
	t.Helper()
	got, ok, err := d.store.ClaimDelivery(t.Context(), it.Process, it.Code.Nonce, at, false)
	if err != nil {
		t.Fatalf("claim at %s: %v", at.Format(time.TimeOnly), err)
	}
	return got, ok
}

// TestAClaimIsAnItemOfItsOwn: claiming a code's delivery writes the code's
// claim item (D#<seq>: when, how often, the process's TTL; no index key),
// never the process item; a claim holds for ClaimTimeout, then may be taken
// again, counted; the outcome is one write of the process, which shows the
// claim's tries and last try from then on, and after it the code is never
// claimed again.
func TestAClaimIsAnItemOfItsOwn(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		d := newDeliveries(t, e)
		it := d.create(t)
		ref := it.Ref
		before := d.raw(t, ref, "P")

		t0 := d.at()
		got, ok := d.claim(t, it, t0)
		if !ok || got.Attempts != 1 || !got.LastTried.Equal(t0) || got.Status != identification.DeliveryPending {
			t.Fatalf("first claim = %+v, %v; want PENDING, 1 try at %v", got, ok, t0)
		}
		if after := d.raw(t, ref, "P"); !reflect.DeepEqual(after, before) {
			t.Errorf("the claim wrote the process item:\n before %v\n after  %v", before, after)
		}
		claim := d.raw(t, ref, "D#1")
		if s(claim["kind"]) != "delivery" || n(claim["tries"]) != "1" || n(claim["claimed_at"]) != strconv.FormatInt(t0.Unix(), 10) ||
			n(claim["ttl"]) != n(before["ttl"]) {
			t.Errorf("claim item %v; want kind delivery, 1 try at %d, the process's ttl %s", claim, t0.Unix(), n(before["ttl"]))
		}
		for name := range claim {
			if !map[string]bool{"pk": true, "sk": true, "kind": true, "claimed_at": true, "tries": true, "ttl": true}[name] {
				t.Errorf("claim item has %s", name)
			}
		}

		d.counter.Reset()
		if _, ok := d.claim(t, it, t0.Add(dynamostore.ClaimTimeout-time.Second)); ok {
			t.Error("a claim younger than ClaimTimeout was taken again")
		}
		// A claim reads the process and writes the claim item: never a
		// write of the process item, nor a transaction.
		if ops := d.counter.Ops(); len(ops) != 2 || ops[0] != "GetItem" || ops[1] != "UpdateItem" {
			t.Errorf("a held claim called %v, want the process's GetItem and the claim item's UpdateItem", ops)
		}
		t1 := t0.Add(dynamostore.ClaimTimeout)
		got, ok = d.claim(t, it, t1)
		if !ok || got.Attempts != 2 || !got.LastTried.Equal(t1) {
			t.Fatalf("claim after ClaimTimeout = %+v, %v; want 2 tries, the last at %v", got, ok, t1)
		}
		if after := d.raw(t, ref, "P"); !reflect.DeepEqual(after, before) {
			t.Error("the second claim wrote the process item")
		}

		outcome := got
		outcome.Status, outcome.MessageID = identification.DeliverySent, "msg-1"
		done, err := d.store.FinishDelivery(t.Context(), ref, it.Code.Nonce, outcome, t1.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if done.Version != it.Process.Version+1 {
			t.Errorf("the outcome moved the version %d → %d, want one up", it.Process.Version, done.Version)
		}
		read, err := d.store.Get(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if del := read.OTP.Delivery; del.Status != identification.DeliverySent || del.Attempts != 2 || !del.LastTried.Equal(t1) || del.MessageID != "msg-1" {
			t.Errorf("read delivery %+v; want SENT after 2 tries, the last at %v, msg-1", del, t1)
		}
		if _, ok := d.raw(t, ref, "P")["code_nonce"]; ok {
			t.Error("the nonce stayed after the outcome")
		}
		// A replay of the create's record, long after: nothing to claim.
		if _, ok := d.claim(t, it, t1.Add(time.Hour)); ok {
			t.Error("a delivered code was claimed again")
		}
		if _, err := d.store.FinishDelivery(t.Context(), ref, it.Code.Nonce, outcome, t1.Add(time.Hour)); identification.KindOf(err) != identification.KindConflict {
			t.Errorf("a second outcome: %v, want a conflict", err)
		}
	})
}

// TestManyClaimersOfOneCodeOneWins: processors claiming one code at once
// (a replayed batch handled twice, two pollers) get one claim between
// them, and none an error.
func TestManyClaimersOfOneCodeOneWins(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		d := newDeliveries(t, e)
		it := d.create(t)
		at := d.at()
		const claimers = 12
		var wg sync.WaitGroup
		won := make([]bool, claimers)
		errs := make([]error, claimers)
		for k := range claimers {
			wg.Go(func() { _, won[k], errs[k] = d.store.ClaimDelivery(t.Context(), it.Process, it.Code.Nonce, at, false) })
		}
		wg.Wait()
		wins := 0
		for k := range claimers {
			if won[k] {
				wins++
			}
			if errs[k] != nil {
				t.Errorf("claimer %d: %v", k, errs[k])
			}
		}
		if wins != 1 {
			t.Errorf("%d claimers of one code won, want 1", wins)
		}
		if claim := d.raw(t, it.Ref, "D#1"); n(claim["tries"]) != "1" {
			t.Errorf("claim item %v, want 1 try", claim)
		}
	})
}

// TestOnlyTheCurrentCodeOfAnOpenProcessIsClaimed: a code replaced by a
// resend, a cancelled process's code and an expired process's code are
// not claimed; the new code is, under its own claim item.
func TestOnlyTheCurrentCodeOfAnOpenProcessIsClaimed(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		d := newDeliveries(t, e)
		first := d.create(t)
		d.advance(identification.CodeSpacing)
		if _, err := d.svc.Resend(t.Context(), first.Ref, systemAdmin); err != nil {
			t.Fatal(err)
		}
		second := d.image(t, first.Ref)
		if second.Process.OTP.CodesSent != 2 {
			t.Fatalf("codes sent %d after a resend", second.Process.OTP.CodesSent)
		}
		if _, ok := d.claim(t, first, d.at()); ok {
			t.Error("the replaced code was claimed")
		}
		if _, ok := d.claim(t, second, d.at()); !ok {
			t.Error("the new code was not claimed")
		}
		if len(d.raw(t, first.Ref, "D#1")) != 0 || len(d.raw(t, first.Ref, "D#2")) == 0 {
			t.Error("the new code's claim is not D#2 alone")
		}

		// Expired: the record's image is older than the expiry.
		late := d.create(t)
		if _, ok := d.claim(t, late, late.Process.ExpiresAt); ok {
			t.Error("an expired process's code was claimed")
		}
		// Cancelled.
		gone := d.create(t)
		if _, err := d.svc.Cancel(t.Context(), gone.Ref, "", systemAdmin); err != nil {
			t.Fatal(err)
		}
		if _, ok := d.claim(t, gone, d.at()); ok {
			t.Error("a cancelled process's code was claimed")
		}
	})
}

// TestThePublishedMarkMovesForwardOnly: the last version published is the
// process's published item (B#pub), written only forward and never on the
// process item.
func TestThePublishedMarkMovesForwardOnly(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		d := newDeliveries(t, e)
		it := d.create(t)
		ref := it.Ref
		before := d.raw(t, ref, "P")
		if v, err := d.store.Published(t.Context(), ref); err != nil || v != 0 {
			t.Fatalf("published before any mark: %d, %v", v, err)
		}
		at := func(v int64) *identification.Identification { i := *it.Process; i.Version = v; return &i }
		for _, c := range []struct {
			version int64
			moved   bool
			then    int64
		}{{2, true, 2}, {1, false, 2}, {2, false, 2}, {3, true, 3}} {
			moved, err := d.store.MarkPublished(t.Context(), at(c.version))
			if err != nil || moved != c.moved {
				t.Errorf("mark v%d = %v, %v; want %v", c.version, moved, err, c.moved)
			}
			if v, err := d.store.Published(t.Context(), ref); err != nil || v != c.then {
				t.Errorf("after marking v%d: published %d, %v; want %d", c.version, v, err, c.then)
			}
		}
		if after := d.raw(t, ref, "P"); !reflect.DeepEqual(after, before) {
			t.Error("a published mark wrote the process item")
		}
		mark := d.raw(t, ref, "B#pub")
		if s(mark["kind"]) != "published" || n(mark["published_version"]) != "3" || n(mark["ttl"]) != n(before["ttl"]) || len(mark) != 5 {
			t.Errorf("published item %v; want kind published, version 3, the process's ttl %s", mark, n(before["ttl"]))
		}
	})
}

// TestAClaimCarriesThePublishedMark: a claim asked to mark writes its
// version into the claim item, in the claim's one write, and the published
// version is then the highest mark of the process's bookkeeping items; a
// claim refused (held by another) marks nothing; the published item moves
// past a claim's mark.
func TestAClaimCarriesThePublishedMark(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		d := newDeliveries(t, e)
		it := d.create(t)
		ref := it.Ref
		at := d.at()
		if _, ok, err := d.store.ClaimDelivery(t.Context(), it.Process, it.Code.Nonce, at, true); !ok || err != nil {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		claim := d.raw(t, ref, "D#1")
		if n(claim["published_version"]) != n(d.raw(t, ref, "P")["version"]) || n(claim["tries"]) != "1" {
			t.Errorf("claim item %v; want the process's version as its published mark, one try", claim)
		}
		if got := d.raw(t, ref, "B#pub"); len(got) != 0 {
			t.Errorf("the claim wrote the published item: %v", got)
		}
		if v, err := d.store.Published(t.Context(), ref); err != nil || v != it.Process.Version {
			t.Errorf("published %d, %v; want %d, the claim's mark", v, err, it.Process.Version)
		}
		// Held: a second claimer asking to mark a later version marks nothing.
		later := *it.Process
		later.Version += 5
		if _, ok, err := d.store.ClaimDelivery(t.Context(), &later, it.Code.Nonce, at, true); ok || err != nil {
			t.Fatalf("a held claim = %v, %v; want refused", ok, err)
		}
		if v, err := d.store.Published(t.Context(), ref); err != nil || v != it.Process.Version {
			t.Errorf("after a refused claim: published %d, %v; want %d", v, err, it.Process.Version)
		}
		next := *it.Process
		next.Version++
		if moved, err := d.store.MarkPublished(t.Context(), &next); !moved || err != nil {
			t.Fatalf("mark v%d = %v, %v", next.Version, moved, err)
		}
		if v, err := d.store.Published(t.Context(), ref); err != nil || v != next.Version {
			t.Errorf("published %d, %v; want %d, the published item's", v, err, next.Version)
		}
	})
}

func s(av types.AttributeValue) string {
	if v, ok := av.(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func n(av types.AttributeValue) string {
	if v, ok := av.(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
