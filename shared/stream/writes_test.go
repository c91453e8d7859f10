package stream_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// itemWrites tallies the records of a table's stream by the item they are
// of: the process item's changes (its version moved), the writes to the
// process item that changed no version (bookkeeping written on it), and
// the records of other items.
type itemWrites struct {
	processChanges, processBookkeeping int
	other                              map[string]int // by sort key
}

func (w *itemWrites) add(r stream.Record) {
	sk, version := attrS(r.New, "sk"), attrN(r.New, "version")
	if sk == "" {
		sk = attrS(r.Old, "sk")
	}
	switch {
	case sk != "P":
		if w.other == nil {
			w.other = map[string]int{}
		}
		w.other[sk]++
	case r.Old != nil && r.New != nil && attrN(r.Old, "version") == version:
		w.processBookkeeping++
	default:
		w.processChanges++
	}
}

func (w itemWrites) String() string {
	return fmt.Sprintf("process item: %d changes + %d bookkeeping writes; other items: %v", w.processChanges, w.processBookkeeping, w.other)
}

func attrS(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrN(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}

// TestWritesOfOneVerification counts, on each engine, the records the
// table's stream holds after one OTP verification whose code the service
// sends by SMS: the create, the stream processor delivering the code and
// publishing every change, one wrong attempt and one right one. Each
// record is a write to its item, and each record of the process item is
// one the stream function is woken for.
func TestWritesOfOneVerification(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		// The whole stream, as the table's stream holds it, beside what
		// the processor is handed through the event source's filter.
		all, err := localstream.New(t.Context(), r.client, localengine.NewStreamsClient(e.Endpoint), r.table, nil)
		if err != nil {
			t.Fatal(err)
		}
		all.SetFilter(nil)
		var w itemWrites
		handed := 0
		drain := func() {
			for round := 0; round < 20; round++ {
				recs := r.poll(t)
				handed += len(recs)
				if n, err := r.proc.Process(t.Context(), recs); err != nil {
					t.Fatalf("process: %d of %d: %v", n, len(recs), err)
				}
				raw, err := all.Poll(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range raw {
					w.add(rec)
				}
				if len(recs) == 0 && len(raw) == 0 {
					return
				}
			}
			t.Fatal("the stream did not run dry")
		}
		i := r.createOTP(t, "SMS", "EN", false)
		drain()
		msgs := r.box.messages()
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(msgs))
		}
		wrong := "zzzzzz"
		if msgs[0].Code == wrong {
			wrong = "yyyyyy"
		}
		if err := r.svc.Validate(t.Context(), i.Ref(), identification.Validation{Code: wrong}, actor); err == nil {
			t.Fatal("a wrong code validated")
		}
		if err := r.svc.Validate(t.Context(), i.Ref(), identification.Validation{Code: msgs[0].Code}, actor); err != nil {
			t.Fatalf("the right code: %v", err)
		}
		drain()
		got, err := r.svc.Get(t.Context(), i.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != identification.StatusCompleted {
			t.Fatalf("status %s, want COMPLETED", got.Status)
		}
		t.Logf("one SMS verification: %s", w)
		// The process item is written for its 5 changes only: the
		// create, the delivery's outcome, the wrong attempt, the right
		// one counted, the completion. The delivery's claim is the code's
		// claim item, and marks v1 (created) published in the same write;
		// the other 3 published marks (v2 code sent, v3 in progress, v5
		// completed) go to the published item. (Before they had items of
		// their own, the claim and the marks were 5 more writes of the
		// process item: 10; before the claim carried v1's mark, the
		// published item took 4.)
		want := map[string]int{"D#1": 1, "B#pub": 3}
		if w.processChanges != 5 || w.processBookkeeping != 0 || fmt.Sprint(w.other) != fmt.Sprint(want) {
			t.Errorf("%s; want 5 changes of the process item and nothing else on it, and bookkeeping %v", w, want)
		}
		// The stream function is handed the 5 changes, none of the
		// bookkeeping: the event source's filter drops it.
		if handed != 5 {
			t.Errorf("the processor was handed %d records, want the 5 changes", handed)
		}
	})
}
