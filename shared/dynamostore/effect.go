package dynamostore

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// effectShape is what decides an effect's condition and update: two
// effects with the same shape differ only in values, so each shape is
// built once (see compiled).
type effectShape struct {
	action          identification.Action
	to              identification.Status
	expiry          identification.ExpiryRule
	ends            identification.EndClock
	reason          bool
	endedBy         bool
	bind            bool
	code            bool
	stepGuard       bool
	stepTypeOTP     bool
	device          bool
	attemptsBelow   int
	attemptsAtLeast int
	codeLive        bool
	codeHash        bool
	codesBelow      int
	spacing         bool
	noTwoFactor     bool
	notExternal     bool
	awaiting        bool
	completedDevice bool
	agent           bool
	advance         bool
	evidence        identification.EvidenceKind
	twoFactor       bool
	validated       bool
	documentIn      bool
	undecided       bool
	decision        bool
}

func shapeOf(e identification.Effect) effectShape {
	// The statuses an action is allowed from are its rule's: the action
	// names them.
	sh := effectShape{
		action: e.Action, to: e.Rule.To, expiry: e.Rule.Expiry, ends: e.Rule.Ends,
		reason:          e.Action == identification.ActionCancel && e.Reason != "",
		endedBy:         e.Rule.Ends == identification.EndNow && e.By.UserAgent != "",
		bind:            e.BindDevice,
		code:            e.Code != nil,
		stepGuard:       e.StepGuard > 0,
		stepTypeOTP:     e.StepTypeGuard == identification.StepOTP,
		device:          e.Device != nil && !e.BindDevice,
		attemptsBelow:   e.AttemptsBelow,
		attemptsAtLeast: e.AttemptsAtLeast,
		codeLive:        e.CodeLive,
		codeHash:        e.CodeHash != "",
		codesBelow:      e.CodesBelow,
		spacing:         e.Spacing > 0,
		noTwoFactor:     e.NoTwoFactor,
		notExternal:     e.NotExternal,
		awaiting:        e.Awaiting,
		completedDevice: e.Action == identification.ActionCompleteCode && e.By.Device != nil,
		agent:           e.Agent != nil,
		advance:         (e.Action == identification.ActionCompleteCode || e.Action == identification.ActionCompleteAgent || e.Action == identification.ActionApproveDocument) && e.Step > 0,
		twoFactor:       e.TwoFactorGuard != "",
		validated:       e.CodeValidated,
		documentIn:      e.DocumentIn,
		undecided:       e.Undecided,
		decision:        e.Decision != nil,
	}
	if e.Evidence != nil {
		sh.evidence = e.Evidence.Kind
	}
	return sh
}

// effectArgs are the per-call values of e's shape.
func (s *Store) effectArgs(ref identification.Ref, e identification.Effect, token string) [numParams]types.AttributeValue {
	var a [numParams]types.AttributeValue
	at := e.At
	if e.Rule.To != "" {
		a[paramListStatus] = str(facetPrefix(ref.Org, ref.Type) + string(e.Rule.To))
	}
	a[paramNow] = number(at.Unix())
	a[paramTTL] = number(at.Add(s.retention).Unix())
	a[paramReason] = str(e.Reason)
	a[paramUserAgent] = str(e.By.UserAgent)
	a[paramToken] = str(token)
	a[paramKind] = str(kindProcess)
	a[paramSub] = str(e.By.Sub)
	a[paramEmptyList] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	a[paramEmptyString] = str("")
	guesses := make([]types.AttributeValue, len(e.Guesses))
	for n, g := range e.Guesses {
		guesses[n] = str(g)
	}
	a[paramGuesses] = &types.AttributeValueMemberL{Value: guesses}
	a[paramHistory] = historyAttr(e.HistoryEntry())
	a[paramCodeHash] = str(e.CodeHash)
	a[paramStep] = number(int64(e.StepGuard))
	a[paramNextStep] = number(int64(e.Step + 1))
	a[paramSpacingBefore] = number(at.Add(-e.Spacing).Unix())
	if ic := e.Code; ic != nil {
		a[paramNewHash] = str(ic.Hash)
		a[paramNewKey] = str(ic.KeyID)
		a[paramNewNonce] = str(ic.Nonce)
		a[paramCodeExpires] = number(ic.ExpiresAt.Unix())
		a[paramDelivery] = str(ic.Delivery)
		issued := at
		if !ic.IssuedAt.IsZero() {
			issued = ic.IssuedAt
		}
		a[paramCodeIssuedMs] = number(issued.UnixMilli())
		a[paramSpacingBeforeMs] = number(issued.Add(-e.Spacing).UnixMilli())
	}
	if d := e.Device; d != nil {
		a[paramDeviceInstallation] = str(d.InstallationID)
		a[paramDeviceFingerprint] = str(d.Fingerprint)
		a[paramDevice] = deviceAttr(d)
	}
	if d := e.By.Device; d != nil {
		a[paramCallerDevice] = deviceAttr(d)
	}
	if ev := e.Evidence; ev != nil {
		av, err := attributevalue.Marshal(toEvidence(*ev))
		if err != nil {
			panic(err) // strings and numbers always marshal
		}
		a[paramEvidence] = av
	}
	a[paramTwoFactor] = str(e.TwoFactorGuard)
	if d := e.Decision; d != nil {
		av, err := attributevalue.Marshal(decisionItem{Approved: d.Approved, Reason: d.Reason, ByKind: string(d.ByKind), BySub: d.BySub, At: unix(d.At)})
		if err != nil {
			panic(err)
		}
		a[paramDecision] = av
	}
	if ag := e.Agent; ag != nil {
		m := map[string]types.AttributeValue{"name": str(ag.Name), "at": number(ag.At.Unix())}
		if ag.Sub != "" {
			m["sub"] = str(ag.Sub)
		}
		if ag.EvidenceMetadata != "" {
			m["evidence_metadata"] = str(ag.EvidenceMetadata)
		}
		a[paramAgent] = &types.AttributeValueMemberM{Value: m}
	}
	for n := range a {
		if a[n] == nil {
			a[n] = &types.AttributeValueMemberNULL{Value: true}
		}
	}
	return a
}

func deviceAttr(d *identification.Device) types.AttributeValue {
	m := map[string]types.AttributeValue{"installation_id": str(d.InstallationID), "fingerprint": str(d.Fingerprint)}
	for k, v := range map[string]string{"user_agent": d.UserAgent, "ip": d.IP, "location": d.Location} {
		if v != "" {
			m[k] = str(v)
		}
	}
	return &types.AttributeValueMemberM{Value: m}
}

func name(n string) expression.NameBuilder { return expression.Name(n) }

// effectExpression compiles a shape into its condition and update: the
// guards of the effect as one condition, its changes as one update.
func (s *Store) effectExpression(sh effectShape) expression.Builder {
	now := slot(paramNow)
	cond := name(attrKind).Equal(slot(paramKind)).And(statusCondition(sh, now)).And(tokenGuard())
	and := func(c expression.ConditionBuilder) { cond = cond.And(c) }
	if sh.stepGuard {
		and(name(attrCurrentStep).Equal(slot(paramStep)))
	}
	if sh.stepTypeOTP {
		and(name(attrCurrentStep).Equal(name(attrOTPStep)))
	}
	if sh.device {
		and(name(attrDevice + ".installation_id").Equal(slot(paramDeviceInstallation)).
			And(name(attrDevice + ".fingerprint").Equal(slot(paramDeviceFingerprint))))
	}
	if sh.noTwoFactor {
		and(expression.AttributeNotExists(name(attrNeedsTwoFactor)))
	}
	if sh.notExternal {
		and(expression.AttributeNotExists(name(attrCodeExternal)))
	}
	if sh.attemptsBelow > 0 {
		and(expression.AttributeNotExists(name(attrAttempts)).Or(name(attrAttempts).LessThan(expression.Value(sh.attemptsBelow))))
	}
	if sh.codeLive {
		and(expression.AttributeExists(name(attrCodeHash)).And(name(attrCodeExpiresAt).GreaterThan(now)))
	}
	if sh.codeHash {
		and(name(attrCodeHash).Equal(slot(paramCodeHash)).Or(name(attrPrevCodeHash).Equal(slot(paramCodeHash))))
	}
	if sh.attemptsAtLeast > 0 {
		and(name(attrAttempts).GreaterThanEqual(expression.Value(sh.attemptsAtLeast)))
	}
	if sh.codesBelow > 0 {
		and(expression.AttributeNotExists(name(attrCodesSent)).Or(name(attrCodesSent).LessThan(expression.Value(sh.codesBelow))))
	}
	if sh.twoFactor {
		and(name("two_factor_type").Equal(slot(paramTwoFactor)))
	}
	if sh.validated {
		and(name(attrCodeValidated).Equal(expression.Value(true)))
	}
	if sh.documentIn {
		for _, k := range identification.DocumentSides {
			and(expression.AttributeExists(name(evidenceAttr(k))))
		}
	}
	if sh.undecided {
		and(expression.AttributeNotExists(name(attrDecision)))
	}
	if sh.spacing {
		// Compared to the millisecond; an item from before last_code_ms
		// on its whole second.
		and(name(attrLastCodeMs).LessThanEqual(slot(paramSpacingBeforeMs)).Or(
			expression.AttributeNotExists(name(attrLastCodeMs)).And(
				expression.AttributeNotExists(name(attrLastCodeAt)).Or(name(attrLastCodeAt).LessThanEqual(slot(paramSpacingBefore))))))
	}

	update := expression.
		Set(name(attrUpdatedAt), now).
		Set(name(attrHistory), expression.ListAppend(expression.IfNotExists(name(attrHistory), slot(paramEmptyList)), slot(paramHistory))).
		Set(name(attrLastWrite), slot(paramToken)).
		Set(name(attrVersion), name(attrVersion).Plus(expression.Value(1)))
	if sh.to != "" {
		update = update.Set(name(attrStatus), expression.Value(string(sh.to))).Set(name(attrListStatus), slot(paramListStatus))
	}
	ret := int64(s.retention.Seconds())
	switch sh.ends {
	case identification.EndNow:
		update = update.Set(name(attrEndedAt), now).Set(name(attrTTL), slot(paramTTL))
	case identification.EndAtExpiry:
		// An expired process ended at its expiry, whenever the sweep ran.
		update = update.Set(name(attrEndedAt), name(attrExpiresAt)).
			Set(name(attrTTL), name(attrExpiresAt).Plus(expression.Value(ret)))
	case identification.EndCompleted:
		update = update.Set(name(attrCompletedAt), now).Set(name(attrTTL), slot(paramTTL))
	}
	if sh.ends != identification.EndNone {
		update = update.Remove(name(attrOpenShard)).Remove(name(attrOpenExpiresAt))
	}
	if sh.reason {
		update = update.Set(name(attrCancelReason), slot(paramReason))
	}
	if sh.endedBy {
		update = update.Set(name(attrEndedBy), slot(paramUserAgent))
	}
	if sh.bind {
		update = update.Set(name(attrDevice), slot(paramDevice)).Set(name(attrCurrentStep), expression.Value(1))
	}
	if sh.code {
		update = update.
			Set(name(attrPrevCodeHash), expression.IfNotExists(name(attrCodeHash), slot(paramEmptyString))).
			Set(name(attrCodeHash), slot(paramNewHash)).
			Set(name(attrCodeKey), slot(paramNewKey)).
			Set(name(attrCodeNonce), slot(paramNewNonce)).
			Set(name(attrCodeExpiresAt), slot(paramCodeExpires)).
			Set(name(attrLastCodeAt), now).
			Set(name(attrLastCodeMs), slot(paramCodeIssuedMs)).
			Set(name(attrDeliveryStatus), slot(paramDelivery)).
			Set(name(attrGuesses), slot(paramEmptyList)).
			Add(name(attrCodesSent), expression.Value(1)).
			Remove(name(attrDeliveryTries)).Remove(name(attrDeliveryTried)).Remove(name(attrDeliveryMessage))
	}
	switch sh.action {
	case identification.ActionAttempt:
		update = update.Add(name(attrAttempts), expression.Value(1)).
			Set(name(attrGuesses), expression.ListAppend(expression.IfNotExists(name(attrGuesses), slot(paramEmptyList)), slot(paramGuesses)))
	case identification.ActionCompleteCode:
		if sh.awaiting {
			update = update.Set(name(attrCodeValidated), expression.Value(true))
		}
	case identification.ActionFailAttempts:
		update = update.Set(name(attrFailureReason), expression.Value(identification.FailureMaxAttempts))
	}
	if dropsCode(sh.action, sh.ends) && !sh.code {
		// A used code, and any code of an ended process, is gone: its hash,
		// nonce and the guesses counted against it.
		update = update.Remove(name(attrCodeHash)).Remove(name(attrPrevCodeHash)).Remove(name(attrCodeNonce)).Remove(name(attrGuesses))
	}
	if sh.completedDevice {
		update = update.Set(name(attrCompletedDevice), slot(paramCallerDevice))
	}
	if sh.agent {
		update = update.Set(name(attrAgent), slot(paramAgent))
	}
	if sh.advance {
		update = update.Set(name(attrCurrentStep), slot(paramNextStep))
	}
	if sh.evidence != "" {
		update = update.Set(name(evidenceAttr(sh.evidence)), slot(paramEvidence))
	}
	if sh.decision {
		update = update.Set(name(attrDecision), slot(paramDecision))
	}
	if sh.action == identification.ActionRejectDocument {
		update = update.Set(name(attrFailureReason), expression.Value(identification.FailureStepRejected))
	}
	return expression.NewBuilder().WithCondition(cond).WithUpdate(update)
}

// dropsCode reports whether an action with this end drops the code
// material: one that used the code, or one that ends the process.
func dropsCode(a identification.Action, ends identification.EndClock) bool {
	return ends != identification.EndNone || a == identification.ActionCompleteCode || a == identification.ActionFailAttempts
}

// statusCondition is the rule's statuses and expiry as a condition: for
// open statuses the expiry has not passed (for expire: has passed).
func statusCondition(sh effectShape, now expression.ValueBuilder) expression.ConditionBuilder {
	rule := identification.Lifecycle[sh.action]
	var open, other []expression.OperandBuilder
	for _, st := range rule.From {
		if st.Open() {
			open = append(open, expression.Value(string(st)))
		} else {
			other = append(other, expression.Value(string(st)))
		}
	}
	status := name(attrStatus)
	expires := name(attrExpiresAt)
	var cond expression.ConditionBuilder
	if sh.expiry == identification.ExpiryDue {
		cond = status.In(open[0], open[1:]...).And(expires.LessThanEqual(now))
	} else {
		cond = status.In(open[0], open[1:]...).And(expires.GreaterThan(now))
	}
	if len(other) > 0 {
		cond = cond.Or(status.In(other[0], other[1:]...))
	}
	return cond
}

// historyAttr is one history entry as a one-element list, to append.
func historyAttr(h identification.HistoryEntry) types.AttributeValue {
	av, err := attributevalue.Marshal(toHistory(h))
	if err != nil {
		panic(err) // a struct of strings and a number always marshals
	}
	return &types.AttributeValueMemberL{Value: []types.AttributeValue{av}}
}
