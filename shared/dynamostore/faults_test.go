package dynamostore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// faultRig is a table on one engine seen through two stores: one whose
// client suffers the injected faults, and a clean one to check what the
// table really holds.
type faultRig struct {
	faults *apitest.Faults
	store  *dynamostore.Store
	clean  *dynamostore.Store
	client *dynamodb.Client
	table  string
}

func newFaultRig(t *testing.T, e enginetest.Engine) *faultRig {
	t.Helper()
	cleanClient, table, _ := enginetest.NewTable(t, e)
	faults := &apitest.Faults{}
	faulty, _ := enginetest.NewClientWithCounter(e, faults.ClientOptions()...)
	opts := dynamostore.Options{Table: table}
	return &faultRig{faults: faults, store: dynamostore.New(faulty, opts), clean: dynamostore.New(cleanClient, opts), client: cleanClient, table: table}
}

var faultNow = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func faultSample(t *testing.T) *identification.Identification {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return &identification.Identification{
		ID: id.String(), OrgID: "acme", Type: identification.TypeOTP, Status: identification.StatusCreated,
		CreatedAt: faultNow, UpdatedAt: faultNow, ExpiresAt: faultNow.Add(time.Hour),
		Actor:   identification.Actor{Name: "Fault", Email: "fault@example.com"},
		Channel: &identification.Channel{Type: "EMAIL"},
		Version: 1,
	}
}

// mustSeed creates i through the clean store.
func (r *faultRig) mustSeed(t *testing.T, i *identification.Identification) {
	t.Helper()
	if err := r.clean.Create(t.Context(), i, nil); err != nil {
		t.Fatalf("seed %s: %v", i.ID, err)
	}
}

// stored reads i through the clean store; nil when it is not there.
func (r *faultRig) stored(t *testing.T, i *identification.Identification) *identification.Identification {
	t.Helper()
	got, err := r.clean.Get(t.Context(), i.Ref())
	if identification.KindOf(err) == identification.KindNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("clean read of %s: %v", i.ID, err)
	}
	return got
}

// checkWhole checks that every item in the table is internally
// consistent: an open one is in the open-process index and has no end, a
// final one has left the index and has its end; both have a TTL. A write
// that was cut in half would break one of these.
func (r *faultRig) checkWhole(t *testing.T) {
	t.Helper()
	out, err := r.client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	for _, item := range out.Items {
		if k, _ := item["kind"].(*types.AttributeValueMemberS); k != nil && k.Value == "tombstone" {
			_, actor := item["actor"]
			_, deletedAt := item["deleted_at"]
			_, ttl := item["ttl"]
			if actor || !deletedAt || !ttl {
				t.Errorf("tombstone %v: actor %v, deleted_at %v, ttl %v; want no actor, both set", item["pk"], actor, deletedAt, ttl)
			}
			continue
		}
		status := item["status"].(*types.AttributeValueMemberS).Value
		_, shard := item["open_shard"]
		_, openExp := item["open_expires_at"]
		_, ended := item["ended_at"]
		_, ttl := item["ttl"]
		open := identification.Status(status).Open()
		if shard != open || openExp != open || ended == open || !ttl {
			t.Errorf("item %v is half written: status %s, open_shard %v, open_expires_at %v, ended_at %v, ttl %v",
				item["pk"], status, shard, openExp, ended, ttl)
		}
	}
}

// transientFaults fail an attempt and then clear; the SDK retries each.
var transientFaults = []apitest.Fault{apitest.FaultThrottle, apitest.FaultServerError, apitest.FaultConnReset}

func TestSDKRetriesTransientFaults(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newFaultRig(t, e)
		ctx := t.Context()
		for _, fault := range transientFaults {
			t.Run(fault.String(), func(t *testing.T) {
				// Two failures and the third (last) attempt succeeds.
				i := faultSample(t)
				r.faults.Reset()
				r.faults.Set(apitest.Rule{Op: "PutItem", Fault: fault, Times: 2})
				if err := r.store.Create(ctx, i, nil); err != nil {
					t.Fatalf("create: %v", err)
				}
				r.faults.Set(apitest.Rule{Op: "GetItem", Fault: fault, Times: 2})
				if _, err := r.store.Get(ctx, i.Ref()); err != nil {
					t.Fatalf("get: %v", err)
				}
				r.faults.Set(apitest.Rule{Op: "UpdateItem", Fault: fault, Times: 2})
				if err := identification.Do(ctx, r.store, i.Ref(), identification.Command{Action: identification.ActionCancel, At: faultNow, Reason: "fault"}); err != nil {
					t.Fatalf("cancel: %v", err)
				}
				for _, op := range []string{"PutItem", "GetItem", "UpdateItem"} {
					if got, inj := r.faults.Attempts(op), r.faults.Injected(op); got != 3 || inj != 2 {
						t.Errorf("%s: %d attempts with %d failed, want 3 with 2 failed", op, got, inj)
					}
				}
				got := r.stored(t, i)
				if got == nil || got.Status != identification.StatusCancelled || got.Version != 2 {
					t.Fatalf("after cancel: got %+v, want CANCELLED version 2", got)
				}
				r.faults.Set(apitest.Rule{Op: "DeleteItem", Fault: fault, Times: 2})
				if err := r.store.Delete(ctx, i.Ref(), true, identification.Caller{Kind: identification.CallerAdmin, Sub: "test-admin"}, faultNow); err != nil {
					t.Fatalf("delete: %v", err)
				}
				if r.stored(t, i) != nil {
					t.Errorf("still there after delete")
				}
			})
		}
		r.checkWhole(t)
	})
}

func TestPersistentFaultsAreUnavailableAndLeaveRecordsWhole(t *testing.T) {
	faults := append(transientFaults, apitest.FaultLostResponse)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newFaultRig(t, e)
		ctx := t.Context()
		for _, fault := range faults {
			t.Run(fault.String(), func(t *testing.T) {
				existing := faultSample(t)
				r.mustSeed(t, existing)
				fresh := faultSample(t)
				r.faults.Reset()
				r.faults.Set(apitest.Rule{Fault: fault})
				cancel := identification.Command{Action: identification.ActionCancel, At: faultNow, Reason: "fault"}
				calls := []struct {
					op  string
					run func() error
				}{
					{"PutItem", func() error { return r.store.Create(ctx, fresh, nil) }},
					{"GetItem", func() error { _, err := r.store.Get(ctx, existing.Ref()); return err }},
					{"UpdateItem", func() error { return identification.Do(ctx, r.store, existing.Ref(), cancel) }},
					// A delete reads first (for the record of the key the
					// process was created with), so its read is what fails.
					{"GetItem", func() error {
						return r.store.Delete(ctx, existing.Ref(), true, identification.Caller{Kind: identification.CallerAdmin, Sub: "test-admin"}, faultNow)
					}},
				}
				for _, c := range calls {
					before := r.faults.Attempts(c.op)
					err := c.run()
					if kind := identification.KindOf(err); kind != identification.KindUnavailable {
						t.Errorf("%s: got %v (kind %s), want KindUnavailable", c.op, err, kind)
					}
					if n := r.faults.Attempts(c.op) - before; n != 3 {
						t.Errorf("%s: %d attempts, want 3 (the SDK's standard policy)", c.op, n)
					}
				}
				r.faults.Reset()
				// Untouched, or (a lost response means the engine did the
				// work) changed as a whole: never half.
				got := r.stored(t, existing)
				switch {
				case fault != apitest.FaultLostResponse:
					if !reflect.DeepEqual(got, existing) {
						t.Errorf("a failed call changed the record:\n got %+v\nwant %+v", got, existing)
					}
					if r.stored(t, fresh) != nil {
						t.Errorf("a failed create stored the record")
					}
				default:
					// The lost cancel landed; the delete never got past
					// its read, so the record is the cancelled one, whole.
					if got == nil || got.Status != identification.StatusCancelled || got.Version != existing.Version+1 {
						t.Errorf("after a lost cancel and a failed delete: %+v, want it CANCELLED at version %d", got, existing.Version+1)
					}
					if f := r.stored(t, fresh); !reflect.DeepEqual(f, fresh) {
						t.Errorf("a create whose response was lost: stored %+v, want %+v", f, fresh)
					}
				}
			})
		}
		r.checkWhole(t)
	})
}

// TestLostResponsesAreRetriedSafely loses the response of each write's first
// attempt: the engine did the work, the SDK retries, and the retry meets
// the write already done. Each write must have happened exactly once.
func TestLostResponsesAreRetriedSafely(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newFaultRig(t, e)
		ctx := t.Context()

		t.Run("cancel", func(t *testing.T) {
			i := faultSample(t)
			r.mustSeed(t, i)
			r.faults.Reset()
			r.faults.Set(apitest.Rule{Op: "UpdateItem", Fault: apitest.FaultLostResponse, Times: 1})
			err := identification.Do(ctx, r.store, i.Ref(), identification.Command{Action: identification.ActionCancel, At: faultNow, Reason: "lost"})
			// The retry is refused by the condition, but the item it meets
			// carries this call's token: the cancel landed, and the caller
			// hears so.
			if err != nil {
				t.Errorf("got %v, want success", err)
			}
			if n := r.faults.Attempts("UpdateItem"); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
			got := r.stored(t, i)
			if got.Status != identification.StatusCancelled || got.Version != 2 || got.CancelReason != "lost" {
				t.Errorf("got status %s version %d reason %q, want CANCELLED 2 lost", got.Status, got.Version, got.CancelReason)
			}
		})

		t.Run("close", func(t *testing.T) {
			i := faultSample(t)
			r.mustSeed(t, i)
			r.faults.Reset()
			r.faults.Set(apitest.Rule{Op: "UpdateItem", Fault: apitest.FaultLostResponse, Times: 1})
			e, _ := identification.Plan(identification.Command{Action: identification.ActionClose, At: faultNow})
			res, err := r.store.Apply(ctx, i.Ref(), e)
			if err != nil || res.New == nil || res.New.Version != 2 || res.New.Status != identification.StatusClosed {
				t.Errorf("got %+v, %v; want success with CLOSED version 2", res.New, err)
			}
			if n := r.faults.Attempts("UpdateItem"); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
			if got := r.stored(t, i); got.Status != identification.StatusClosed || got.Version != 2 {
				t.Errorf("stored %s version %d, want CLOSED 2", got.Status, got.Version)
			}
		})

		t.Run("attempt", func(t *testing.T) {
			// A retried attempt must not count one guess twice.
			i := faultSample(t)
			i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: faultNow.Add(5 * time.Minute), LastCodeAt: faultNow}
			if err := r.clean.Create(t.Context(), i, &identification.CodeMaterial{Hash: "h", KeyID: "k"}); err != nil {
				t.Fatal(err)
			}
			r.faults.Reset()
			r.faults.Set(apitest.Rule{Op: "UpdateItem", Fault: apitest.FaultLostResponse, Times: 1})
			e, _ := identification.Plan(identification.Command{Action: identification.ActionAttempt, At: faultNow, Guesses: []string{"g"}})
			res, err := r.store.Apply(ctx, i.Ref(), e)
			if err != nil || res.New == nil || res.New.OTP.Attempts != 1 || res.Code == nil || len(res.Code.Guesses) != 1 {
				t.Fatalf("got %+v, %v; want the attempt counted once", res, err)
			}
			if got := r.stored(t, i); got.OTP.Attempts != 1 || got.Version != 2 {
				t.Errorf("stored attempts %d version %d, want 1 and 2", got.OTP.Attempts, got.Version)
			}
		})

		t.Run("create", func(t *testing.T) {
			i := faultSample(t)
			r.faults.Reset()
			r.faults.Set(apitest.Rule{Op: "PutItem", Fault: apitest.FaultLostResponse, Times: 1})
			err := r.store.Create(ctx, i, nil)
			// The retry meets the item the first attempt wrote, recognises
			// its own token and reports success; the record is stored once.
			if err != nil {
				t.Errorf("got %v, want success", err)
			}
			if got := r.stored(t, i); !reflect.DeepEqual(got, i) {
				t.Errorf("stored %+v, want %+v", got, i)
			}
		})

		t.Run("delete", func(t *testing.T) {
			i := faultSample(t)
			r.mustSeed(t, i)
			r.faults.Reset()
			r.faults.Set(apitest.Rule{Op: "UpdateItem", Fault: apitest.FaultLostResponse, Times: 1})
			err := r.store.Delete(ctx, i.Ref(), false, identification.Caller{Kind: identification.CallerAdmin, Sub: "test-admin"}, faultNow)
			if err != nil {
				t.Errorf("got %v, want success", err)
			}
			if n := r.faults.Attempts("UpdateItem"); n != 2 {
				t.Errorf("%d attempts, want 2", n)
			}
			if r.stored(t, i) != nil {
				t.Errorf("the record survived its delete")
			}
		})
		r.checkWhole(t)
	})
}

// TestDeadlinesAreRespected gives each call a deadline, as Lambda's
// remaining time would, and makes the store slower than it.
func TestDeadlinesAreRespected(t *testing.T) {
	const deadline = 200 * time.Millisecond
	// margin allows for a loaded machine running the race detector.
	const margin = 500 * time.Millisecond
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newFaultRig(t, e)
		for _, fault := range []apitest.Fault{apitest.FaultSlow, apitest.FaultSlowResponse} {
			t.Run(fault.String(), func(t *testing.T) {
				i := faultSample(t)
				r.mustSeed(t, i)
				r.faults.Reset()
				r.faults.Set(apitest.Rule{Fault: fault, Delay: time.Minute})
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				start := time.Now()
				err := identification.Do(ctx, r.store, i.Ref(), identification.Command{Action: identification.ActionClose, At: faultNow})
				if took := time.Since(start); took > deadline+margin {
					t.Errorf("returned after %s, want by the %s deadline (+%s)", took, deadline, margin)
				}
				if identification.KindOf(err) != identification.KindUnavailable {
					t.Errorf("got %v, want KindUnavailable", err)
				}
				if n := r.faults.Attempts("UpdateItem"); n != 1 {
					t.Errorf("%d attempts, want 1: no retry past the deadline", n)
				}
				r.faults.Reset()
				got := r.stored(t, i)
				switch fault {
				case apitest.FaultSlow: // never sent
					if !reflect.DeepEqual(got, i) {
						t.Errorf("an unsent close changed the record: %+v", got)
					}
				case apitest.FaultSlowResponse: // done, answer late
					if got.Status != identification.StatusClosed || got.Version != 2 {
						t.Errorf("a close whose answer came late: got %s version %d, want CLOSED 2", got.Status, got.Version)
					}
				}
			})
		}
		r.checkWhole(t)
	})
}

// TestRetryQuotaBoundsAStorm shows what sustained throttling does: the
// SDK's retry quota (500 tokens, 5 per throttled retry) runs out after
// about 50 failing calls, and from then on calls fail at their first
// attempt instead of tripling the load on a struggling table. Every call is
// still KindUnavailable.
func TestRetryQuotaBoundsAStorm(t *testing.T) {
	e := enginetest.Engines(t)[0]
	r := newFaultRig(t, e)
	i := faultSample(t)
	r.mustSeed(t, i)
	r.faults.Set(apitest.Rule{Op: "GetItem", Fault: apitest.FaultThrottle})
	var perCall []int
	for n := 0; n < 80; n++ {
		before := r.faults.Attempts("GetItem")
		_, err := r.store.Get(t.Context(), i.Ref())
		if identification.KindOf(err) != identification.KindUnavailable {
			t.Fatalf("call %d: got %v, want KindUnavailable", n, err)
		}
		perCall = append(perCall, r.faults.Attempts("GetItem")-before)
	}
	if perCall[0] != 3 || perCall[len(perCall)-1] != 1 {
		t.Errorf("attempts per call: first %d, last %d; want 3 then 1 once the quota is spent (%v)", perCall[0], perCall[len(perCall)-1], perCall)
	}
	// Once the faults clear, calls succeed again (each success refunds a
	// token; a first attempt needs none).
	r.faults.Reset()
	if _, err := r.store.Get(t.Context(), i.Ref()); err != nil {
		t.Errorf("after the storm: %v", err)
	}
}
