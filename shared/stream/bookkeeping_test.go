package stream_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// TestManyProcessorsOnOneRecordSendOnce: the create's record handled by
// many processors at once (a batch retried while its first try still
// runs, two pollers) sends the code once: one of them claims it, and the
// others handle the record without sending and without an error.
func TestManyProcessorsOnOneRecordSendOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		i := r.createOTP(t, "SMS", "EN", false)
		batch := r.poll(t)
		if len(batch) != 1 {
			t.Fatalf("%d records, want the create's", len(batch))
		}
		const processors = 8
		var wg sync.WaitGroup
		failed := make([]error, processors)
		for k := range processors {
			p := *r.proc
			wg.Go(func() { _, failed[k] = p.Process(context.Background(), batch) })
		}
		wg.Wait()
		for k, err := range failed {
			if err != nil {
				t.Errorf("processor %d: %v", k, err)
			}
		}
		r.drain(t)
		if n := len(r.box.messages()); n != 1 {
			t.Errorf("%d messages from %d processors at once, want 1", n, processors)
		}
		got, err := r.svc.Get(t.Context(), i.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if d := got.OTP.Delivery; d.Status != identification.DeliverySent || d.Attempts != 1 {
			t.Errorf("delivery %+v, want SENT after one claim", d)
		}
	})
}

// markCrash fails MarkPublished once, after the events were published:
// the crash between publishing and recording it.
type markCrash struct {
	stream.Store
	crashed bool
}

func (s *markCrash) MarkPublished(ctx context.Context, i *identification.Identification) (bool, error) {
	if !s.crashed {
		s.crashed = true
		return false, errors.New("crash")
	}
	return s.Store.MarkPublished(ctx, i)
}

// TestACrashBetweenPublishAndMarkPublishesAgainOnce: events are published
// before the published mark is written; a crash between the two fails the
// record, and its retry publishes that version's events again (at least
// once: de-duplicate on id and version, docs/delivery-and-events.md),
// marks it and goes on; a later replay of the whole stream publishes
// nothing again, and no code goes out twice.
func TestACrashBetweenPublishAndMarkPublishesAgainOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		r.proc.Store = &markCrash{Store: r.store}
		i := r.createOTP(t, "SMS", "EN", false)
		batch := r.poll(t)
		n, err := r.proc.Process(t.Context(), batch)
		if err == nil || n != 0 {
			t.Fatalf("Process = %d, %v; want the first record to fail", n, err)
		}
		if got := detailTypes(r.log.of(i.ID)); got != "identification.created@1" {
			t.Fatalf("events before the retry: %s", got)
		}
		if len(r.box.messages()) != 0 {
			t.Fatal("the failed record sent the code")
		}
		if _, err := r.proc.Process(t.Context(), batch[n:]); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		want := "identification.created@1 identification.created@1 identification.code.sent@2"
		if got := detailTypes(r.log.of(i.ID)); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
		if v, err := r.store.Published(t.Context(), i.Ref()); err != nil || v != 2 {
			t.Errorf("published %d, %v; want 2", v, err)
		}
		// The whole stream again, from the start: nothing more.
		all, err := localstreamFromStart(t, r, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.proc.Process(t.Context(), all); err != nil {
			t.Fatal(err)
		}
		if got := detailTypes(r.log.of(i.ID)); got != want {
			t.Errorf("after replaying the stream: events %s", got)
		}
		if n := len(r.box.messages()); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
	})
}

// localstreamFromStart reads r's table's stream again from its oldest
// record, through the stream function's filter.
func localstreamFromStart(t *testing.T, r *rig, e enginetest.Engine) ([]stream.Record, error) {
	t.Helper()
	reader, err := localstream.New(t.Context(), r.client, localengine.NewStreamsClient(e.Endpoint), r.table, nil)
	if err != nil {
		return nil, err
	}
	return reader.Poll(t.Context())
}
