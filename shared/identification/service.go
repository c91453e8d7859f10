package identification

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Service runs the admin operations on top of a Store. Time and ids are
// injected so tests never sleep and can predict ids.
type Service struct {
	store Store
	now   func() time.Time
	newID func() (string, error)
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces the wall clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithIDs replaces the UUIDv7 generator.
func WithIDs(newID func() (string, error)) Option { return func(s *Service) { s.newID = newID } }

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, now: time.Now, newID: newUUIDv7}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newUUIDv7() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new uuid v7: %w", err)
	}
	return id.String(), nil
}

// Now is the service's clock, truncated to the second: every stored time is.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Second) }

// CreateOTP creates an OTP identification for org. An input that did not
// come from ParseCreateOTP is validated first.
func (s *Service) CreateOTP(ctx context.Context, org string, in CreateOTP, userAgent string) (*Identification, error) {
	if !in.validated {
		if fields := in.Validate(); len(fields) > 0 {
			return nil, Invalid(fields)
		}
	}
	ttl := DefaultExpiresIn
	if in.ExpiresIn != "" {
		ttl, _ = ParseExpiresIn(in.ExpiresIn)
	}
	i, err := s.newIdentification(org, TypeOTP, in.Actor, ttl, userAgent)
	if err != nil {
		return nil, err
	}
	i.TwoFactorType = in.TwoFactorType
	ch := *in.Channel
	i.Channel = &ch
	if err := s.store.Create(ctx, i); err != nil {
		return nil, fmt.Errorf("create otp %s: %w", i.ID, err)
	}
	return i, nil
}

// CreateChain creates a chain identification for org. An input that did
// not come from ParseCreateChain is validated first.
func (s *Service) CreateChain(ctx context.Context, org string, in CreateChain, userAgent string) (*Identification, error) {
	if !in.validated {
		if fields := in.Validate(); len(fields) > 0 {
			return nil, Invalid(fields)
		}
	}
	ttl, _ := ParseExpiresIn(in.ExpiresIn)
	i, err := s.newIdentification(org, TypeChain, in.Actor, ttl, userAgent)
	if err != nil {
		return nil, err
	}
	i.Sequence = make([]Step, len(in.Sequence))
	for n, st := range in.Sequence {
		st.Status = StepPending
		if st.OTPStep != nil {
			o := *st.OTPStep
			c := *o.Channel
			o.Channel = &c
			st.OTPStep = &o
		}
		if st.IdentificationType == "IDENTITY_DOCUMENT" {
			d := IdentityDocumentStep{ProviderType: DefaultProvider}
			if st.IdentityDocumentStep != nil && st.IdentityDocumentStep.ProviderType != "" {
				d.ProviderType = st.IdentityDocumentStep.ProviderType
			}
			st.IdentityDocumentStep = &d
		}
		i.Sequence[n] = st
	}
	if err := s.store.Create(ctx, i); err != nil {
		return nil, fmt.Errorf("create chain %s: %w", i.ID, err)
	}
	return i, nil
}

func (s *Service) newIdentification(org string, t Type, a *Actor, ttl time.Duration, userAgent string) (*Identification, error) {
	id, err := s.newID()
	if err != nil {
		return nil, err
	}
	now := s.Now()
	actor := *a
	// Text is kept in its NFC form, the form its length was checked in.
	actor.Name = strings.TrimSpace(nfc(actor.Name))
	actor.LastName = nfc(actor.LastName)
	if a.IdentityDocument != nil {
		d := *a.IdentityDocument
		actor.IdentityDocument = &d
	}
	if a.MSISDN != nil {
		m := *a.MSISDN
		actor.MSISDN = &m
	}
	return &Identification{
		ID:               id,
		OrgID:            org,
		Type:             t,
		Status:           StatusCreated,
		CreatedAt:        now,
		UpdatedAt:        now,
		ExpiresAt:        now.Add(ttl),
		Actor:            actor,
		Version:          1,
		CreatedUserAgent: userAgent,
	}, nil
}

// Get returns the identification as the API reports it now: an open one past
// its expiry reads as EXPIRED.
func (s *Service) Get(ctx context.Context, ref Ref) (*Identification, error) {
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", ref.Type, ref.ID, err)
	}
	return i.AsSeenAt(s.Now()), nil
}

// Cancel cancels the identification, recording reason and userAgent.
func (s *Service) Cancel(ctx context.Context, ref Ref, reason, userAgent string) error {
	ch := Change{Action: ActionCancel, At: s.Now(), Reason: nfc(reason), UserAgent: userAgent}
	if err := s.store.Transition(ctx, ref, ch); err != nil {
		return fmt.Errorf("cancel %s %s: %w", ref.Type, ref.ID, err)
	}
	return nil
}

// Close closes the identification, recording userAgent.
func (s *Service) Close(ctx context.Context, ref Ref, userAgent string) error {
	ch := Change{Action: ActionClose, At: s.Now(), UserAgent: userAgent}
	if err := s.store.Transition(ctx, ref, ch); err != nil {
		return fmt.Errorf("close %s %s: %w", ref.Type, ref.ID, err)
	}
	return nil
}

// Delete removes the identification. force must only be true when the
// caller holds the force-delete permission.
func (s *Service) Delete(ctx context.Context, ref Ref, force bool) error {
	if err := s.store.Delete(ctx, ref, force, s.Now()); err != nil {
		return fmt.Errorf("delete %s %s: %w", ref.Type, ref.ID, err)
	}
	return nil
}
