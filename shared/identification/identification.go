package identification

import "time"

// Type tells the two kinds of process apart; it is part of every key.
type Type string

// The identification types.
const (
	TypeOTP   Type = "OTP"
	TypeChain Type = "CHAIN"
)

// Status is where a process stands in its lifecycle (docs/lifecycle.md).
type Status string

// The statuses. FAILED, CANCELLED, CLOSED and EXPIRED are final.
const (
	StatusCreated    Status = "CREATED"
	StatusInProgress Status = "IN_PROGRESS"
	StatusCompleted  Status = "COMPLETED"
	StatusFailed     Status = "FAILED"
	StatusCancelled  Status = "CANCELLED"
	StatusClosed     Status = "CLOSED"
	StatusExpired    Status = "EXPIRED"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{StatusCreated, StatusInProgress, StatusCompleted, StatusFailed, StatusCancelled, StatusClosed, StatusExpired}

// Open reports whether the process can still be acted on by the actor, and
// therefore expires once its expires_at has passed.
func (s Status) Open() bool { return s == StatusCreated || s == StatusInProgress }

// Final reports whether no transition leaves s.
func (s Status) Final() bool {
	return s == StatusFailed || s == StatusCancelled || s == StatusClosed || s == StatusExpired
}

// Step statuses of a chain's sequence. They are not stored: SyncSteps
// derives them from the chain's status and its current step, so they can
// never disagree with either.
const (
	StepPending   = "PENDING"
	StepCurrent   = "CURRENT"
	StepCompleted = "COMPLETED"
	StepFailed    = "FAILED"
)

// Step types of a chain's sequence.
const (
	StepOTP              = "OTP"
	StepAgent            = "AGENT"
	StepIdentityDocument = "IDENTITY_DOCUMENT"
)

// Failure reasons of a FAILED process.
const (
	FailureMaxAttempts  = "MAX_ATTEMPTS"
	FailureStepRejected = "STEP_REJECTED"
)

// Identification is one process as stored and as returned by the API.
type Identification struct {
	// Unsettled is what a store's read found left undone by a counted
	// attempt (nil: nothing); see Settlement.
	Unsettled *Settlement

	ID        string
	OrgID     string
	Type      Type
	Status    Status
	CreatedAt time.Time
	UpdatedAt time.Time
	ExpiresAt time.Time
	EndedAt   *time.Time

	Actor         Actor
	TwoFactorType string
	Channel       *Channel
	Sequence      []Step

	// CancelReason is why it was cancelled; the API shows it on every
	// cancelled process, empty when a chain was cancelled without one.
	CancelReason string
	Version      int64

	// CreatedUserAgent and EndedUserAgent record who acted (chain routes
	// require a User-Agent); they are kept but not returned.
	CreatedUserAgent string
	EndedUserAgent   string

	// CompletedAt is when it completed; FailureReason why it failed.
	CompletedAt   *time.Time
	FailureReason string
	// OTP is the state of the one-time code: of an OTP identification, or
	// of a chain's OTP step. Nil while no code was ever issued for a chain.
	OTP *OTPState
	// CurrentStep is the 1-based position of a chain's current step: 0
	// before the chain started, len(Sequence)+1 once every step completed.
	CurrentStep int
	// Device is the device a chain is bound to (the one that started it).
	Device *Device
	// CompletedDevice is the device of the call that completed the OTP
	// identification or the chain's OTP step.
	CompletedDevice *Device
	// Agent is who completed a chain's AGENT step.
	Agent *AgentRecord
	// History is every change, oldest first, each written with the change
	// itself (docs/api.md, "History").
	History []HistoryEntry
	// ActorKeys are the keyed hashes the listing finds the actor's values
	// by (list.go); set at creation when the service has code keys.
	ActorKeys ActorKeys
	// Evidence are the images recorded, one per kind (evidence.go).
	Evidence []Evidence
	// Decision is the decision on a chain's IDENTITY_DOCUMENT step.
	Decision *DocumentDecision
}

// HistoryEntry is one change: when, what, who, why. To is the status it
// led to, "" when the status stayed; From is not stored, since it is the
// status the entry before led to (FromTo gives both).
type HistoryEntry struct {
	At        time.Time
	Action    string
	To        Status
	ByKind    CallerKind
	BySub     string
	Reason    string
	RequestID string
}

// FromTo returns each entry's status before and after it.
func (i *Identification) FromTo() [][2]Status {
	out := make([][2]Status, len(i.History))
	var cur Status
	for n, h := range i.History {
		to := h.To
		if to == "" {
			to = cur
		}
		out[n] = [2]Status{cur, to}
		cur = to
	}
	return out
}

// OTPState is where a one-time code stands. The code itself is never here:
// only the store holds its keyed hash (CodeMaterial), read on the attempt
// path alone.
type OTPState struct {
	CodesSent     int
	Attempts      int
	CodeExpiresAt time.Time
	LastCodeAt    time.Time
	// Validated is set when the right code came in but the process still
	// waits for something else (the document images).
	Validated bool
	Delivery  Delivery
}

// Delivery is how the current code reaches the actor.
type Delivery struct {
	// Status is PENDING, SENT, FAILED, EXTERNAL or BLOCKED.
	Status    string
	Attempts  int
	LastTried time.Time
	MessageID string
}

// Delivery statuses.
const (
	DeliveryPending  = "PENDING"
	DeliverySent     = "SENT"
	DeliveryFailed   = "FAILED"
	DeliveryExternal = "EXTERNAL"
	// DeliveryBlocked is a chain step's code the sending guard refused
	// to send (docs/guard.md): never delivered; a resend is guarded again.
	DeliveryBlocked = "BLOCKED"
)

// Device is what an actor call says about the device it comes from. It is
// personal data: stored with the process, shown to admins, never logged.
type Device struct {
	InstallationID string
	Fingerprint    string
	UserAgent      string
	IP             string
	Location       string
}

// SameAs reports whether d is the device other names: the installation id
// and the fingerprint, the two things a chain is bound to.
func (d *Device) SameAs(other *Device) bool {
	return d != nil && other != nil && d.InstallationID == other.InstallationID && d.Fingerprint == other.Fingerprint
}

// AgentRecord is who completed an AGENT step, and what they recorded.
type AgentRecord struct {
	Name             string
	Sub              string
	EvidenceMetadata string
	At               time.Time
}

// StepIndex returns the 1-based position of the chain's step of type typ,
// or 0 when it has none (each type appears at most once).
func (i *Identification) StepIndex(typ string) int {
	for n, st := range i.Sequence {
		if st.IdentificationType == typ {
			return n + 1
		}
	}
	return 0
}

// CurrentStepType is the type of the chain's current step, "" when none.
func (i *Identification) CurrentStepType() string {
	if i.CurrentStep < 1 || i.CurrentStep > len(i.Sequence) {
		return ""
	}
	return i.Sequence[i.CurrentStep-1].IdentificationType
}

// SyncSteps sets every step's status from the chain's status and current
// step: before it COMPLETED, at it CURRENT (FAILED when the chain failed
// there), after it PENDING. Stores call it on every item they read.
func (i *Identification) SyncSteps() {
	for n := range i.Sequence {
		pos := n + 1
		switch {
		case pos < i.CurrentStep:
			i.Sequence[n].Status = StepCompleted
		case pos == i.CurrentStep && i.Status == StatusFailed:
			i.Sequence[n].Status = StepFailed
		case pos == i.CurrentStep:
			i.Sequence[n].Status = StepCurrent
		default:
			i.Sequence[n].Status = StepPending
		}
	}
}

// Ref names one identification: the organisation is part of every key.
func (i *Identification) Ref() Ref { return Ref{Org: i.OrgID, Type: i.Type, ID: i.ID} }

// ExpiredAt reports whether the process, as stored, is past its expiry at
// now: open and expires_at reached. Such a process is EXPIRED everywhere at
// once, whether or not the sweep has written it yet.
func (i *Identification) ExpiredAt(now time.Time) bool {
	return i.Status.Open() && !now.Before(i.ExpiresAt)
}

// AsSeenAt returns the process as the API must report it at now: an open
// process past its expiry reads as EXPIRED, ended at its expiry.
func (i *Identification) AsSeenAt(now time.Time) *Identification {
	if !i.ExpiredAt(now) {
		return i
	}
	c := *i
	c.Status = StatusExpired
	ended := i.ExpiresAt
	c.EndedAt = &ended
	if i.Sequence != nil {
		c.Sequence = append([]Step(nil), i.Sequence...)
		c.SyncSteps()
	}
	return &c
}

// Ref is the key of one identification within its organisation.
type Ref struct {
	Org  string
	Type Type
	ID   string
}

// Actor is the person being identified.
type Actor struct {
	Name             string
	LastName         string
	IdentityDocument *IdentityDocument
	Email            string
	MSISDN           *MSISDN
	Language         string
}

// IdentityDocument is the actor's identity document.
type IdentityDocument struct {
	DocumentNumber string
	DocumentType   string
	Country        string
}

// MSISDN is a phone number. PhoneNumber holds digits only (no leading zero),
// CountryCode 1 to 3 digits without the "+".
type MSISDN struct {
	PhoneNumber string
	CountryCode string
}

// Channel is how the one-time code reaches the actor.
type Channel struct {
	Type     string
	External bool
}

// Step is one step of a chain's sequence.
type Step struct {
	IdentificationType   string
	Status               string
	OTPStep              *OTPStep
	IdentityDocumentStep *IdentityDocumentStep
}

// OTPStep configures an OTP step of a chain.
type OTPStep struct {
	TwoFactorType string
	Channel       *Channel
}

// IdentityDocumentStep configures an identity-document scan step.
type IdentityDocumentStep struct {
	ProviderType string
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
