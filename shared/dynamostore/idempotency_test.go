package dynamostore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/identification"
)

// TestTransactionRefusalsAreClassifiedByItem: the action and the key's
// record are one TransactWriteItems; whichever of the two refuses, the
// refusal is told from its own cancellation reason, and nothing is
// written.
func TestTransactionRefusalsAreClassifiedByItem(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, _, _, _ := newStore(t, e)
		rec := func(key, request string) identification.Idempotency {
			return identification.Idempotency{Key: key, Request: request, Status: 204, At: now}
		}
		cancel, _ := identification.Plan(identification.Command{Action: identification.ActionCancel, At: now, Reason: "r"})
		i := sample(t, identification.StatusCreated, now.Add(time.Hour))
		mustCreate(t, s, i)

		// Both written.
		if _, replay, err := s.ApplyOnce(t.Context(), i.Ref(), cancel, rec("k1", "req-a")); err != nil || replay != nil {
			t.Fatalf("first: %v %v", replay, err)
		}
		// Refused by the record, same request: the first answer, no action.
		_, replay, err := s.ApplyOnce(t.Context(), i.Ref(), cancel, rec("k1", "req-a"))
		if err != nil || replay == nil || replay.Status != 204 {
			t.Errorf("same key, same request: %+v %v, want the record", replay, err)
		}
		// Refused by the record, another request.
		_, _, err = s.ApplyOnce(t.Context(), i.Ref(), cancel, rec("k1", "req-b"))
		var de *identification.Error
		if !errors.As(err, &de) || de.Kind != identification.KindConflict || !strings.Contains(de.Message, "another request") {
			t.Errorf("same key, another request: %v", err)
		}
		// Refused by the action (already CANCELLED), with a fresh key: the
		// lifecycle's refusal, and the key is not recorded.
		_, _, err = s.ApplyOnce(t.Context(), i.Ref(), cancel, rec("k2", "req-c"))
		if !errors.As(err, &de) || de.Kind != identification.KindConflict || !strings.Contains(de.Message, "CANCELLED") {
			t.Errorf("refused action: %v", err)
		}
		close, _ := identification.Plan(identification.Command{Action: identification.ActionClose, At: now})
		j := sample(t, identification.StatusCreated, now.Add(time.Hour))
		mustCreate(t, s, j)
		if _, replay, err := s.ApplyOnce(t.Context(), j.Ref(), close, rec("k2", "req-d")); err != nil || replay != nil {
			t.Errorf("k2 after a refused action: %v %v, want it unused", replay, err)
		}
		if got, _ := s.Get(t.Context(), i.Ref()); got.Version != 2 {
			t.Errorf("version %d after one applied cancel, want 2", got.Version)
		}
		// A missing process: not found, the key not recorded.
		missing := identification.Ref{Org: "acme", Type: identification.TypeChain, ID: "0193a000-0000-7000-8000-0000000000ff"}
		if _, _, err := s.ApplyOnce(t.Context(), missing, cancel, rec("k3", "req-e")); identification.KindOf(err) != identification.KindNotFound {
			t.Errorf("missing: %v", err)
		}
	})
}

// TestALostTransactionResponseIsRetriedSafely: the SDK's retry of a
// transaction whose answer was lost carries the same ClientRequestToken, so
// DynamoDB applies it once and the caller hears success.
func TestALostTransactionResponseIsRetriedSafely(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newFaultRig(t, e)
		i := faultSample(t)
		r.mustSeed(t, i)
		r.faults.Reset()
		r.faults.Set(apitest.Rule{Op: "TransactWriteItems", Fault: apitest.FaultLostResponse, Times: 1})
		cancel, _ := identification.Plan(identification.Command{Action: identification.ActionCancel, At: faultNow, Reason: "lost"})
		_, replay, err := r.store.ApplyOnce(t.Context(), i.Ref(), cancel, identification.Idempotency{Key: "lost", Request: "req", Status: 204, At: faultNow})
		if err != nil || replay != nil {
			t.Fatalf("got %v %v, want success", replay, err)
		}
		if n := r.faults.Attempts("TransactWriteItems"); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
		if got := r.stored(t, i); got.Status != identification.StatusCancelled || got.Version != 2 {
			t.Errorf("stored %s v%d, want CANCELLED v2", got.Status, got.Version)
		}
	})
}
