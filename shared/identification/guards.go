package identification

import "time"

// A Guard is one condition a stored process must meet for a change to
// apply. Each kind is a small value with its meaning here (Check); a store
// that cannot run Check inside its write (the DynamoDB store) translates
// each kind once into its own condition. Plan composes them; Effect.Check
// runs them in the order Plan gives, so the first refusal is the one
// reported.
//
// Every kind is listed in GuardKinds: a store's test walks that list, so a
// kind added here without its translation fails a test.
type Guard interface {
	// Check returns why s fails the guard at at (nil: it passes).
	Check(s Stored, at time.Time) *Error
}

// Stored is a process as the store holds it: what a guard reads.
type Stored struct {
	I *Identification
	// Code is its current code material (nil when it has none).
	Code *CodeMaterial
}

// GuardKinds is a zero value of every kind of Guard, in the order Plan
// composes them.
func GuardKinds() []Guard {
	return []Guard{
		StatusIn{}, OnDevice{}, AtStep{}, AtStepType{}, NoSecondFactor{},
		AttemptsBelow{}, CodeLive{}, CodeIs{}, AttemptsAtLeast{},
		DeliveredBySystem{}, TwoFactorIs{}, Undecided{}, DocumentIn{},
		CodeValidated{}, CodesBelow{}, Spaced{}, ExpiresBefore{}, LivesUntil{},
	}
}

// StatusIn: the process is in one of From and, for an open status, its
// expiry has not passed (Due: has passed). Action names the action in the
// refusal.
type StatusIn struct {
	Action Action
	From   []Status
	Due    bool
}

// Check refuses a process in another status, or expired (or not yet due).
func (g StatusIn) Check(s Stored, at time.Time) *Error {
	i := s.I
	expired := i.Status.Open() && !at.Before(i.ExpiresAt)
	if g.Due {
		if !expired || !contains(g.From, i.Status) {
			return Errorf(KindConflict, "identification is %s and not due; expire is allowed from %s once expired", i.Status, joinStatuses(g.From))
		}
		return nil
	}
	if i.Status == StatusExpired || expired {
		return Errorf(KindExpired, "identification expired at %s; %s is no longer possible",
			i.ExpiresAt.UTC().Format(time.RFC3339), g.Action)
	}
	if i.Status == StatusFailed {
		if i.FailureReason == "" {
			return Errorf(KindExpired, "identification failed; %s is no longer possible", g.Action)
		}
		return Errorf(KindExpired, "identification failed (%s); %s is no longer possible", i.FailureReason, g.Action)
	}
	if !contains(g.From, i.Status) {
		return Errorf(KindConflict, "identification is %s; %s is allowed from %s",
			i.Status, g.Action, joinStatuses(g.From))
	}
	return nil
}

// OnDevice: the chain is bound to Device (a chain not yet started is bound
// to none, and refuses too).
type OnDevice struct{ Device *Device }

// Check refuses another device, or a chain not started.
func (g OnDevice) Check(s Stored, _ time.Time) *Error {
	switch {
	case s.I.Device != nil && !s.I.Device.SameAs(g.Device):
		return Errorf(KindConflict, "the chain is bound to another device")
	case s.I.Device == nil && s.I.Type == TypeChain:
		return Errorf(KindConflict, "the chain has not been started; validate the chain first")
	}
	return nil
}

// AtStep: the chain's current step is step N (1-based).
type AtStep struct{ N int }

// Check refuses a chain at another step.
func (g AtStep) Check(s Stored, _ time.Time) *Error {
	if s.I.CurrentStep != g.N {
		return stepConflict(s.I)
	}
	return nil
}

// AtStepType: the chain's current step is of type Type (StepOTP is the
// only one an action asks for).
type AtStepType struct{ Type string }

// Check refuses a chain whose current step is of another type.
func (g AtStepType) Check(s Stored, _ time.Time) *Error {
	if s.I.CurrentStepType() != g.Type {
		return stepConflict(s.I)
	}
	return nil
}

// NoSecondFactor: the process's code needs no second factor (an attempt
// that carries none).
type NoSecondFactor struct{}

// Check refuses, as an invalid body naming two_factor, a process whose
// code needs one.
func (NoSecondFactor) Check(s Stored, _ time.Time) *Error {
	if tf := TwoFactorTypeOf(s.I); tf == "DOCUMENT_NUMBER" || tf == "EMAIL" {
		return &Error{Kind: KindInvalid, Message: "the request body is invalid",
			Fields: []FieldError{{Path: "two_factor", Message: "is required when two_factor_type is " + tf}}}
	}
	return nil
}

// AttemptsBelow: fewer than N attempts have been counted.
type AttemptsBelow struct{ N int }

// Check refuses a process whose attempts are spent.
func (g AttemptsBelow) Check(s Stored, _ time.Time) *Error {
	if otpOf(s.I).Attempts >= g.N {
		return Errorf(KindExpired, "no attempts are left")
	}
	return nil
}

// CodeLive: a code exists and has not expired.
type CodeLive struct{}

// Check refuses a process with no code, or an expired one.
func (CodeLive) Check(s Stored, at time.Time) *Error {
	otp := otpOf(s.I)
	if s.Code == nil || s.Code.Hash == "" {
		if otp.Validated {
			return Errorf(KindConflict, "the code has already been validated")
		}
		return Errorf(KindConflict, "no code is valid; ask for a new one")
	}
	if !at.Before(otp.CodeExpiresAt) {
		return Errorf(KindExpired, "the code expired at %s; ask for a new one", otp.CodeExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// CodeIs: the code an attempt was counted against (its hash) is the current
// code, or the one the current code replaced.
type CodeIs struct{ Hash string }

// Check refuses a process whose code has been replaced twice or used.
func (g CodeIs) Check(s Stored, _ time.Time) *Error {
	if s.Code == nil || s.Code.Hash != g.Hash && s.Code.Previous != g.Hash {
		return Errorf(KindConflict, "the code has been replaced or already used")
	}
	return nil
}

// AttemptsAtLeast: at least N attempts have been counted.
type AttemptsAtLeast struct{ N int }

// Check refuses a process with attempts left.
func (g AttemptsAtLeast) Check(s Stored, _ time.Time) *Error {
	if otpOf(s.I).Attempts < g.N {
		return Errorf(KindConflict, "attempts are not exhausted")
	}
	return nil
}

// DeliveredBySystem: the code is one the system delivers. An actor may not
// have a new code issued for a process whose organisation delivers its
// codes itself: the answer would hand the actor the code.
type DeliveredBySystem struct{}

// Check refuses a process whose organisation delivers its codes.
func (DeliveredBySystem) Check(s Stored, _ time.Time) *Error {
	if ch := OTPChannel(s.I); ch != nil && ch.External {
		return Errorf(KindConflict, "the organisation delivers this code itself; a new one is asked for by the organisation")
	}
	return nil
}

// TwoFactorIs: an OTP identification's two_factor_type is Type.
type TwoFactorIs struct{ Type string }

// Check refuses an identification of another two_factor_type.
func (g TwoFactorIs) Check(s Stored, _ time.Time) *Error {
	if s.I.TwoFactorType != g.Type {
		return Errorf(KindConflict, "this identification takes no document images (its two_factor_type is not %s)", g.Type)
	}
	return nil
}

// Undecided: the document has no decision yet.
type Undecided struct{}

// Check refuses a decided document.
func (Undecided) Check(s Stored, _ time.Time) *Error {
	if s.I.Decision != nil {
		return Errorf(KindConflict, "the document has been decided on")
	}
	return nil
}

// DocumentIn: both sides of the document are recorded.
type DocumentIn struct{}

// Check names the first side missing.
func (DocumentIn) Check(s Stored, _ time.Time) *Error {
	for _, k := range DocumentSides {
		if s.I.EvidenceOf(k) == nil {
			return Errorf(KindConflict, "the %s image is not in yet", k)
		}
	}
	return nil
}

// CodeValidated: the code has been validated.
type CodeValidated struct{}

// Check refuses a process whose code is not validated yet.
func (CodeValidated) Check(s Stored, _ time.Time) *Error {
	if s.I.OTP == nil || !s.I.OTP.Validated {
		return Errorf(KindConflict, "the code has not been validated yet")
	}
	return nil
}

// CodesBelow: fewer than N codes have been issued.
type CodesBelow struct{ N int }

// Check refuses a process that had all its codes.
func (g CodesBelow) Check(s Stored, _ time.Time) *Error {
	if otpOf(s.I).CodesSent >= g.N {
		return Errorf(KindConflict, "all %d codes have been issued", g.N)
	}
	return nil
}

// Spaced: the last code was issued at least Spacing before IssuedAt (the
// new code's time, to the millisecond).
type Spaced struct {
	Spacing  time.Duration
	IssuedAt time.Time
}

// Check refuses a code asked for too soon, saying when to ask again.
func (g Spaced) Check(s Stored, at time.Time) *Error {
	otp := otpOf(s.I)
	if otp.CodesSent == 0 {
		return nil
	}
	if !g.IssuedAt.IsZero() {
		at = g.IssuedAt
	}
	if next := otp.LastCodeAt.Add(g.Spacing); at.Before(next) {
		err := Errorf(KindTooSoon, "a new code can be asked for %d seconds after the last one", int(g.Spacing.Seconds()))
		err.RetryAfter = next.Sub(at)
		return err
	}
	return nil
}

// ExpiresBefore: the process expires before At (an extend moves the expiry
// later, never earlier).
type ExpiresBefore struct{ At time.Time }

// Check refuses an expiry already at or after At.
func (g ExpiresBefore) Check(s Stored, _ time.Time) *Error {
	if !s.I.ExpiresAt.Before(g.At) {
		return Errorf(KindConflict, "expires_in must end the identification after its current expiry, %s",
			s.I.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// LivesUntil: the process may live until At: at most MaxExpiresIn after
// its creation.
type LivesUntil struct{ At time.Time }

// Check refuses an expiry more than MaxExpiresIn after the creation.
func (g LivesUntil) Check(s Stored, _ time.Time) *Error {
	if limit := s.I.CreatedAt.Add(MaxExpiresIn); g.At.After(limit) {
		return Errorf(KindConflict, "expires_in must end the identification by %s, %d days after its creation",
			limit.UTC().Format(time.RFC3339), int(MaxExpiresIn.Hours()/24))
	}
	return nil
}

func otpOf(i *Identification) *OTPState {
	if i.OTP == nil {
		return &OTPState{}
	}
	return i.OTP
}
