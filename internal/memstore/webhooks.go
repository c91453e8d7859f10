package memstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// Webhooks is an in-memory webhooks.Store, for the handler trees that
// tests and benchmarks build without a table: the DynamoDB store's rules
// (at most webhooks.MaxEndpoints per organisation, versions one up on each
// change by the organisation, the log newest first) under one mutex.
type Webhooks struct {
	mu         sync.Mutex
	endpoints  map[string]*webhooks.Stored // org/id
	order      map[string][]string         // org: its endpoint ids, in registration order
	deliveries map[string]map[string]storedDelivery
}

type storedDelivery struct {
	d webhooks.Delivery
	e identification.Event
}

var _ webhooks.Store = (*Webhooks)(nil)

// NewWebhooks returns an empty in-memory webhooks store.
func NewWebhooks() *Webhooks {
	return &Webhooks{endpoints: map[string]*webhooks.Stored{}, order: map[string][]string{}, deliveries: map[string]map[string]storedDelivery{}}
}

func endpointNotFound() error {
	return identification.Errorf(identification.KindNotFound, "no such webhook endpoint in this organisation")
}

// copyStored is a deep copy of s.
func copyStored(s webhooks.Stored) webhooks.Stored {
	e := *s.Endpoint
	e.Events = slices.Clone(e.Events)
	if e.FailingSince != nil {
		t := *e.FailingSince
		e.FailingSince = &t
	}
	s.Endpoint = &e
	return s
}

// copyDelivery is a deep copy of sd: the caller's delivery and event
// share no times or step with the log.
func copyDelivery(sd storedDelivery) storedDelivery {
	d, e := sd.d, sd.e
	if d.NextAttemptAt != nil {
		t := *d.NextAttemptAt
		d.NextAttemptAt = &t
	}
	if d.DeliveredAt != nil {
		t := *d.DeliveredAt
		d.DeliveredAt = &t
	}
	if e.Step != nil {
		st := *e.Step
		e.Step = &st
	}
	return storedDelivery{d: d, e: e}
}

// CreateEndpoint implements webhooks.Store: the endpoint is stored at
// version 1, whatever the caller left in it.
func (w *Webhooks) CreateEndpoint(_ context.Context, s webhooks.Stored) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	org, id := s.Endpoint.OrgID, s.Endpoint.ID
	if len(w.order[org]) >= webhooks.MaxEndpoints {
		return identification.Errorf(identification.KindConflict, "an organisation has at most %d webhook endpoints", webhooks.MaxEndpoints)
	}
	if _, ok := w.endpoints[org+"/"+id]; ok {
		return identification.Errorf(identification.KindConflict, "webhook endpoint %s already exists", id)
	}
	c := copyStored(s)
	c.Endpoint.Version = 1
	w.endpoints[org+"/"+id] = &c
	w.order[org] = append(w.order[org], id)
	return nil
}

// Endpoint implements webhooks.Store.
func (w *Webhooks) Endpoint(_ context.Context, org, id string) (webhooks.Stored, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.endpoints[org+"/"+id]
	if !ok {
		return webhooks.Stored{}, endpointNotFound()
	}
	return copyStored(*s), nil
}

// Endpoints implements webhooks.Store: oldest first by CreatedAt (then
// by id), as the DynamoDB store lists them, not in the order the
// registrations reached the store, which a registration carrying an
// earlier time than another's may reach after it.
func (w *Webhooks) Endpoints(_ context.Context, org string) ([]*webhooks.Endpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*webhooks.Endpoint, 0, len(w.order[org]))
	for _, id := range w.order[org] {
		out = append(out, copyStored(*w.endpoints[org+"/"+id]).Endpoint)
	}
	slices.SortFunc(out, func(a, b *webhooks.Endpoint) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// change applies f to the endpoint under the lock and returns a copy of it.
func (w *Webhooks) change(org, id string, f func(s *webhooks.Stored)) (*webhooks.Endpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.endpoints[org+"/"+id]
	if !ok {
		return nil, endpointNotFound()
	}
	f(s)
	return copyStored(*s).Endpoint, nil
}

// UpdateEndpoint implements webhooks.Store.
func (w *Webhooks) UpdateEndpoint(_ context.Context, org, id string, c webhooks.Change, at time.Time) (*webhooks.Endpoint, error) {
	return w.change(org, id, func(s *webhooks.Stored) {
		e := s.Endpoint
		if c.URL != nil {
			e.URL = *c.URL
		}
		if c.Events != nil {
			e.Events = slices.Clone(c.Events)
		}
		if c.Description != nil {
			e.Description = *c.Description
		}
		if c.Status != nil {
			e.Status = *c.Status
			switch *c.Status {
			case webhooks.StatusEnabled:
				e.DisabledReason, e.FailingSince = "", nil
			case webhooks.StatusDisabled:
				e.DisabledReason = webhooks.DisabledByOrganisation
			}
		}
		e.Version++
		e.UpdatedAt = at
	})
}

// RotateSecret implements webhooks.Store.
func (w *Webhooks) RotateSecret(_ context.Context, org, id, sealed string, at time.Time) (*webhooks.Endpoint, error) {
	return w.change(org, id, func(s *webhooks.Stored) {
		s.PreviousSecret, s.PreviousUntil, s.Secret = s.Secret, at.Add(webhooks.RotationGrace), sealed
		s.Endpoint.Version++
		s.Endpoint.UpdatedAt = at
	})
}

// DeleteEndpoint implements webhooks.Store.
func (w *Webhooks) DeleteEndpoint(_ context.Context, org, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.endpoints[org+"/"+id]; !ok {
		return endpointNotFound()
	}
	delete(w.endpoints, org+"/"+id)
	w.order[org] = slices.DeleteFunc(w.order[org], func(x string) bool { return x == id })
	return nil
}

// Failing implements webhooks.Store.
func (w *Webhooks) Failing(_ context.Context, org, id string, at time.Time) (*webhooks.Endpoint, error) {
	return w.change(org, id, func(s *webhooks.Stored) {
		if s.Endpoint.FailingSince == nil {
			t := at
			s.Endpoint.FailingSince = &t
		}
	})
}

// Succeeded implements webhooks.Store.
func (w *Webhooks) Succeeded(_ context.Context, org, id string, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.endpoints[org+"/"+id]; ok {
		s.Endpoint.FailingSince = nil
	}
	return nil
}

// Disable implements webhooks.Store.
func (w *Webhooks) Disable(_ context.Context, org, id, reason string, since, at time.Time) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.endpoints[org+"/"+id]
	if !ok || s.Endpoint.Status != webhooks.StatusEnabled || s.Endpoint.FailingSince == nil || !s.Endpoint.FailingSince.Equal(since) {
		return false, nil
	}
	s.Endpoint.Status, s.Endpoint.DisabledReason = webhooks.StatusDisabled, reason
	s.Endpoint.Version++
	s.Endpoint.UpdatedAt = at
	return true, nil
}

// SaveDelivery implements webhooks.Store.
func (w *Webhooks) SaveDelivery(_ context.Context, d webhooks.Delivery, e identification.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := d.OrgID + "/" + d.EndpointID
	if w.deliveries[key] == nil {
		w.deliveries[key] = map[string]storedDelivery{}
	}
	w.deliveries[key][d.ID] = copyDelivery(storedDelivery{d: d, e: e})
	return nil
}

// Delivery implements webhooks.Store.
func (w *Webhooks) Delivery(_ context.Context, org, endpoint, id string) (webhooks.Delivery, identification.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sd, ok := w.deliveries[org+"/"+endpoint][id]
	if !ok {
		return webhooks.Delivery{}, identification.Event{}, identification.Errorf(identification.KindNotFound, "no such delivery of this webhook endpoint")
	}
	c := copyDelivery(sd)
	return c.d, c.e, nil
}

// Deliveries implements webhooks.Store: newest (greatest id) first.
func (w *Webhooks) Deliveries(_ context.Context, org, endpoint string, limit int, after string) ([]webhooks.Delivery, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var all []webhooks.Delivery
	for id, sd := range w.deliveries[org+"/"+endpoint] {
		if after == "" || id < after {
			all = append(all, copyDelivery(sd).d)
		}
	}
	slices.SortFunc(all, func(a, b webhooks.Delivery) int { return strings.Compare(b.ID, a.ID) })
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}
