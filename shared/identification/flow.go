package identification

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// errNoKeys is the internal error of a code operation on a service built
// without code keys (the route refuses to start before it can happen).
var errNoKeys = errors.New("no code keys configured")

// StartChain is the actor starting a chain on their device: CREATED →
// IN_PROGRESS, the chain bound to by.Device, its first step CURRENT (with
// its code issued when the system delivers it). The same device starting
// it again changes nothing; another device is KindConflict. Two store
// calls: a read, to know the first step, and the conditional write.
func (s *Service) StartChain(ctx context.Context, ref Ref, by Caller) error {
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("start chain %s: %w", ref.ID, err)
	}
	now := s.Now()
	cmd := Command{Action: ActionStart, At: now, By: by}
	if i.Status == StatusCreated && len(i.Sequence) > 0 {
		if cmd.Code, err = s.codeOfStep(ctx, i, 1, now); err != nil {
			return fmt.Errorf("start chain %s: %w", ref.ID, err)
		}
	}
	res, err := s.apply(ctx, ref, cmd)
	var de *Error
	if errors.As(err, &de) && de.Kind == KindConflict && res.Old != nil && res.Old.Status == StatusInProgress {
		if res.Old.Device.SameAs(by.Device) {
			return nil // started already, from this device
		}
		return Errorf(KindConflict, "the chain is bound to another device")
	}
	return err
}

// Validate is an attempt at the code of an OTP identification, or of a
// chain's current OTP step. The attempt is counted before the comparison,
// in one conditional write that admits at most MaxAttempts in all, however
// many arrive at once; the right code (and second factor) then completes it
// in a second write, and the last wrong one fails it. A wrong value is
// KindMismatch with the attempts left, never saying which of the two was
// wrong.
func (s *Service) Validate(ctx context.Context, ref Ref, in Validation, by Caller) error {
	if s.keys == nil {
		return fmt.Errorf("validate %s: %w", ref.ID, errNoKeys)
	}
	now := s.Now()
	codeHash, _ := s.keys.Hash(ref, in.Code)
	cmd := Command{Action: ActionAttempt, At: now, By: by}
	if ref.Type == TypeChain {
		cmd.StepType = StepOTP
	}
	// What is counted is the guess of both values at once, so that whoever
	// sees the fifth attempt can tell whether one of the five was right.
	// The type of second factor is not known before the write, so the
	// guess is recorded as both kinds would compare it.
	cmd.Guesses = []string{
		GuessOf(codeHash, NormalisedTwoFactor("DOCUMENT_NUMBER", in.TwoFactor)),
		GuessOf(codeHash, NormalisedTwoFactor("EMAIL", in.TwoFactor)),
		GuessOf(codeHash, ""),
	}
	cmd.NoTwoFactor = strings.TrimSpace(in.TwoFactor) == ""
	res, err := s.apply(ctx, ref, cmd)
	if err != nil {
		return s.settleRefused(ctx, ref, res, err)
	}
	i, code := res.New, res.Code
	// Write the rest even if the caller goes away: the attempt is counted.
	ctx = context.WithoutCancel(ctx)
	tf, _ := secondFactor(i)
	mine := GuessOf(rehash(s.keys, code, ref, in.Code, codeHash), NormalisedTwoFactor(tf, in.TwoFactor))
	right := code != nil && hmac.Equal([]byte(mine), []byte(rightGuess(i, code)))
	step, last := 0, false
	if ref.Type == TypeChain {
		step, last = i.CurrentStep, i.CurrentStep == len(i.Sequence)
	}
	if right {
		done := Command{Action: ActionCompleteCode, At: now, By: by, CodeHash: code.Hash, Step: step, Last: last}
		if ref.Type == TypeOTP && i.TwoFactorType == "PERSONAL_DOCUMENT_IMAGE" {
			// Until both document images are in; an image confirmed since
			// the attempt shows in the write's answer.
			done.Awaiting = !i.hasDocument()
		}
		res, err := s.apply(ctx, ref, done)
		if err != nil || !done.Awaiting {
			return err
		}
		return s.completeIfReady(ctx, ref, res.New, by)
	}
	left := MaxAttempts - i.OTP.Attempts
	if left <= 0 && !anyRight(i, code) {
		_, err := s.apply(ctx, ref, Command{Action: ActionFailAttempts, At: now, By: Caller{Kind: CallerSystem, RequestID: by.RequestID}, Step: step})
		if err != nil && KindOf(err) != KindConflict && KindOf(err) != KindExpired {
			return err
		}
	}
	e := Errorf(KindMismatch, "the code or the second factor does not match; %d attempts left", max(left, 0))
	e.Remaining = max(left, 0)
	return e
}

// Settlement is the write a counted attempt decided but that did not land
// (the store failed, or the caller's process died, between the counting
// write and the next): the completion of a right guess counted against
// CodeHash, or the failure of a process whose attempts are spent, none
// right. Any later read or attempt writes it (Service.settle), so the
// outcome never depends on the validate's second write.
type Settlement struct {
	Action   Action
	CodeHash string
}

// SettlementOf is what the stored process i, with its code material, is
// owed, or nil. Stores call it on every read.
func SettlementOf(i *Identification, code *CodeMaterial) *Settlement {
	if i == nil || i.Status != StatusInProgress || i.OTP == nil || code == nil || code.Hash == "" {
		return nil
	}
	if i.Type == TypeChain && i.CurrentStepType() != StepOTP {
		return nil
	}
	if anyRight(i, code) {
		return &Settlement{Action: ActionCompleteCode, CodeHash: code.Hash}
	}
	if i.OTP.Attempts >= MaxAttempts {
		return &Settlement{Action: ActionFailAttempts}
	}
	return nil
}

// SettleGrace is how long after a right guess was counted a read leaves
// its completion to the validate that counted it; a failure of spent
// attempts is written at once (whoever writes it, the outcome is one).
const SettleGrace = 30 * time.Second

// settle writes what i is owed (see Settlement) and returns the process as
// it then is: i itself when nothing is owed or the write was refused
// because another caller settled it first (then a read follows).
func (s *Service) settle(ctx context.Context, ref Ref, i *Identification) (*Identification, error) {
	if i == nil || i.Unsettled == nil {
		return i, nil
	}
	now := s.Now()
	if i.Unsettled.Action == ActionCompleteCode && now.Sub(i.UpdatedAt) < SettleGrace {
		// The validate that counted the right guess may still be on its
		// way to completing it: its own write decides who answered 204.
		return i, nil
	}
	ctx = context.WithoutCancel(ctx)
	cmd := Command{Action: i.Unsettled.Action, At: now, By: Caller{Kind: CallerSystem}, CodeHash: i.Unsettled.CodeHash}
	if i.Type == TypeChain {
		cmd.Step, cmd.Last = i.CurrentStep, i.CurrentStep == len(i.Sequence)
	}
	if cmd.Action == ActionCompleteCode && i.Type == TypeOTP && i.TwoFactorType == "PERSONAL_DOCUMENT_IMAGE" {
		cmd.Awaiting = !i.hasDocument()
	}
	res, err := s.apply(ctx, ref, cmd)
	switch {
	case err == nil:
		if cmd.Awaiting {
			if err := s.completeIfReady(ctx, ref, res.New, cmd.By); err != nil {
				return nil, err
			}
			return s.store.Get(ctx, ref)
		}
		return res.New, nil
	case KindOf(err) == KindConflict || KindOf(err) == KindExpired:
		// Settled by another caller meanwhile, or expired: read it as it is.
		return s.store.Get(ctx, ref)
	default:
		return nil, err
	}
}

// settleRefused settles the process a refused action found owed a
// settlement (its attempts spent, or a right guess counted and not
// completed), then returns the refusal err.
func (s *Service) settleRefused(ctx context.Context, ref Ref, res Result, err error) error {
	if res.Old != nil && res.Old.Unsettled != nil {
		if _, serr := s.settle(ctx, ref, res.Old); serr != nil {
			return serr
		}
	}
	return err
}

// GuessOf is what an attempt records: a hash of the code's hash and the
// second factor as compared.
func GuessOf(codeHash, twoFactor string) string {
	m := sha256.New()
	m.Write([]byte(codeHash))
	m.Write([]byte{0})
	m.Write([]byte(twoFactor))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// rehash is the caller's code hashed under the key the stored code was
// hashed with (a previous key, during a rotation).
func rehash(k *CodeKeys, stored *CodeMaterial, ref Ref, code, current string) string {
	if h, ok := k.HashWith(stored.KeyID, ref, code); ok {
		return h
	}
	return current
}

// secondFactor is the process's second factor as compared, "" when it has
// none to compare.
func secondFactor(i *Identification) (string, string) {
	tf := i.TwoFactorType
	if i.Type == TypeChain {
		if n := i.StepIndex(StepOTP); n > 0 && i.Sequence[n-1].OTPStep != nil {
			tf = i.Sequence[n-1].OTPStep.TwoFactorType
		}
	}
	switch tf {
	case "DOCUMENT_NUMBER":
		if d := i.Actor.IdentityDocument; d != nil {
			return tf, normalisedDocument(d.DocumentNumber)
		}
	case "EMAIL":
		return tf, normalisedEmail(i.Actor.Email)
	}
	return tf, ""
}

// TwoFactorTypeOf is the second factor a validate of i must carry.
func TwoFactorTypeOf(i *Identification) string {
	tf, _ := secondFactor(i)
	return tf
}

// NormalisedTwoFactor is v as compared for a second factor of type tf.
func NormalisedTwoFactor(tf, v string) string {
	switch tf {
	case "DOCUMENT_NUMBER":
		return normalisedDocument(v)
	case "EMAIL":
		return normalisedEmail(v)
	}
	return ""
}

// rightGuess is the guess the right code and second factor make.
func rightGuess(i *Identification, code *CodeMaterial) string {
	_, want := secondFactor(i)
	return GuessOf(code.Hash, want)
}

// anyRight reports whether one of the counted guesses was right: its
// completion is then on its way, and the process must not fail.
func anyRight(i *Identification, code *CodeMaterial) bool {
	if code == nil {
		return false
	}
	want := []byte(rightGuess(i, code))
	for _, g := range code.Guesses {
		if hmac.Equal([]byte(g), want) {
			return true
		}
	}
	return false
}

// Resent is the outcome of a resend: the new code when the organisation
// delivers it itself.
type Resent struct {
	External  bool
	Code      string
	ExpiresAt time.Time
}

// Resend issues a new code for an OTP identification, or for a chain's
// current OTP step; the previous one stops working at once. At most
// MaxCodes per process, CodeSpacing apart (KindTooSoon with RetryAfter).
// One conditional write.
func (s *Service) Resend(ctx context.Context, ref Ref, by Caller) (Resent, error) {
	if s.keys == nil {
		return Resent{}, fmt.Errorf("resend %s: %w", ref.ID, errNoKeys)
	}
	now := s.Now()
	if err := s.guardResend(ctx, ref, now, by); err != nil {
		return Resent{}, err
	}
	code, ic, err := s.issue(ctx, ref, now, time.Time{}, false)
	if err != nil {
		return Resent{}, err
	}
	cmd := Command{Action: ActionIssueCode, At: now, By: by, Code: ic}
	if ref.Type == TypeChain {
		cmd.StepType = StepOTP
	}
	res, err := s.apply(ctx, ref, cmd)
	if err != nil {
		return Resent{}, s.settleRefused(ctx, ref, res, err)
	}
	out := Resent{ExpiresAt: CodeExpiry(res.New)}
	if ch := OTPChannel(res.New); ch != nil && ch.External {
		out.External, out.Code = true, code
	}
	return out, nil
}

// ResendOnce is Resend with an Idempotency-Key: the new code and the
// key's record in one transaction, then a read of the process to say
// whether the organisation delivers the code and until when it is valid.
// The same key with the same request answers the first code again, derived
// from the nonce the record kept; nothing new is issued. Two store calls.
func (s *Service) ResendOnce(ctx context.Context, ref Ref, by Caller, rec Idempotency) (Resent, bool, error) {
	if s.keys == nil {
		return Resent{}, false, fmt.Errorf("resend %s: %w", ref.ID, errNoKeys)
	}
	o, err := s.onceStore()
	if err != nil {
		return Resent{}, false, err
	}
	now := s.Now()
	if err := s.guardResend(ctx, ref, now, by); err != nil {
		return Resent{}, false, err
	}
	_, ic, err := s.issue(ctx, ref, now, time.Time{}, false)
	if err != nil {
		return Resent{}, false, err
	}
	cmd := Command{Action: ActionIssueCode, At: now, By: by, Code: ic}
	if ref.Type == TypeChain {
		cmd.StepType = StepOTP
	}
	e, err := Plan(cmd)
	if err != nil {
		return Resent{}, false, err
	}
	rec.At, rec.CodeKey, rec.CodeNonce, rec.CodeExpiresAt, rec.ProcessID = now, ic.KeyID, ic.Nonce, ic.ExpiresAt, ref.ID
	res, replay, err := o.ApplyOnce(ctx, ref, e, rec)
	if err != nil {
		return Resent{}, false, fmt.Errorf("resend %s %s: %w", ref.Type, ref.ID, s.settleRefused(ctx, ref, res, err))
	}
	if replay != nil {
		rec = *replay
	}
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return Resent{}, false, fmt.Errorf("resend %s %s: %w", ref.Type, ref.ID, err)
	}
	out := Resent{ExpiresAt: rec.CodeExpiresAt}
	if i.ExpiresAt.Before(out.ExpiresAt) {
		out.ExpiresAt = i.ExpiresAt
	}
	if ch := OTPChannel(i); ch != nil && ch.External {
		code, err := s.keys.Derive(ref, rec.CodeKey, rec.CodeNonce)
		if err != nil {
			return Resent{}, false, err
		}
		out.External, out.Code = true, code
	}
	return out, replay != nil, nil
}

// OTPChannel is the channel of i's code: the OTP identification's, or its
// chain's OTP step's.
func OTPChannel(i *Identification) *Channel {
	if i.Type == TypeOTP {
		return i.Channel
	}
	if n := i.StepIndex(StepOTP); n > 0 && i.Sequence[n-1].OTPStep != nil {
		return i.Sequence[n-1].OTPStep.Channel
	}
	return nil
}

// CodeExpiry is when i's current code stops working: its own expiry, never
// past the process's.
func CodeExpiry(i *Identification) time.Time {
	if i.OTP == nil {
		return time.Time{}
	}
	if i.ExpiresAt.Before(i.OTP.CodeExpiresAt) {
		return i.ExpiresAt
	}
	return i.OTP.CodeExpiresAt
}

// CompleteAgent is an agent completing a chain's current AGENT step; the
// next step becomes CURRENT (its code issued when the system delivers it),
// or the chain completes. Two store calls: a read and the write.
func (s *Service) CompleteAgent(ctx context.Context, ref Ref, in AgentResult, by Caller) error {
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("complete agent step %s: %w", ref.ID, err)
	}
	now := s.Now()
	step := i.StepIndex(StepAgent)
	if step == 0 {
		return Errorf(KindConflict, "the chain has no AGENT step")
	}
	cmd := Command{Action: ActionCompleteAgent, At: now, By: by, Step: step, Last: step == len(i.Sequence),
		Agent: &AgentRecord{Name: in.Agent, Sub: by.Sub, EvidenceMetadata: in.EvidenceMetadata, At: now}}
	if !cmd.Last {
		if cmd.Code, err = s.codeOfStep(ctx, i, step+1, now); err != nil {
			return fmt.Errorf("complete agent step %s: %w", ref.ID, err)
		}
	}
	_, err = s.apply(ctx, ref, cmd)
	return err
}

// codeOfStep is the code the chain's step at position n (1-based) starts
// with: one the system delivers when it is an OTP step with external
// false, nil for any other step.
func (s *Service) codeOfStep(ctx context.Context, i *Identification, n int, now time.Time) (*IssuedCode, error) {
	st := i.Sequence[n-1]
	if st.IdentificationType != StepOTP || st.OTPStep == nil || st.OTPStep.Channel == nil || st.OTPStep.Channel.External {
		return nil, nil
	}
	if s.keys == nil {
		return nil, errNoKeys
	}
	pol, err := s.policy(ctx, i.OrgID)
	if err != nil {
		return nil, err
	}
	_, ic, err := s.issueWith(pol, i.Ref(), now, i.ExpiresAt, false)
	if err != nil {
		return nil, err
	}
	// The step becomes current all the same: its code is not delivered
	// (BLOCKED), and an admin's resend is guarded again.
	var blocked *Error
	if err := s.guardSend(ctx, pol, i, st.OTPStep.Channel.Type, now); errors.As(err, &blocked) && blocked.Kind == KindSendingBlocked {
		ic.Delivery = DeliveryBlocked
	} else if err != nil {
		return nil, err
	}
	return ic, nil
}

// guardResend checks a resend of ref's code with the sending guard, on
// the process as read: a resend the lifecycle refuses anyway (too soon,
// too many codes, not open) or whose code the organisation delivers
// itself is not counted. Without a guard, or with rules that check
// nothing (OFF, or the defaults: every country, no limit), it reads
// nothing.
func (s *Service) guardResend(ctx context.Context, ref Ref, now time.Time, by Caller) error {
	if s.guard == nil || s.keys == nil {
		return nil
	}
	pol, err := s.policy(ctx, ref.Org)
	if err != nil || !s.guard.Checks(pol.Sending) {
		return err
	}
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("resend %s: %w", ref.ID, err)
	}
	ch := OTPChannel(i)
	if ch == nil || ch.External {
		return nil
	}
	cmd := Command{Action: ActionIssueCode, At: now, By: by, Code: &IssuedCode{}}
	if ref.Type == TypeChain {
		cmd.StepType = StepOTP
	}
	if e, err := Plan(cmd); err != nil || e.Check(i, nil) != nil {
		return nil // the write refuses it, and says why
	}
	return s.guardSend(ctx, pol, i, ch.Type, now)
}
