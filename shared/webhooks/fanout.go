package webhooks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// EndpointLister lists an organisation's endpoints (the Store).
type EndpointLister interface {
	Endpoints(ctx context.Context, org string) ([]*Endpoint, error)
}

// FanoutCache is how long Fanout keeps an organisation's endpoints: an
// endpoint registered, changed or deleted is seen by the stream processor
// within it.
const FanoutCache = 5 * time.Second

// Fanout is the stream processor's publisher of webhooks
// (identification.Publisher): for each event, one message per endpoint of
// its organisation that wants it, queued in the events' order. The
// processor publishes a version's events once (its published mark); a
// record handled again after a crash queues the same messages again,
// which the FIFO queue's de-duplication on the webhook-id drops.
type Fanout struct {
	Endpoints EndpointLister
	Queue     Queue
	// Now is the clock of the cache (time.Now when nil).
	Now func() time.Time
	// Sandbox is whether the events are a sandbox deployment's.
	Sandbox bool

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	endpoints []*Endpoint
	at        time.Time
}

func (f *Fanout) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fanout) endpoints(ctx context.Context, org string) ([]*Endpoint, error) {
	now := f.now()
	f.mu.Lock()
	c, ok := f.cache[org]
	f.mu.Unlock()
	if ok && now.Sub(c.at) < FanoutCache && !now.Before(c.at) {
		return c.endpoints, nil
	}
	eps, err := f.Endpoints.Endpoints(ctx, org)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]cached{}
	}
	f.cache[org] = cached{endpoints: eps, at: now}
	f.mu.Unlock()
	return eps, nil
}

// Publish queues the webhooks of events (one process's, in order).
func (f *Fanout) Publish(ctx context.Context, events []identification.Event) error {
	var msgs []Message
	for _, e := range events {
		eps, err := f.endpoints(ctx, e.OrgID)
		if err != nil {
			return fmt.Errorf("webhooks: endpoints of %s: %w", e.OrgID, err)
		}
		for _, ep := range eps {
			if ep.Wants(e.DetailType) {
				msgs = append(msgs, Message{OrgID: e.OrgID, EndpointID: ep.ID, Event: e, Sandbox: f.Sandbox})
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := f.Queue.Send(ctx, msgs); err != nil {
		return fmt.Errorf("webhooks: queue %d deliveries: %w", len(msgs), err)
	}
	return nil
}
