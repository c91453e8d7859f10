package stream_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

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

// claimCrash fails ClaimDelivery once, before it writes: the crash between
// publishing a version that issued a code and its claim, which carries
// that version's published mark.
type claimCrash struct {
	stream.Store
	crashed bool
	marks   []bool
}

func (s *claimCrash) ClaimDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time, mark bool) (identification.Delivery, bool, error) {
	s.marks = append(s.marks, mark)
	if !s.crashed {
		s.crashed = true
		return identification.Delivery{}, false, errors.New("crash")
	}
	return s.Store.ClaimDelivery(ctx, i, nonce, at, mark)
}

// TestACrashBetweenPublishAndMarkPublishesAgainOnce: events are published
// before the published mark is written, by the claim of the code the
// version issued (the create's record) or on its own (the delivery's
// outcome's record); a crash before either fails the record, and its retry
// publishes that version's events again (at least once: de-duplicate on id
// and version, docs/delivery-and-events.md), marks it and goes on; a later
// replay of the whole stream publishes nothing again, and no code goes out
// twice.
func TestACrashBetweenPublishAndMarkPublishesAgainOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		claims := &claimCrash{Store: r.store}
		marks := &markCrash{Store: claims}
		r.proc.Store = marks
		i := r.createOTP(t, "SMS", "EN", false)
		retry := func(want string) {
			t.Helper()
			batch := r.poll(t)
			n, err := r.proc.Process(t.Context(), batch)
			if err == nil || n != 0 {
				t.Fatalf("Process = %d, %v; want the first record to fail", n, err)
			}
			if got := detailTypes(r.log.of(i.ID)); got != want {
				t.Fatalf("events before the retry: %s, want %s", got, want)
			}
			if _, err := r.proc.Process(t.Context(), batch[n:]); err != nil {
				t.Fatal(err)
			}
		}
		// The create's record: the claim (which would carry the mark)
		// crashes, and so does the mark written without it; nothing is
		// sent; the retry publishes again, and its claim marks.
		retry("identification.created@1")
		if !slices.Equal(claims.marks, []bool{true, true}) {
			t.Errorf("the create's record's claims marked %v, want two claims that mark (the crash, the retry)", claims.marks)
		}
		if n := len(r.box.messages()); n != 1 {
			t.Fatalf("%d messages after the create's record, want 1", n)
		}
		// The outcome's record: no code to claim; its own mark crashes.
		marks.crashed = false
		retry("identification.created@1 identification.created@1 identification.code.sent@2")
		want := "identification.created@1 identification.created@1 identification.code.sent@2 identification.code.sent@2"
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

// TestAFailedClaimStillMarksItsVersion: when the claim that would carry a
// version's published mark fails, the mark is written on its own before
// the record fails, so the record's retry publishes nothing again; it
// claims (without a mark) and sends the code once.
func TestAFailedClaimStillMarksItsVersion(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		claims := &claimCrash{Store: r.store}
		r.proc.Store = claims
		i := r.createOTP(t, "SMS", "EN", false)
		batch := r.poll(t)
		if n, err := r.proc.Process(t.Context(), batch); err == nil || n != 0 {
			t.Fatalf("Process = %d, %v; want the first record to fail", n, err)
		}
		if v, err := r.store.Published(t.Context(), i.Ref()); err != nil || v != 1 {
			t.Errorf("published %d, %v after the failed claim; want 1", v, err)
		}
		if _, err := r.proc.Process(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		if want, got := "identification.created@1 identification.code.sent@2", detailTypes(r.log.of(i.ID)); got != want {
			t.Errorf("events %s, want %s", got, want)
		}
		if !slices.Equal(claims.marks, []bool{true, false}) {
			t.Errorf("claims marked %v, want the first (failed) to mark and the retry's not", claims.marks)
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
