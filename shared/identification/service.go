package identification

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Service runs the operations of both sides, the organisation's and the
// actor's, on top of a Store. Time, ids and code keys are injected so tests
// never sleep and can predict ids.
type Service struct {
	store    Store
	now      func() time.Time
	newID    func() (string, error)
	objects  EvidenceObjects
	keys     *CodeKeys
	codeTTL  time.Duration
	policies Policies
	guard    SendGuard
}

// Policy is what an organisation's settings decide of the codes the
// service issues for it and the channels it delivers them on (package
// settings makes it from the document). A zero member leaves the
// service's default.
type Policy struct {
	// CodeLength is the length of new codes (CodeLength when 0).
	CodeLength int
	// CodeTTL is how long a new code is valid (the service's code TTL
	// when 0).
	CodeTTL time.Duration
	// Channels are the channels the service may deliver codes on (every
	// channel when nil). A process whose code its caller delivers
	// (external) is not limited by them.
	Channels []string
	// Sending is the organisation's sending guard (WithSendGuard).
	Sending SendingRules
}

// Policies give an organisation's Policy; an error is the store's (the
// request fails with it rather than issue a code against the
// organisation's settings).
type Policies interface {
	Policy(ctx context.Context, org string) (Policy, error)
}

// WithPolicies makes the service issue codes and check channels by each
// organisation's Policy (the service's defaults for every organisation
// otherwise).
func WithPolicies(p Policies) Option { return func(s *Service) { s.policies = p } }

// policy is org's Policy, the zero Policy without Policies.
func (s *Service) policy(ctx context.Context, org string) (Policy, error) {
	if s.policies == nil {
		return Policy{}, nil
	}
	p, err := s.policies.Policy(ctx, org)
	if err != nil {
		return Policy{}, fmt.Errorf("the settings of %s: %w", org, err)
	}
	return p, nil
}

// checkChannels refuses a create asking the service to deliver on a
// channel the organisation's policy leaves out, naming each field.
func checkChannels(pol Policy, channels map[string]*Channel) error {
	if pol.Channels == nil {
		return nil
	}
	var fields []FieldError
	for _, path := range slices.Sorted(maps.Keys(channels)) {
		ch := channels[path]
		if ch == nil || ch.External || slices.Contains(pol.Channels, ch.Type) {
			continue
		}
		fields = append(fields, FieldError{Path: path, Message: "must be a channel this organisation delivers codes on (its settings' channels: " +
			strings.Join(pol.Channels, ", ") + "), or delivered by you (external true)"})
	}
	if len(fields) > 0 {
		return Invalid(fields)
	}
	return nil
}

// Option configures a Service.
type Option func(*Service)

// WithClock replaces the wall clock.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithIDs replaces the UUIDv7 generator.
func WithIDs(newID func() (string, error)) Option { return func(s *Service) { s.newID = newID } }

// WithCodeKeys gives the service the keys that hash one-time codes. Without
// them it cannot issue or check a code: the routes that need codes refuse
// to start.
func WithCodeKeys(k *CodeKeys) Option { return func(s *Service) { s.keys = k } }

// WithCodeTTL sets how long a code is valid (DefaultCodeTTL otherwise, or
// when d is not positive).
func WithCodeTTL(d time.Duration) Option {
	return func(s *Service) {
		if d > 0 {
			s.codeTTL = d
		}
	}
}

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, now: time.Now, newID: newUUIDv7, codeTTL: DefaultCodeTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

// HasCodeKeys reports whether the service can issue and check codes.
func (s *Service) HasCodeKeys() bool { return s.keys != nil }

func newUUIDv7() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new uuid v7: %w", err)
	}
	return id.String(), nil
}

// Now is the service's clock, truncated to the second: every stored time is.
func (s *Service) Now() time.Time { return s.now().UTC().Truncate(time.Second) }

// exactNow is the clock to the millisecond, never before now (the whole
// second the same action is dated with): what the spacing between codes
// is compared on.
func (s *Service) exactNow(now time.Time) time.Time {
	t := s.now().UTC().Truncate(time.Millisecond)
	if t.Before(now) {
		return now
	}
	return t
}

// Created is a new identification, with its first code when the
// organisation delivers it itself (Code is empty otherwise).
type Created struct {
	*Identification
	Code string
	// Nonce and KeyID derive Code again (an Idempotency-Key's replay).
	Nonce, KeyID string
}

// CreateOTP creates an OTP identification for org and issues its first
// code. An input that did not pass its Check is validated first.
func (s *Service) CreateOTP(ctx context.Context, org string, in CreateOTP, by Caller) (Created, error) {
	c, _, err := s.CreateOTPOnce(ctx, org, in, by, nil)
	return c, err
}

// Once is the record an Idempotency-Key gets with a create, made from what
// was created (the answer the request gets).
type Once func(Created) Idempotency

// OnceStore is what a store needs for Idempotency-Key: an action and the
// key's record in one transaction.
type OnceStore interface {
	CreateOnce(ctx context.Context, i *Identification, code *CodeMaterial, rec Idempotency) (*Idempotency, error)
	ApplyOnce(ctx context.Context, ref Ref, e Effect, rec Idempotency) (Result, *Idempotency, error)
}

func (s *Service) onceStore() (OnceStore, error) {
	o, ok := s.store.(OnceStore)
	if !ok {
		return nil, errors.New("the store does not record Idempotency-Keys (it is no identification.OnceStore)")
	}
	return o, nil
}

// CreateOTPOnce is CreateOTP; with once, it also records the request's
// Idempotency-Key, in the same transaction, and when the key was used
// before it creates nothing and returns the first answer's record (or
// KindConflict for another request).
func (s *Service) CreateOTPOnce(ctx context.Context, org string, in CreateOTP, by Caller, once Once) (Created, *Idempotency, error) {
	if !in.validated {
		if fields := in.Validate(); len(fields) > 0 {
			return Created{}, nil, Invalid(fields)
		}
	}
	if s.keys == nil {
		return Created{}, nil, errors.New("create otp: no code keys configured")
	}
	ttl := DefaultExpiresIn
	if in.ExpiresIn != "" {
		ttl, _ = ParseExpiresIn(in.ExpiresIn)
	}
	i, err := s.newIdentification(org, TypeOTP, in.Actor, ttl, by)
	if err != nil {
		return Created{}, nil, err
	}
	i.TwoFactorType = in.TwoFactorType
	ch := *in.Channel
	i.Channel = &ch
	pol, err := s.policy(ctx, org)
	if err != nil {
		return Created{}, nil, err
	}
	if err := checkChannels(pol, map[string]*Channel{"channel.type": &ch}); err != nil {
		return Created{}, nil, err
	}
	if !ch.External {
		if err := s.guardSend(ctx, pol, i, ch.Type, i.CreatedAt); err != nil {
			return Created{}, nil, err
		}
	}
	code, issued, err := s.issueWith(pol, i.Ref(), i.CreatedAt, i.ExpiresAt, ch.External)
	if err != nil {
		return Created{}, nil, err
	}
	i.OTP = &OTPState{CodesSent: 1, CodeExpiresAt: issued.ExpiresAt, LastCodeAt: issued.IssuedAt, Delivery: Delivery{Status: issued.Delivery}}
	material := &CodeMaterial{Hash: issued.Hash, KeyID: issued.KeyID, Nonce: issued.Nonce}
	out := Created{Identification: i, Nonce: issued.Nonce, KeyID: issued.KeyID}
	if ch.External {
		out.Code = code
	}
	if once == nil {
		if err := s.store.Create(ctx, i, material); err != nil {
			return Created{}, nil, fmt.Errorf("create otp %s: %w", i.ID, err)
		}
		return out, nil, nil
	}
	return s.createOnce(ctx, out, material, once)
}

func (s *Service) createOnce(ctx context.Context, out Created, material *CodeMaterial, once Once) (Created, *Idempotency, error) {
	o, err := s.onceStore()
	if err != nil {
		return Created{}, nil, err
	}
	rec := once(out)
	rec.At, rec.ProcessID = out.CreatedAt, out.ID
	replay, err := o.CreateOnce(ctx, out.Identification, material, rec)
	if err != nil {
		return Created{}, nil, fmt.Errorf("create %s %s: %w", out.Type, out.ID, err)
	}
	return out, replay, nil
}

// Replayed fills a recorded answer's code back in, derived again from the
// nonce the record kept.
func (s *Service) Replayed(ref Ref, rec *Idempotency) ([]byte, error) {
	if rec.CodeNonce == "" || s.keys == nil {
		return rec.Body, nil
	}
	ref.ID = rec.ProcessID
	code, err := s.keys.Derive(ref, rec.CodeKey, rec.CodeNonce)
	if err != nil {
		return nil, err
	}
	return []byte(strings.Replace(string(rec.Body), CodePlaceholder, code, 1)), nil
}

// issue makes a new code for ref at now, by its organisation's policy:
// of its length, valid for its code TTL, never past the process's expiry.
func (s *Service) issue(ctx context.Context, ref Ref, now, processExpiry time.Time, external bool) (string, *IssuedCode, error) {
	pol, err := s.policy(ctx, ref.Org)
	if err != nil {
		return "", nil, err
	}
	return s.issueWith(pol, ref, now, processExpiry, external)
}

// issueWith is issue by pol.
func (s *Service) issueWith(pol Policy, ref Ref, now, processExpiry time.Time, external bool) (string, *IssuedCode, error) {
	code, nonce, err := s.keys.NewCode(ref, pol.CodeLength)
	if err != nil {
		return "", nil, err
	}
	hash, keyID := s.keys.Hash(ref, code)
	ttl := s.codeTTL
	if pol.CodeTTL > 0 {
		ttl = pol.CodeTTL
	}
	exp := now.Add(ttl)
	if !processExpiry.IsZero() && processExpiry.Before(exp) {
		exp = processExpiry
	}
	ic := &IssuedCode{Hash: hash, KeyID: keyID, ExpiresAt: exp, Nonce: nonce, Delivery: DeliveryPending,
		IssuedAt: s.exactNow(now)}
	if external {
		ic.Delivery = DeliveryExternal
	}
	return code, ic, nil
}

// CreateChain creates a chain identification for org. An input that did
// not pass its Check is validated first.
func (s *Service) CreateChain(ctx context.Context, org string, in CreateChain, by Caller) (*Identification, error) {
	i, _, err := s.CreateChainOnce(ctx, org, in, by, nil)
	return i, err
}

// CreateChainOnce is CreateChain with an Idempotency-Key, as CreateOTPOnce.
func (s *Service) CreateChainOnce(ctx context.Context, org string, in CreateChain, by Caller, once Once) (*Identification, *Idempotency, error) {
	if !in.validated {
		if fields := in.Validate(); len(fields) > 0 {
			return nil, nil, Invalid(fields)
		}
	}
	ttl, _ := ParseExpiresIn(in.ExpiresIn)
	pol, err := s.policy(ctx, org)
	if err != nil {
		return nil, nil, err
	}
	channels := map[string]*Channel{}
	for n, st := range in.Sequence {
		if st.OTPStep != nil && st.OTPStep.Channel != nil {
			channels["sequence["+strconv.Itoa(n)+"].otp_step.channel.type"] = st.OTPStep.Channel
		}
	}
	if err := checkChannels(pol, channels); err != nil {
		return nil, nil, err
	}
	i, err := s.newIdentification(org, TypeChain, in.Actor, ttl, by)
	if err != nil {
		return nil, nil, err
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
		if st.IdentificationType == StepIdentityDocument {
			d := IdentityDocumentStep{ProviderType: DefaultProvider}
			if st.IdentityDocumentStep != nil && st.IdentityDocumentStep.ProviderType != "" {
				d.ProviderType = st.IdentityDocumentStep.ProviderType
			}
			st.IdentityDocumentStep = &d
		}
		i.Sequence[n] = st
	}
	if once != nil {
		out, replay, err := s.createOnce(ctx, Created{Identification: i}, nil, once)
		return out.Identification, replay, err
	}
	if err := s.store.Create(ctx, i, nil); err != nil {
		return nil, nil, fmt.Errorf("create chain %s: %w", i.ID, err)
	}
	return i, nil, nil
}

func (s *Service) newIdentification(org string, t Type, a *Actor, ttl time.Duration, by Caller) (*Identification, error) {
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
	i := &Identification{
		ID:               id,
		OrgID:            org,
		Type:             t,
		Status:           StatusCreated,
		CreatedAt:        now,
		UpdatedAt:        now,
		ExpiresAt:        now.Add(ttl),
		Actor:            actor,
		Version:          1,
		CreatedUserAgent: by.UserAgent,
		History:          []HistoryEntry{{At: now, Action: ActionCreate, To: StatusCreated, ByKind: by.Kind, BySub: by.Sub, RequestID: by.RequestID}},
	}
	if s.keys != nil {
		i.ActorKeys = s.keys.actorKeysOf(i)
	}
	return i, nil
}

// Get returns the identification as the API reports it now: an open one past
// its expiry reads as EXPIRED.
func (s *Service) Get(ctx context.Context, ref Ref) (*Identification, error) {
	i, err := s.store.Get(ctx, ref)
	if err == nil {
		i, err = s.settle(ctx, ref, i)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", ref.Type, ref.ID, err)
	}
	return i.AsSeenAt(s.Now()), nil
}

// History returns the identification with its history, every change
// oldest first, as stored: the expiry of a process the sweep has not
// reached yet is not in it.
func (s *Service) History(ctx context.Context, ref Ref) (*Identification, error) {
	i, err := s.store.Get(ctx, ref)
	if err == nil {
		i, err = s.settle(ctx, ref, i)
	}
	if err != nil {
		return nil, fmt.Errorf("history of %s %s: %w", ref.Type, ref.ID, err)
	}
	return i, nil
}

// apply plans cmd and has the store apply it.
func (s *Service) apply(ctx context.Context, ref Ref, cmd Command) (Result, error) {
	e, err := Plan(cmd)
	if err != nil {
		return Result{}, err
	}
	res, err := s.store.Apply(ctx, ref, e)
	if err != nil {
		return res, fmt.Errorf("%s %s %s: %w", cmd.Action, ref.Type, ref.ID, err)
	}
	return res, nil
}

// Cancel cancels the identification, recording reason.
func (s *Service) Cancel(ctx context.Context, ref Ref, reason string, by Caller) (*Identification, error) {
	res, err := s.apply(ctx, ref, Command{Action: ActionCancel, At: s.Now(), By: by, Reason: nfc(reason)})
	return res.New, err
}

// Close closes the identification.
func (s *Service) Close(ctx context.Context, ref Ref, by Caller) (*Identification, error) {
	res, err := s.apply(ctx, ref, Command{Action: ActionClose, At: s.Now(), By: by})
	return res.New, err
}

// CancelOnce is Cancel recording rec for its Idempotency-Key in the same
// transaction; it returns the first answer's record when the key was used
// with this request before, and acts only when it was not.
func (s *Service) CancelOnce(ctx context.Context, ref Ref, reason string, by Caller, rec Idempotency) (*Idempotency, error) {
	return s.applyOnce(ctx, ref, Command{Action: ActionCancel, At: s.Now(), By: by, Reason: nfc(reason)}, rec)
}

// CloseOnce is Close with an Idempotency-Key, as CancelOnce.
func (s *Service) CloseOnce(ctx context.Context, ref Ref, by Caller, rec Idempotency) (*Idempotency, error) {
	return s.applyOnce(ctx, ref, Command{Action: ActionClose, At: s.Now(), By: by}, rec)
}

// Extension is an extend's input: the new expiry, as an ISO-8601 duration
// from now (expires_in, as at creation).
type Extension struct {
	ExpiresIn string
}

// Check records the rule expires_in breaks in p: required, a duration a
// create accepts.
func (x *Extension) Check(p *Problems) {
	if x.ExpiresIn == "" {
		p.Add("expires_in", "is required (an ISO-8601 duration such as PT2H, from now)")
	} else if _, err := ParseExpiresIn(x.ExpiresIn); err != nil {
		p.Add("expires_in", "%s", err.Error())
	}
}

// Validate checks expires_in (Check), as a KindInvalid error.
func (x Extension) Validate() error {
	p := &Problems{}
	x.Check(p)
	return p.Err()
}

// extension is the command of an extend: the process expires expires_in
// from now, never more than MaxExpiresIn after its creation, and only
// later than it does (the store's guards).
func (s *Service) extension(in Extension, by Caller) (Command, error) {
	if err := in.Validate(); err != nil {
		return Command{}, err
	}
	d, _ := ParseExpiresIn(in.ExpiresIn)
	now := s.Now()
	return Command{Action: ActionExtend, At: now, By: by, ExpiresAt: now.Add(d).Truncate(time.Second)}, nil
}

// Extend moves the identification's expiry to expires_in from now (its
// open index and TTL with it, in the same write).
func (s *Service) Extend(ctx context.Context, ref Ref, in Extension, by Caller) (*Identification, error) {
	cmd, err := s.extension(in, by)
	if err != nil {
		return nil, err
	}
	res, err := s.apply(ctx, ref, cmd)
	return res.New, err
}

// ExtendOnce is Extend with an Idempotency-Key, as CancelOnce.
func (s *Service) ExtendOnce(ctx context.Context, ref Ref, in Extension, by Caller, rec Idempotency) (*Idempotency, error) {
	cmd, err := s.extension(in, by)
	if err != nil {
		return nil, err
	}
	return s.applyOnce(ctx, ref, cmd, rec)
}

func (s *Service) applyOnce(ctx context.Context, ref Ref, cmd Command, rec Idempotency) (*Idempotency, error) {
	o, err := s.onceStore()
	if err != nil {
		return nil, err
	}
	e, err := Plan(cmd)
	if err != nil {
		return nil, err
	}
	rec.At = cmd.At
	_, replay, err := o.ApplyOnce(ctx, ref, e, rec)
	if err != nil {
		return nil, fmt.Errorf("%s %s %s: %w", cmd.Action, ref.Type, ref.ID, err)
	}
	return replay, nil
}

// Delete removes the identification. force must only be true when the
// caller holds the force-delete permission. The tombstone is the delete:
// the stream processor, on the tombstone's record, deletes the images the
// process held (every version), with the stream's retries
// (docs/evidence.md).
func (s *Service) Delete(ctx context.Context, ref Ref, force bool, by Caller) error {
	if err := s.store.Delete(ctx, ref, force, by, s.Now()); err != nil {
		return fmt.Errorf("delete %s %s: %w", ref.Type, ref.ID, err)
	}
	return nil
}
