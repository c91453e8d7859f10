package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Sealer seals and opens secrets at rest (identification.CodeKeys).
type Sealer interface {
	Seal(purpose, aad string, plain []byte) (string, error)
	Open(purpose, aad, sealed string) ([]byte, error)
}

// URLCheck checks, with the resolver, that a URL may be delivered to: the
// egress package's check (https, a host that resolves only to public
// addresses). It returns a message naming the rule broken ("" when none).
type URLCheck func(ctx context.Context, url string) string

// Service is what the webhook routes do: an organisation's endpoints, their
// secrets, the test event, the deliveries log and replays.
type Service struct {
	store  Store
	sealer Sealer
	check  URLCheck
	queue  Queue
	now    func() time.Time
}

// NewService makes the service on store, sealing secrets with sealer,
// checking URLs with check and queueing test events and replays on queue.
func NewService(store Store, sealer Sealer, check URLCheck, queue Queue, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, sealer: sealer, check: check, queue: queue, now: now}
}

func (s *Service) at() time.Time { return s.now().UTC().Truncate(time.Second) }

// newID is an endpoint id: "wh_" and 16 random bytes in hex.
func newID() (string, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return "wh_" + hex.EncodeToString(raw[:]), nil
}

// checkInput runs the input's rules, then the URL's resolver check (only
// when the rest is valid: a bad input is answered without a lookup).
func (s *Service) checkInput(ctx context.Context, in *Input, create bool) error {
	p := &identification.Problems{}
	if create {
		in.CheckCreate(p)
	} else {
		in.CheckChange(p)
	}
	if err := p.Err(); err != nil {
		return err
	}
	if in.URL != nil {
		if msg := s.check(ctx, *in.URL); msg != "" {
			p.Add("url", "%s", msg)
		}
	}
	return p.Err()
}

// Register registers an endpoint of org and returns it with its secret,
// which is shown this once (and on rotation): at rest it is sealed.
func (s *Service) Register(ctx context.Context, org string, in Input) (*Endpoint, string, error) {
	if err := s.checkInput(ctx, &in, true); err != nil {
		return nil, "", err
	}
	id, err := newID()
	if err != nil {
		return nil, "", fmt.Errorf("register webhook: %w", err)
	}
	secret, err := NewSecret()
	if err != nil {
		return nil, "", fmt.Errorf("register webhook: %w", err)
	}
	sealed, err := s.sealer.Seal(SecretPurpose, SecretOwner(org, id), []byte(secret))
	if err != nil {
		return nil, "", fmt.Errorf("register webhook: %w", err)
	}
	now := s.at()
	e := &Endpoint{ID: id, OrgID: org, URL: *in.URL, Events: in.Events, Status: StatusEnabled, CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if err := s.store.CreateEndpoint(ctx, Stored{Endpoint: e, Secret: sealed}); err != nil {
		return nil, "", fmt.Errorf("register webhook: %w", err)
	}
	return e, secret, nil
}

// List returns org's endpoints, oldest first.
func (s *Service) List(ctx context.Context, org string) ([]*Endpoint, error) {
	return s.store.Endpoints(ctx, org)
}

// Get returns one endpoint of org.
func (s *Service) Get(ctx context.Context, org, id string) (*Endpoint, error) {
	st, err := s.store.Endpoint(ctx, org, id)
	if err != nil {
		return nil, err
	}
	return st.Endpoint, nil
}

// Change changes an endpoint of org (a new URL is checked as a
// registration's is).
func (s *Service) Change(ctx context.Context, org, id string, in Input) (*Endpoint, error) {
	if err := s.checkInput(ctx, &in, false); err != nil {
		return nil, err
	}
	c := Change{URL: in.URL, Description: in.Description, Status: in.Status}
	if in.HasEvents {
		c.Events = in.Events
	}
	return s.store.UpdateEndpoint(ctx, org, id, c, s.at())
}

// Rotate gives an endpoint of org a new secret, returned this once; the
// old one keeps signing beside it for RotationGrace.
func (s *Service) Rotate(ctx context.Context, org, id string) (*Endpoint, string, error) {
	secret, err := NewSecret()
	if err != nil {
		return nil, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	sealed, err := s.sealer.Seal(SecretPurpose, SecretOwner(org, id), []byte(secret))
	if err != nil {
		return nil, "", fmt.Errorf("rotate webhook secret: %w", err)
	}
	e, err := s.store.RotateSecret(ctx, org, id, sealed, s.at())
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// Delete removes an endpoint of org: nothing more is delivered to it.
func (s *Service) Delete(ctx context.Context, org, id string) error {
	return s.store.DeleteEndpoint(ctx, org, id)
}

// Test queues a webhook.test event to an endpoint of org, enabled or not,
// and returns its webhook-id.
func (s *Service) Test(ctx context.Context, org, id string) (string, error) {
	if _, err := s.store.Endpoint(ctx, org, id); err != nil {
		return "", err
	}
	testID, err := newID()
	if err != nil {
		return "", fmt.Errorf("test webhook: %w", err)
	}
	m := Message{OrgID: org, EndpointID: id, Event: identification.Event{DetailType: TestEvent, OrgID: org,
		ID: "test_" + testID[len("wh_"):], At: s.now().UTC().Truncate(time.Millisecond)}}
	if err := s.queue.Send(ctx, []Message{m}); err != nil {
		return "", fmt.Errorf("test webhook: %w", err)
	}
	return m.ID(), nil
}

// DeliveryPage is one page of an endpoint's deliveries.
type DeliveryPage struct {
	Items []Delivery
	// Next is the id the next page starts after ("" on the last page).
	Next string
}

// Deliveries returns a page of an endpoint's deliveries, newest first: those
// of the last DeliveryRetention. The store may still hold older ones (a
// TTL removes an item some time after it expires); they are not shown, and
// the page before them is the last.
func (s *Service) Deliveries(ctx context.Context, org, id string, limit int, after string) (DeliveryPage, error) {
	if _, err := s.store.Endpoint(ctx, org, id); err != nil {
		return DeliveryPage{}, err
	}
	// One more than the page, to tell whether a retained one follows.
	items, more, err := s.store.Deliveries(ctx, org, id, limit+1, after)
	if err != nil {
		return DeliveryPage{}, err
	}
	if n := slices.IndexFunc(items, func(d Delivery) bool { return s.expired(d) }); n >= 0 {
		items, more = items[:n], false // newest first: every later one is older
	}
	if len(items) > limit {
		items, more = items[:limit], true
	}
	page := DeliveryPage{Items: items}
	if more && len(items) > 0 {
		page.Next = items[len(items)-1].ID
	}
	return page, nil
}

// expired reports whether d is older than the deliveries log keeps.
func (s *Service) expired(d Delivery) bool {
	return !s.now().Before(d.At.Add(DeliveryRetention))
}

// Replay queues a delivery of an endpoint of org again: the same event
// under the same webhook-id, whatever became of it.
func (s *Service) Replay(ctx context.Context, org, id, deliveryID string) error {
	if _, err := s.store.Endpoint(ctx, org, id); err != nil {
		return err
	}
	d, e, err := s.store.Delivery(ctx, org, id, deliveryID)
	if err != nil {
		return err
	}
	if s.expired(d) {
		return identification.Errorf(identification.KindNotFound, "no such delivery of this webhook endpoint in the last %d days",
			int(DeliveryRetention/(24*time.Hour)))
	}
	nonce, err := newID()
	if err != nil {
		return fmt.Errorf("replay webhook delivery: %w", err)
	}
	m := Message{OrgID: org, EndpointID: id, Event: e, Sandbox: d.Sandbox, Replay: nonce[len("wh_"):]}
	if err := s.queue.Send(ctx, []Message{m}); err != nil {
		return fmt.Errorf("replay webhook delivery: %w", err)
	}
	return nil
}
