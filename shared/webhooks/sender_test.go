package webhooks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// posterFunc is a webhooks.Poster made of a function: it records each URL
// posted to and answers what the function says.
type posterFunc struct {
	posted []string
	answer func(n int) int
}

func (p *posterFunc) Post(_ context.Context, url string, _ map[string]string, _ []byte) (int, error) {
	p.posted = append(p.posted, url)
	return p.answer(len(p.posted)), nil
}

// senderRig is a Sender on the in-memory store with one registered
// endpoint of acme, at a clock the test moves.
type senderRig struct {
	store  *memstore.Webhooks
	svc    *webhooks.Service
	sender *webhooks.Sender
	post   *posterFunc
	ep     *webhooks.Endpoint
	now    time.Time
}

func newSenderRig(t *testing.T) *senderRig {
	t.Helper()
	r := &senderRig{store: memstore.NewWebhooks(), now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		post: &posterFunc{answer: func(int) int { return http.StatusNoContent }}}
	clock := func() time.Time { return r.now }
	keys := fixture.CodeKeys()
	r.svc = webhooks.NewService(r.store, keys, func(context.Context, string) string { return "" }, nopQueue{}, clock)
	r.sender = &webhooks.Sender{Store: r.store, Sealer: keys, Post: r.post, Now: clock, Jitter: func() float64 { return 0.5 }}
	url := "https://hooks.example.com/in"
	ep, _, err := r.svc.Register(t.Context(), "acme", webhooks.Input{URL: &url, Events: []string{webhooks.AllEvents}, HasEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	r.ep = ep
	return r
}

type nopQueue struct{}

func (nopQueue) Send(context.Context, []webhooks.Message) error { return nil }

// message is the delivery to the rig's endpoint of process id's event.
func (r *senderRig) message(id string) webhooks.Received {
	e := identification.Event{DetailType: "identification.created", OrgID: "acme", ID: id, Type: identification.TypeOTP,
		Status: identification.StatusCreated, Version: 1, At: r.now}
	return webhooks.Received{Message: webhooks.Message{OrgID: "acme", EndpointID: r.ep.ID, Event: e}, Attempt: 1, First: r.now}
}

// TestSenderReadsTheEndpointForEveryMessage: a batch holding several
// messages for one endpoint (the dev server's queue hands the sender every
// group's head at once) takes a change made while it runs from the next
// message on, as the architecture says ("a change, a disable or a rotation
// holds from the next attempt"): a deleted endpoint is posted nothing
// more, a disabled one nothing but FAILED entries, a new URL is used.
func TestSenderReadsTheEndpointForEveryMessage(t *testing.T) {
	t.Run("deleted", func(t *testing.T) {
		r := newSenderRig(t)
		r.post.answer = func(n int) int {
			if n == 1 {
				if err := r.svc.Delete(t.Context(), "acme", r.ep.ID); err != nil {
					t.Fatal(err)
				}
			}
			return http.StatusNoContent
		}
		out := r.sender.Handle(t.Context(), []webhooks.Received{r.message("p1"), r.message("p2")})
		if len(r.post.posted) != 1 {
			t.Errorf("%d posts to an endpoint deleted after the first, want 1", len(r.post.posted))
		}
		if !out[1].Done {
			t.Errorf("the deleted endpoint's message is not done: %+v", out[1])
		}
	})
	t.Run("disabled", func(t *testing.T) {
		r := newSenderRig(t)
		disabled := webhooks.StatusDisabled
		r.post.answer = func(n int) int {
			if n == 1 {
				if _, err := r.svc.Change(t.Context(), "acme", r.ep.ID, webhooks.Input{Status: &disabled}); err != nil {
					t.Fatal(err)
				}
			}
			return http.StatusNoContent
		}
		second := r.message("p2")
		out := r.sender.Handle(t.Context(), []webhooks.Received{r.message("p1"), second})
		if len(r.post.posted) != 1 {
			t.Errorf("%d posts to an endpoint disabled after the first, want 1", len(r.post.posted))
		}
		d, _, err := r.store.Delivery(t.Context(), "acme", r.ep.ID, second.Message.ID())
		if err != nil || d.Status != webhooks.DeliveryFailed || d.LastError != "the endpoint is disabled" || !out[1].Done {
			t.Errorf("the disabled endpoint's delivery %+v, %v (outcome %+v): want FAILED, the endpoint is disabled", d, err, out[1])
		}
	})
	t.Run("disabled by its failures", func(t *testing.T) {
		r := newSenderRig(t)
		// The endpoint has failed for three days; the first message's
		// failure disables it, and the second is not attempted.
		if _, err := r.store.Failing(t.Context(), "acme", r.ep.ID, r.now); err != nil {
			t.Fatal(err)
		}
		r.now = r.now.Add(webhooks.GiveUpAfter)
		r.post.answer = func(int) int { return http.StatusServiceUnavailable }
		second := r.message("p2")
		r.sender.Handle(t.Context(), []webhooks.Received{r.message("p1"), second})
		got, err := r.svc.Get(t.Context(), "acme", r.ep.ID)
		if err != nil || got.Status != webhooks.StatusDisabled {
			t.Fatalf("endpoint %+v, %v: want DISABLED by its first failure after three days", got, err)
		}
		if len(r.post.posted) != 1 {
			t.Errorf("%d posts in a batch whose first failure disabled the endpoint, want 1", len(r.post.posted))
		}
	})
	t.Run("new URL", func(t *testing.T) {
		r := newSenderRig(t)
		moved := "https://new.example.com/in"
		r.post.answer = func(n int) int {
			if n == 1 {
				if _, err := r.svc.Change(t.Context(), "acme", r.ep.ID, webhooks.Input{URL: &moved}); err != nil {
					t.Fatal(err)
				}
			}
			return http.StatusNoContent
		}
		r.sender.Handle(t.Context(), []webhooks.Received{r.message("p1"), r.message("p2")})
		if len(r.post.posted) != 2 || r.post.posted[1] != moved {
			t.Errorf("posted to %q, want the second message at the URL changed meanwhile", r.post.posted)
		}
	})
}

// failingStore is a store whose every call fails, as DynamoDB does in an
// outage or while it throttles.
type failingStore struct{ webhooks.Store }

func (failingStore) Endpoint(context.Context, string, string) (webhooks.Stored, error) {
	return webhooks.Stored{}, identification.Errorf(identification.KindUnavailable, "the store is unavailable")
}

// TestAStoreOutageDoesNotUseUpAMessagesReceives: a message the sender could
// not handle because its store failed is taken again later and later, so
// that an outage of minutes does not take it through the queue's receives
// (the webhook queue's redrive policy moves a message to the dead-letter
// queue at its 50th, where it reaches no endpoint): its 50 receives take at
// least as long as a delivery's three days of retries, starting soon.
func TestAStoreOutageDoesNotUseUpAMessagesReceives(t *testing.T) {
	r := newSenderRig(t)
	r.sender.Store = failingStore{}
	var waited time.Duration
	for attempt := 1; attempt <= 50; attempt++ {
		m := r.message("p1")
		m.Attempt = attempt
		out := r.sender.Handle(t.Context(), []webhooks.Received{m})
		if out[0].Done || out[0].RetryAt.Before(r.now) {
			t.Fatalf("receive %d: outcome %+v, want it taken again later", attempt, out[0])
		}
		wait := out[0].RetryAt.Sub(r.now)
		if attempt == 1 && wait > time.Minute {
			t.Errorf("the first store failure waits %s, want a retry within a minute", wait)
		}
		waited += wait
	}
	if len(r.post.posted) != 0 {
		t.Errorf("%d posts while the store failed, want none", len(r.post.posted))
	}
	if waited < webhooks.GiveUpAfter {
		t.Errorf("50 receives of a message whose store failed take %s, want at least %s", waited, webhooks.GiveUpAfter)
	}
}

// TestDeliveriesOlderThanTheirRetentionAreGone: the deliveries log holds
// the last 30 days (docs/webhooks.md), and a replay of an older delivery
// is a 404, whether or not its store has removed it yet (DynamoDB's TTL
// removes an item days after it expires, if at all): such a delivery is
// neither listed nor replayed.
func TestDeliveriesOlderThanTheirRetentionAreGone(t *testing.T) {
	r := newSenderRig(t)
	old, recent := r.message("p-old"), r.message("p-recent")
	old.Message.Event.At = r.now.Add(-webhooks.DeliveryRetention - time.Hour)
	recent.Message.Event.At = r.now.Add(-time.Hour)
	for _, m := range []webhooks.Received{old, recent} {
		d := webhooks.Delivery{ID: m.Message.ID(), EndpointID: r.ep.ID, OrgID: "acme", EventType: m.Message.Event.DetailType,
			IdentificationID: m.Message.Event.ID, Version: 1, Status: webhooks.DeliveryDelivered, Attempts: 1, At: m.Message.Event.At}
		if err := r.store.SaveDelivery(t.Context(), d, m.Message.Event); err != nil {
			t.Fatal(err)
		}
	}
	page, err := r.svc.Deliveries(t.Context(), "acme", r.ep.ID, 1, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != recent.Message.ID() || page.Next != "" {
		t.Errorf("first page of 1: %+v, %v; want the recent delivery alone, no next page", page, err)
	}
	if page, err := r.svc.Deliveries(t.Context(), "acme", r.ep.ID, 20, recent.Message.ID()); err != nil || len(page.Items) != 0 || page.Next != "" {
		t.Errorf("the page after the recent delivery: %+v, %v; want nothing", page, err)
	}
	if err := r.svc.Replay(t.Context(), "acme", r.ep.ID, old.Message.ID()); identification.KindOf(err) != identification.KindNotFound {
		t.Errorf("replay of a delivery %s old: %v, want not found", webhooks.DeliveryRetention+time.Hour, err)
	}
	if err := r.svc.Replay(t.Context(), "acme", r.ep.ID, recent.Message.ID()); err != nil {
		t.Errorf("replay of a recent delivery: %v", err)
	}
}
