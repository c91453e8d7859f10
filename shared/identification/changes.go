package identification

import "time"

// A Change is one thing an effect does to a process. Each kind is a small
// value with its meaning here (Apply, which memstore runs); the DynamoDB
// store translates each kind once into its part of one update. Every
// change also bumps the version, dates the process and appends the
// history entry (Effect.Apply does that, not a Change).
//
// Every kind is listed in ChangeKinds: a store's test walks that list, so a
// kind added here without its translation fails a test.
type Change interface {
	// Apply makes the change on c.I and c.Code.
	Apply(c *Changing)
}

// Changing is a process being changed: the copy a change edits, the code
// material it will hold, and the change's time and caller.
type Changing struct {
	I    *Identification
	Code *CodeMaterial
	// Old is the process before the change (read only).
	Old *Identification
	At  time.Time
	By  Caller
}

// ChangeKinds is a zero value of every kind of Change.
func ChangeKinds() []Change {
	return []Change{
		SetStatus{}, End{}, SetCancelReason{}, BindDevice{}, IssueCode{},
		CountAttempt{}, MarkValidated{}, SetFailure{}, DropCode{},
		RecordCompletedDevice{}, RecordAgent{}, Advance{}, RecordEvidence{},
		RecordDecision{}, SetExpiry{},
	}
}

// SetStatus moves the process to status To.
type SetStatus struct{ To Status }

// Apply sets the status.
func (ch SetStatus) Apply(c *Changing) { c.I.Status = ch.To }

// End ends the process on Clock: it leaves the open index, and its
// retention runs from its end (Keeping). UserAgent, when set, is recorded
// as who ended it.
type End struct {
	Clock     EndClock
	UserAgent string
}

// Apply records when (and by what) the process ended, and drops its code.
func (ch End) Apply(c *Changing) {
	switch ch.Clock {
	case EndNow:
		t := c.At
		c.I.EndedAt = &t
	case EndAtExpiry:
		t := c.Old.ExpiresAt
		c.I.EndedAt = &t
	case EndCompleted:
		t := c.At
		c.I.CompletedAt = &t
	}
	if ch.UserAgent != "" {
		c.I.EndedUserAgent = ch.UserAgent
	}
}

// SetCancelReason records why an admin cancelled.
type SetCancelReason struct{ Reason string }

// Apply records the reason.
func (ch SetCancelReason) Apply(c *Changing) { c.I.CancelReason = ch.Reason }

// BindDevice binds a chain to the actor's device and makes its first step
// current (start).
type BindDevice struct{ Device *Device }

// Apply binds the device.
func (ch BindDevice) Apply(c *Changing) {
	d := *ch.Device
	c.I.Device = &d
	c.I.CurrentStep = 1
}

// IssueCode makes Code the current code; the one it replaces is kept as
// Previous, so a right guess counted against it still completes.
type IssueCode struct{ Code *IssuedCode }

// Apply counts the code, dates it and replaces the code material.
func (ch IssueCode) Apply(c *Changing) {
	ic := ch.Code
	o := ensureOTP(c.I)
	o.CodesSent++
	o.CodeExpiresAt = ic.ExpiresAt
	o.LastCodeAt = c.At
	if !ic.IssuedAt.IsZero() {
		o.LastCodeAt = ic.IssuedAt
	}
	o.Delivery = Delivery{Status: ic.Delivery}
	prev := ""
	if c.Code != nil {
		prev = c.Code.Hash
	}
	c.Code = &CodeMaterial{Hash: ic.Hash, KeyID: ic.KeyID, Nonce: ic.Nonce, Previous: prev}
}

// CountAttempt counts an attempt and records the hashes of what it tried.
type CountAttempt struct{ Guesses []string }

// Apply counts the attempt.
func (ch CountAttempt) Apply(c *Changing) {
	ensureOTP(c.I).Attempts++
	if c.Code != nil {
		c.Code.Guesses = append(c.Code.Guesses, ch.Guesses...)
	}
}

// MarkValidated marks the code validated while the process waits for
// something else (the document images).
type MarkValidated struct{}

// Apply marks the code validated.
func (MarkValidated) Apply(c *Changing) { ensureOTP(c.I).Validated = true }

// SetFailure records why the process failed.
type SetFailure struct{ Reason string }

// Apply records the reason.
func (ch SetFailure) Apply(c *Changing) { c.I.FailureReason = ch.Reason }

// DropCode removes the code material: a used code, and any code of an
// ended process, is gone (its hash, nonce and the guesses counted).
type DropCode struct{}

// Apply drops the code.
func (DropCode) Apply(c *Changing) { c.Code = nil }

// RecordCompletedDevice records the device that completed the code.
type RecordCompletedDevice struct{ Device *Device }

// Apply records the device.
func (ch RecordCompletedDevice) Apply(c *Changing) {
	d := *ch.Device
	c.I.CompletedDevice = &d
}

// RecordAgent records what the agent recorded.
type RecordAgent struct{ Agent *AgentRecord }

// Apply records the agent.
func (ch RecordAgent) Apply(c *Changing) {
	a := *ch.Agent
	c.I.Agent = &a
}

// Advance makes step To (1-based) the chain's current step.
type Advance struct{ To int }

// Apply moves the chain on.
func (ch Advance) Apply(c *Changing) { c.I.CurrentStep = ch.To }

// RecordEvidence records an uploaded image, replacing one of its kind.
type RecordEvidence struct{ Evidence *Evidence }

// Apply records the image.
func (ch RecordEvidence) Apply(c *Changing) {
	ev := *ch.Evidence
	if have := c.I.EvidenceOf(ev.Kind); have != nil {
		*have = ev
	} else {
		c.I.Evidence = append(c.I.Evidence, ev)
	}
}

// RecordDecision records the document decision.
type RecordDecision struct{ Decision *DocumentDecision }

// Apply records the decision.
func (ch RecordDecision) Apply(c *Changing) {
	d := *ch.Decision
	c.I.Decision = &d
}

// SetExpiry moves the process's expiry to At; the open index and the end
// of its retention move with it (Keeping).
type SetExpiry struct{ At time.Time }

// Apply moves the expiry.
func (ch SetExpiry) Apply(c *Changing) { c.I.ExpiresAt = ch.At }

func ensureOTP(i *Identification) *OTPState {
	if i.OTP == nil {
		i.OTP = &OTPState{}
	}
	return i.OTP
}

// Keeping is a stored process's bookkeeping: whether and until when it is
// in the open index the expiry sweep reads, and when the store may forget
// it (its TTL). It follows from the process alone, by one rule every store
// keeps whenever the status or the expiry changes: an open process is
// indexed at its expiry and kept for the retention after it; an ended one
// is not indexed and is kept for the retention after its end.
type Keeping struct {
	// Open is whether the process is in the open index, at OpenUntil.
	Open      bool
	OpenUntil time.Time
	// Until is when the store may forget the process (its TTL).
	Until time.Time
}

// KeepingOf is i's bookkeeping with retention.
func KeepingOf(i *Identification, retention time.Duration) Keeping {
	end := i.ExpiresAt
	switch {
	case i.EndedAt != nil:
		end = *i.EndedAt
	case i.CompletedAt != nil:
		end = *i.CompletedAt
	}
	k := Keeping{Until: end.Add(retention)}
	if i.Status.Open() {
		k.Open, k.OpenUntil = true, i.ExpiresAt
	}
	return k
}
