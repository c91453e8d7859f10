package identification

import (
	"fmt"
	"strings"
	"time"
)

// Action is something that changes a process.
type Action string

// The actions of the lifecycle (docs/lifecycle.md). Delete is not one: the
// record goes away, and DeleteAllowed rules it.
const (
	// ActionCreate names a process's first history entry; it is no rule of
	// the table (a create is no change of an existing process).
	ActionCreate = "create"
	// ActionDeliverySent and ActionDeliveryFailed name the history entries
	// of the system's own delivery of a code.
	ActionDeliverySent   = "delivery_sent"
	ActionDeliveryFailed = "delivery_failed"

	ActionStart         Action = "start"
	ActionIssueCode     Action = "issue_code"
	ActionAttempt       Action = "attempt"
	ActionCompleteCode  Action = "complete_code"
	ActionFailAttempts  Action = "fail_attempts"
	ActionCompleteAgent Action = "complete_agent"
	// ActionAddEvidence records an uploaded image; ActionCompleteEvidence
	// completes an OTP identification whose code and images are all in;
	// ActionApproveDocument and ActionRejectDocument decide a chain's
	// IDENTITY_DOCUMENT step.
	ActionAddEvidence      Action = "add_evidence"
	ActionCompleteEvidence Action = "complete_evidence"
	ActionApproveDocument  Action = "approve_document"
	ActionRejectDocument   Action = "reject_document"
	ActionCancel           Action = "cancel"
	// ActionExtend moves an open process's expiry later.
	ActionExtend Action = "extend"
	ActionClose  Action = "close"
	ActionExpire Action = "expire"
)

// CallerKind is who acts.
type CallerKind string

// The kinds of caller.
const (
	CallerAdmin CallerKind = "admin"
	CallerActor CallerKind = "actor"
	CallerAgent CallerKind = "agent"
	// CallerReviewer decides INTERNAL document steps, CallerProvider
	// EXTERNAL ones.
	CallerReviewer CallerKind = "reviewer"
	CallerProvider CallerKind = "provider"
	CallerSystem   CallerKind = "system"
)

// Caller is who asks for a change; it travels with every change.
type Caller struct {
	Kind      CallerKind
	Sub       string
	RequestID string
	UserAgent string
	// Device is the actor's device (actor calls only).
	Device *Device
	// Also are the other kinds the caller's token grants on this route
	// (a token may hold both the review and the provider scopes); an
	// action that needs one of them takes it (WithKind).
	Also []CallerKind
}

// WithKind is the caller acting as kind, if it is its kind or one of Also.
func (c Caller) WithKind(kind CallerKind) (Caller, bool) {
	if c.Kind == kind {
		return c, true
	}
	for _, k := range c.Also {
		if k == kind {
			c.Kind, c.Also = kind, nil
			return c, true
		}
	}
	return c, false
}

// ExpiryRule says how a rule treats a process whose expiry has passed.
type ExpiryRule int

const (
	// ExpiryLive: an open process must not have expired (every action but
	// expire).
	ExpiryLive ExpiryRule = iota
	// ExpiryDue: the process must have expired (expire).
	ExpiryDue
)

// EndClock says whether and how an action ends the process: an ended
// process leaves the open index and gets the end of its retention as TTL.
type EndClock int

const (
	// EndNone: the process stays as open as it was.
	EndNone EndClock = iota
	// EndNow: it ends at the action's time (ended_at).
	EndNow
	// EndAtExpiry: it ended at its expiry, whenever the action ran.
	EndAtExpiry
	// EndCompleted: it completed at the action's time (completed_at, not
	// ended_at: a completed process may still be closed).
	EndCompleted
)

// Rule is one row of the lifecycle table: where the action is allowed
// from, what it leads to, whether it ends the process and who may do it.
type Rule struct {
	From   []Status
	To     Status // "" leaves the status as it is
	Expiry ExpiryRule
	Ends   EndClock
	By     []CallerKind
	// Chain and OTP say which types of process the action applies to.
	Chain, OTP bool
}

// Lifecycle is the table every store enforces through Plan. The document
// docs/lifecycle.md draws its picture from this table.
var Lifecycle = map[Action]Rule{
	ActionStart:            {From: []Status{StatusCreated}, To: StatusInProgress, By: []CallerKind{CallerActor}, Chain: true},
	ActionIssueCode:        {From: []Status{StatusCreated, StatusInProgress}, By: []CallerKind{CallerActor, CallerAdmin, CallerSystem}, Chain: true, OTP: true},
	ActionAttempt:          {From: []Status{StatusCreated, StatusInProgress}, To: StatusInProgress, By: []CallerKind{CallerActor}, Chain: true, OTP: true},
	ActionCompleteCode:     {From: []Status{StatusInProgress}, By: []CallerKind{CallerActor, CallerSystem}, Chain: true, OTP: true},
	ActionFailAttempts:     {From: []Status{StatusInProgress}, To: StatusFailed, Ends: EndNow, By: []CallerKind{CallerSystem}, Chain: true, OTP: true},
	ActionCompleteAgent:    {From: []Status{StatusInProgress}, By: []CallerKind{CallerAgent}, Chain: true},
	ActionAddEvidence:      {From: []Status{StatusCreated, StatusInProgress}, To: StatusInProgress, By: []CallerKind{CallerActor, CallerAgent}, Chain: true, OTP: true},
	ActionCompleteEvidence: {From: []Status{StatusInProgress}, To: StatusCompleted, Ends: EndCompleted, By: []CallerKind{CallerActor}, OTP: true},
	ActionApproveDocument:  {From: []Status{StatusInProgress}, By: []CallerKind{CallerReviewer, CallerProvider}, Chain: true},
	ActionRejectDocument:   {From: []Status{StatusInProgress}, To: StatusFailed, Ends: EndNow, By: []CallerKind{CallerReviewer, CallerProvider}, Chain: true},
	ActionCancel:           {From: []Status{StatusCreated, StatusInProgress}, To: StatusCancelled, Ends: EndNow, By: []CallerKind{CallerAdmin}, Chain: true, OTP: true},
	ActionClose:            {From: []Status{StatusCreated, StatusInProgress, StatusCompleted}, To: StatusClosed, Ends: EndNow, By: []CallerKind{CallerAdmin}, Chain: true, OTP: true},
	ActionExpire:           {From: []Status{StatusCreated, StatusInProgress}, To: StatusExpired, Expiry: ExpiryDue, Ends: EndAtExpiry, By: []CallerKind{CallerSystem}, Chain: true, OTP: true},
	ActionExtend:           {From: []Status{StatusCreated, StatusInProgress}, By: []CallerKind{CallerAdmin}, Chain: true, OTP: true},
}

// Limits of the one-time codes.
const (
	MaxCodes       = 5
	MaxAttempts    = 5
	CodeSpacing    = 30 * time.Second
	DefaultCodeTTL = 10 * time.Minute
)

// Command is one change asked of a process: the action, when, by whom,
// and what the action needs.
type Command struct {
	Action Action
	At     time.Time
	By     Caller
	Reason string

	// Step is the 1-based position of the chain step the action is for
	// (complete_code and complete_agent of a chain); Last says it is the
	// chain's last step, so completing it completes the chain.
	Step int
	Last bool
	// StepType is the type the chain's current step must have (attempt
	// and issue_code on a chain: OTP).
	StepType string
	// Code is the code issued (issue_code; start of a chain whose first
	// step is an OTP step the system delivers).
	Code *IssuedCode
	// Guesses are what an attempt records of the values tried (attempt):
	// hashes, never the values.
	Guesses []string
	// NoTwoFactor says the attempt carries no second factor: the process
	// must not need one (else KindInvalid naming two_factor).
	NoTwoFactor bool
	// CodeHash is the hash of the code an attempt was counted against
	// (complete_code, fail_attempts): a code replaced since is refused.
	CodeHash string
	// Awaiting is set on complete_code when the process still waits for
	// something else (the document images): the code is marked validated
	// and the process stays IN_PROGRESS.
	Awaiting bool
	// Agent is what an agent records (complete_agent).
	Agent *AgentRecord
	// Evidence is the image recorded (add_evidence).
	Evidence *Evidence
	// Decision is the document decision (approve_document,
	// reject_document).
	Decision *DocumentDecision
	// ExpiresAt is the new expiry (extend).
	ExpiresAt time.Time
}

// IssuedCode is a new code as stored: never the code itself.
type IssuedCode struct {
	Hash      string
	KeyID     string
	ExpiresAt time.Time
	// Nonce derives the code again for the system's own delivery; it is
	// empty when the organisation delivers the code itself.
	Nonce    string
	Delivery string
	// IssuedAt is when the code was made, to the millisecond: the spacing
	// between codes is compared on it, not on the whole second of At.
	IssuedAt time.Time
}

// CodeMaterial is the stored secret side of the current code: read only on
// the attempt path, never part of an Identification.
type CodeMaterial struct {
	Hash    string
	KeyID   string
	Nonce   string
	Guesses []string
	// Previous is the hash of the code this one replaced: a right guess
	// counted against it before the replacement still completes.
	Previous string
}

// Effect is a planned change: the guards a stored process must pass and the
// changes it then makes, as values (guards.go, changes.go). Plan makes it;
// memstore runs Check and Apply; the DynamoDB store translates each guard
// and change into one conditional update, and classifies a refusal with
// Check from the process as it was.
type Effect struct {
	Command
	// Rule is the action's row of the lifecycle, with To and Ends as this
	// command takes them (a completion completes the process only when it
	// is the last thing left).
	Rule    Rule
	Guards  []Guard
	Changes []Change
}

// Plan turns a command into the effect every store applies. It fails only
// on a command the lifecycle does not know.
func Plan(cmd Command) (Effect, error) {
	rule, ok := Lifecycle[cmd.Action]
	if !ok {
		return Effect{}, fmt.Errorf("plan: unknown action %q", cmd.Action)
	}
	if cmd.By.Kind != "" && !containsKind(rule.By, cmd.By.Kind) {
		return Effect{}, fmt.Errorf("plan: %s may not %s", cmd.By.Kind, cmd.Action)
	}
	e := Effect{Command: cmd, Rule: rule}
	guard := func(g ...Guard) { e.Guards = append(e.Guards, g...) }
	change := func(c ...Change) { e.Changes = append(e.Changes, c...) }
	completes := func() { e.Rule.To, e.Rule.Ends = StatusCompleted, EndCompleted }
	guard(StatusIn{Action: cmd.Action, From: rule.From, Due: rule.Expiry == ExpiryDue})
	actor := cmd.By.Kind == CallerActor
	chainActor := actor && cmd.By.Device != nil && cmd.StepType != ""
	switch cmd.Action {
	case ActionStart:
		change(BindDevice{Device: cmd.By.Device})
		if cmd.Code != nil {
			// A first step the system delivers gets its code at the start.
			change(IssueCode{Code: cmd.Code})
		}
	case ActionIssueCode:
		if chainActor {
			guard(OnDevice{Device: cmd.By.Device})
		}
		if cmd.StepType != "" {
			guard(AtStepType{Type: cmd.StepType})
		}
		// A process whose attempts are spent takes no new code: it is
		// failed (or owed its failure), not rescued.
		guard(AttemptsBelow{N: MaxAttempts})
		if actor {
			guard(DeliveredBySystem{})
		}
		spaced := Spaced{Spacing: CodeSpacing}
		if cmd.Code != nil {
			spaced.IssuedAt = cmd.Code.IssuedAt
		}
		guard(CodesBelow{N: MaxCodes}, spaced)
		if cmd.Code != nil {
			change(IssueCode{Code: cmd.Code})
		}
	case ActionAttempt:
		if chainActor {
			guard(OnDevice{Device: cmd.By.Device})
		}
		if cmd.StepType != "" {
			guard(AtStepType{Type: cmd.StepType})
		}
		if cmd.NoTwoFactor {
			guard(NoSecondFactor{})
		}
		guard(AttemptsBelow{N: MaxAttempts}, CodeLive{})
		change(CountAttempt{Guesses: cmd.Guesses})
	case ActionCompleteCode:
		if cmd.Step > 0 {
			guard(AtStep{N: cmd.Step})
		}
		if cmd.CodeHash != "" {
			guard(CodeIs{Hash: cmd.CodeHash})
		}
		if cmd.Step > 0 && cmd.Last || cmd.Step == 0 && !cmd.Awaiting {
			completes()
		}
		if cmd.Awaiting {
			change(MarkValidated{})
		}
		if cmd.By.Device != nil {
			change(RecordCompletedDevice{Device: cmd.By.Device})
		}
		if cmd.Step > 0 {
			change(Advance{To: cmd.Step + 1})
		}
	case ActionFailAttempts:
		if cmd.Step > 0 {
			guard(AtStep{N: cmd.Step})
		}
		if cmd.CodeHash != "" {
			guard(CodeIs{Hash: cmd.CodeHash})
		}
		guard(AttemptsAtLeast{N: MaxAttempts})
		change(SetFailure{Reason: FailureMaxAttempts})
	case ActionCompleteAgent:
		if cmd.Step > 0 {
			guard(AtStep{N: cmd.Step})
			change(Advance{To: cmd.Step + 1})
		}
		if cmd.Code != nil {
			// The next step is an OTP step the system delivers: its code.
			change(IssueCode{Code: cmd.Code})
		}
		if cmd.Last {
			completes()
		}
		if cmd.Agent != nil {
			change(RecordAgent{Agent: cmd.Agent})
		}
	case ActionAddEvidence:
		if cmd.Step > 0 {
			// A chain: its current step takes the image; the actor's
			// device is the chain's; a decided document takes no more.
			if actor && cmd.By.Device != nil {
				guard(OnDevice{Device: cmd.By.Device})
			}
			guard(AtStep{N: cmd.Step})
			if actor {
				guard(Undecided{})
			}
		} else {
			guard(TwoFactorIs{Type: "PERSONAL_DOCUMENT_IMAGE"})
		}
		if cmd.Evidence != nil {
			change(RecordEvidence{Evidence: cmd.Evidence})
		}
	case ActionCompleteEvidence:
		guard(TwoFactorIs{Type: "PERSONAL_DOCUMENT_IMAGE"}, DocumentIn{}, CodeValidated{})
	case ActionApproveDocument, ActionRejectDocument:
		if cmd.Step > 0 {
			guard(AtStep{N: cmd.Step})
		}
		guard(Undecided{}, DocumentIn{})
		if cmd.Decision != nil {
			change(RecordDecision{Decision: cmd.Decision})
		}
		if cmd.Action == ActionApproveDocument {
			if cmd.Last {
				completes()
			}
			if cmd.Step > 0 {
				change(Advance{To: cmd.Step + 1})
			}
			if cmd.Code != nil {
				// The next step is an OTP step the system delivers.
				change(IssueCode{Code: cmd.Code})
			}
		} else {
			change(SetFailure{Reason: FailureStepRejected})
		}
	case ActionCancel:
		if cmd.Reason != "" {
			change(SetCancelReason{Reason: cmd.Reason})
		}
	case ActionExtend:
		guard(ExpiresBefore{At: cmd.ExpiresAt}, LivesUntil{At: cmd.ExpiresAt})
		change(SetExpiry{At: cmd.ExpiresAt})
	}
	if e.Rule.To != "" {
		change(SetStatus{To: e.Rule.To})
	}
	if e.Rule.Ends != EndNone {
		end := End{Clock: e.Rule.Ends}
		if e.Rule.Ends == EndNow {
			end.UserAgent = cmd.By.UserAgent
		}
		change(end)
	}
	if e.Rule.Ends != EndNone || cmd.Action == ActionCompleteCode || cmd.Action == ActionFailAttempts {
		// A used code, and any code of an ended process, is gone.
		change(DropCode{})
	}
	return e, nil
}

// To is the status the effect leads to from old.
func (e Effect) To(old Status) Status {
	if e.Rule.To == "" {
		return old
	}
	return e.Rule.To
}

// Check returns why the effect cannot apply to old (nil: it can): the
// first of its guards that refuses. It is how memstore decides and how
// the DynamoDB store classifies a refused write from the item it
// returned, without a second read. code is the stored code material (nil
// when there is none).
func (e Effect) Check(old *Identification, code *CodeMaterial) *Error {
	if old == nil {
		return nil // the caller reports not found: only it knows the ref
	}
	s := Stored{I: old, Code: code}
	for _, g := range e.Guards {
		if err := g.Check(s, e.At); err != nil {
			return err
		}
	}
	return nil
}

// Refusal explains why the action's rule refuses a process found in status
// from with expiry expiresAt at now (nil: the rule allows it): the status
// and expiry part of Check, which is what the lifecycle table says.
func (a Action) Refusal(from Status, expiresAt, now time.Time) *Error {
	rule, ok := Lifecycle[a]
	if !ok {
		return Errorf(KindConflict, "%s is not an action of the lifecycle", a)
	}
	g := StatusIn{Action: a, From: rule.From, Due: rule.Expiry == ExpiryDue}
	return g.Check(Stored{I: &Identification{Status: from, ExpiresAt: expiresAt}}, now)
}

// Allows reports whether the action's rule allows it on a process in
// status from with expiry expiresAt, at now.
func (a Action) Allows(from Status, expiresAt, now time.Time) bool {
	return a.Refusal(from, expiresAt, now) == nil
}

func stepConflict(old *Identification) *Error {
	if t := old.CurrentStepType(); t != "" {
		return Errorf(KindConflict, "the current step is step %d (%s)", old.CurrentStep, t)
	}
	if old.CurrentStep == 0 {
		return Errorf(KindConflict, "the chain has not been started; validate the chain first")
	}
	return Errorf(KindConflict, "every step of the chain is done")
}

// Apply returns the process old becomes under the effect, and the code
// material it then holds; it does not check (Check does). memstore uses
// it; the DynamoDB store's translated update does the same in one write.
func (e Effect) Apply(old *Identification, code *CodeMaterial) (*Identification, *CodeMaterial) {
	c := &Changing{I: Clone(old), Code: CloneCode(code), Old: old, At: e.At, By: e.By}
	c.I.UpdatedAt = e.At
	c.I.Version++
	for _, ch := range e.Changes {
		ch.Apply(c)
	}
	c.I.History = append(c.I.History, e.HistoryEntry())
	c.I.SyncSteps()
	return c.I, c.Code
}

// HistoryEntry is the entry the effect adds to the process's history.
func (e Effect) HistoryEntry() HistoryEntry {
	h := HistoryEntry{At: e.At, Action: string(e.Action), To: e.Rule.To, ByKind: e.By.Kind, BySub: e.By.Sub, RequestID: e.By.RequestID}
	switch e.Action {
	case ActionCancel:
		h.Reason = e.Reason
	case ActionFailAttempts:
		h.Reason = FailureMaxAttempts
	case ActionApproveDocument:
		h.Reason = e.Reason
	case ActionRejectDocument:
		h.Reason = FailureStepRejected
		if e.Reason != "" {
			h.Reason += ": " + e.Reason
		}
	}
	return h
}

// DeleteAllowed reports whether a delete may remove a process in status
// from: without force only a CREATED process that has not expired; with
// force (and the force-delete permission, checked by the caller) any.
func DeleteAllowed(from Status, expiresAt, now time.Time, force bool) bool {
	if force {
		return true
	}
	return from == StatusCreated && now.Before(expiresAt)
}

// DeleteRefusal is the error for a delete that DeleteAllowed refused.
func DeleteRefusal(from Status, expiresAt, now time.Time) *Error {
	status := from
	if from.Open() && !now.Before(expiresAt) {
		status = StatusExpired
	}
	return Errorf(KindForbidden, "identification is %s; delete without force=true is allowed only from CREATED", status)
}

func containsKind(list []CallerKind, k CallerKind) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

func contains(list []Status, s Status) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func joinStatuses(list []Status) string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// String names the action.
func (a Action) String() string { return string(a) }

// CloneCode copies code material (nil stays nil).
func CloneCode(c *CodeMaterial) *CodeMaterial {
	if c == nil {
		return nil
	}
	cc := *c
	cc.Guesses = append([]string(nil), c.Guesses...)
	return &cc
}

// Clone copies i deeply: nothing reachable from the copy is shared.
func Clone(i *Identification) *Identification {
	c := *i
	cp := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		x := *t
		return &x
	}
	c.EndedAt = cp(i.EndedAt)
	c.CompletedAt = cp(i.CompletedAt)
	if d := i.Actor.IdentityDocument; d != nil {
		dc := *d
		c.Actor.IdentityDocument = &dc
	}
	if m := i.Actor.MSISDN; m != nil {
		mc := *m
		c.Actor.MSISDN = &mc
	}
	if ch := i.Channel; ch != nil {
		cc := *ch
		c.Channel = &cc
	}
	if o := i.OTP; o != nil {
		oc := *o
		c.OTP = &oc
	}
	if d := i.Device; d != nil {
		dc := *d
		c.Device = &dc
	}
	if d := i.CompletedDevice; d != nil {
		dc := *d
		c.CompletedDevice = &dc
	}
	if a := i.Agent; a != nil {
		ac := *a
		c.Agent = &ac
	}
	c.History = append([]HistoryEntry(nil), i.History...)
	c.Evidence = append([]Evidence(nil), i.Evidence...)
	if d := i.Decision; d != nil {
		dc := *d
		c.Decision = &dc
	}
	if i.Sequence != nil {
		c.Sequence = make([]Step, len(i.Sequence))
		for n, st := range i.Sequence {
			if o := st.OTPStep; o != nil {
				oc := *o
				if o.Channel != nil {
					cc := *o.Channel
					oc.Channel = &cc
				}
				st.OTPStep = &oc
			}
			if d := st.IdentityDocumentStep; d != nil {
				dc := *d
				st.IdentityDocumentStep = &dc
			}
			c.Sequence[n] = st
		}
	}
	return &c
}
