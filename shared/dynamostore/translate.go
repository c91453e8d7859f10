package dynamostore

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// An effect is one conditional UpdateItem: each of its guards is a part of
// the condition and each of its changes a part of the update, translated
// here, kind by kind, in one switch each (guard and change). The same
// translation runs on every call to collect the call's values by
// position, and, the first time a shape is seen, to build the expression
// with the SDK's builder; a shape is the list of kinds with whatever of
// them the expression's text depends on (the statuses a rule allows, the
// clock an end runs on, the evidence attribute), and keys the cache.

// translation is an effect being translated.
type translation struct {
	s     *Store
	ref   identification.Ref
	e     identification.Effect
	build bool
	key   []byte
	vals  []types.AttributeValue
	cond  expression.ConditionBuilder
	upd   expression.UpdateBuilder
	// The values every effect has, in the first slots.
	now, token, kind expression.ValueBuilder
	tokenValue       string
	end              *identification.End
	expiry           *identification.SetExpiry
	code             bool
}

// v gives av the next slot.
func (t *translation) v(av types.AttributeValue) expression.ValueBuilder {
	n := len(t.vals)
	t.vals = append(t.vals, av)
	if n >= maxSlots {
		return expression.Value(nil) // refused by effect: too many values
	}
	return slot(n)
}

func (t *translation) and(c expression.ConditionBuilder) { t.cond = t.cond.And(c) }

// translate fills t from its effect: the key always, the values always,
// the expression when t.build.
func (t *translation) translate() error {
	e := t.e
	t.now = t.v(number(e.At.Unix()))
	t.tokenValue = newToken()
	t.token = t.v(str(t.tokenValue))
	t.kind = t.v(str(kindProcess))
	if t.build {
		t.cond = name(attrKind).Equal(t.kind)
	}
	for _, g := range e.Guards {
		if err := t.guard(g); err != nil {
			return err
		}
	}
	if t.build {
		t.and(expression.AttributeNotExists(name(attrLastWrite)).Or(name(attrLastWrite).NotEqual(t.token)))
	}
	history, none := t.v(historyAttr(e.HistoryEntry())), t.v(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
	if t.build {
		t.upd = expression.
			Set(name(attrUpdatedAt), t.now).
			Set(name(attrHistory), expression.ListAppend(expression.IfNotExists(name(attrHistory), none), history)).
			Set(name(attrLastWrite), t.token).
			Set(name(attrVersion), name(attrVersion).Plus(expression.Value(1)))
	}
	for _, c := range e.Changes {
		if err := t.change(c); err != nil {
			return err
		}
	}
	t.keeping()
	if len(t.vals) > maxSlots {
		return fmt.Errorf("%s: %d values, more than %d", e.Action, len(t.vals), maxSlots)
	}
	return nil
}

// guard translates one guard into its part of the condition.
func (t *translation) guard(g identification.Guard) error {
	switch g := g.(type) {
	case identification.StatusIn:
		if len(g.From) == 0 {
			return fmt.Errorf("dynamostore: a %T guard allowing no status", g)
		}
		t.key = append(t.key, 'S', byte(statusMask(g.From)), bool1(g.Due))
		if t.build {
			t.and(statusCondition(g, t.now))
		}
	case identification.OnDevice:
		var d identification.Device
		if g.Device != nil {
			d = *g.Device
		}
		t.key = append(t.key, 'D')
		inst, fp := t.v(str(d.InstallationID)), t.v(str(d.Fingerprint))
		if t.build {
			t.and(name(attrDevice + ".installation_id").Equal(inst).And(name(attrDevice + ".fingerprint").Equal(fp)))
		}
	case identification.AtStep:
		t.key = append(t.key, 'A')
		n := t.v(number(int64(g.N)))
		if t.build {
			t.and(name(attrCurrentStep).Equal(n))
		}
	case identification.AtStepType:
		if g.Type != identification.StepOTP {
			return fmt.Errorf("dynamostore: no translation of %T for step type %q (the item records only its OTP step's position)", g, g.Type)
		}
		t.key = append(t.key, 'T')
		if t.build {
			t.and(name(attrCurrentStep).Equal(name(attrOTPStep)))
		}
	case identification.NoSecondFactor:
		t.key = append(t.key, 'N')
		if t.build {
			t.and(expression.AttributeNotExists(name(attrNeedsTwoFactor)))
		}
	case identification.AttemptsBelow:
		t.key = append(t.key, 'B')
		n := t.v(number(int64(g.N)))
		if t.build {
			t.and(expression.AttributeNotExists(name(attrAttempts)).Or(name(attrAttempts).LessThan(n)))
		}
	case identification.CodeLive:
		t.key = append(t.key, 'L')
		if t.build {
			t.and(expression.AttributeExists(name(attrCodeHash)).And(name(attrCodeExpiresAt).GreaterThan(t.now)))
		}
	case identification.CodeIs:
		t.key = append(t.key, 'H')
		h := t.v(str(g.Hash))
		if t.build {
			t.and(name(attrCodeHash).Equal(h).Or(name(attrPrevCodeHash).Equal(h)))
		}
	case identification.AttemptsAtLeast:
		t.key = append(t.key, 'M')
		n := t.v(number(int64(g.N)))
		if t.build {
			t.and(name(attrAttempts).GreaterThanEqual(n))
		}
	case identification.DeliveredBySystem:
		t.key = append(t.key, 'X')
		if t.build {
			t.and(expression.AttributeNotExists(name(attrCodeExternal)))
		}
	case identification.TwoFactorIs:
		t.key = append(t.key, 'F')
		tf := t.v(str(g.Type))
		if t.build {
			t.and(name("two_factor_type").Equal(tf))
		}
	case identification.Undecided:
		t.key = append(t.key, 'U')
		if t.build {
			t.and(expression.AttributeNotExists(name(attrDecision)))
		}
	case identification.DocumentIn:
		t.key = append(t.key, 'I')
		if t.build {
			for _, k := range identification.DocumentSides {
				t.and(expression.AttributeExists(name(evidenceAttr(k))))
			}
		}
	case identification.CodeValidated:
		t.key = append(t.key, 'V')
		if t.build {
			t.and(name(attrCodeValidated).Equal(expression.Value(true)))
		}
	case identification.CodesBelow:
		t.key = append(t.key, 'C')
		n := t.v(number(int64(g.N)))
		if t.build {
			t.and(expression.AttributeNotExists(name(attrCodesSent)).Or(name(attrCodesSent).LessThan(n)))
		}
	case identification.Spaced:
		// Compared to the millisecond; an item from before last_code_ms
		// on its whole second.
		t.key = append(t.key, 'P')
		issued := t.e.At
		if !g.IssuedAt.IsZero() {
			issued = g.IssuedAt
		}
		ms := t.v(number(issued.Add(-g.Spacing).UnixMilli()))
		sec := t.v(number(t.e.At.Add(-g.Spacing).Unix()))
		if t.build {
			t.and(name(attrLastCodeMs).LessThanEqual(ms).Or(
				expression.AttributeNotExists(name(attrLastCodeMs)).And(
					expression.AttributeNotExists(name(attrLastCodeAt)).Or(name(attrLastCodeAt).LessThanEqual(sec)))))
		}
	case identification.ExpiresBefore:
		t.key = append(t.key, 'E')
		at := t.v(number(g.At.Unix()))
		if t.build {
			t.and(name(attrExpiresAt).LessThan(at))
		}
	case identification.LivesUntil:
		t.key = append(t.key, 'W')
		earliest := t.v(number(g.At.Add(-identification.MaxExpiresIn).Unix()))
		if t.build {
			t.and(name(attrCreatedAt).GreaterThanEqual(earliest))
		}
	default:
		return fmt.Errorf("dynamostore: no translation of guard %T", g)
	}
	return nil
}

// change translates one change into its part of the update.
func (t *translation) change(c identification.Change) error {
	switch c := c.(type) {
	case identification.SetStatus:
		t.key = append(t.key, 's')
		// No index holds the status: a status move writes the item
		// alone (a listing by status filters list-by-org's processes).
		st := t.v(str(string(c.To)))
		if t.build {
			t.upd = t.upd.Set(name(attrStatus), st)
		}
	case identification.End:
		t.key = append(t.key, 'e', byte(c.Clock), bool1(c.UserAgent != ""))
		t.end = &c
		switch c.Clock {
		case identification.EndNow:
			if t.build {
				t.upd = t.upd.Set(name(attrEndedAt), t.now)
			}
		case identification.EndAtExpiry:
			// An expired process ended at its expiry, whenever the sweep ran.
			if t.build {
				t.upd = t.upd.Set(name(attrEndedAt), name(attrExpiresAt))
			}
		case identification.EndCompleted:
			if t.build {
				t.upd = t.upd.Set(name(attrCompletedAt), t.now)
			}
		default:
			return fmt.Errorf("dynamostore: no translation of end clock %d", c.Clock)
		}
		if c.UserAgent != "" {
			ua := t.v(str(c.UserAgent))
			if t.build {
				t.upd = t.upd.Set(name(attrEndedBy), ua)
			}
		}
	case identification.SetCancelReason:
		t.key = append(t.key, 'r')
		r := t.v(str(c.Reason))
		if t.build {
			t.upd = t.upd.Set(name(attrCancelReason), r)
		}
	case identification.BindDevice:
		t.key = append(t.key, 'b')
		d := t.v(deviceAttr(c.Device))
		if t.build {
			t.upd = t.upd.Set(name(attrDevice), d).Set(name(attrCurrentStep), expression.Value(1))
		}
	case identification.IssueCode:
		t.key = append(t.key, 'i')
		t.code = true
		var ic identification.IssuedCode
		if c.Code != nil {
			ic = *c.Code
		}
		issued := t.e.At
		if !ic.IssuedAt.IsZero() {
			issued = ic.IssuedAt
		}
		empty := t.v(str(""))
		hash, key, nonce := t.v(str(ic.Hash)), t.v(str(ic.KeyID)), t.v(str(ic.Nonce))
		expires, ms, delivery := t.v(number(ic.ExpiresAt.Unix())), t.v(number(issued.UnixMilli())), t.v(str(ic.Delivery))
		none := t.v(&types.AttributeValueMemberL{Value: []types.AttributeValue{}})
		if t.build {
			t.upd = t.upd.
				Set(name(attrPrevCodeHash), expression.IfNotExists(name(attrCodeHash), empty)).
				Set(name(attrCodeHash), hash).
				Set(name(attrCodeKey), key).
				Set(name(attrCodeNonce), nonce).
				Set(name(attrCodeExpiresAt), expires).
				Set(name(attrLastCodeAt), t.now).
				Set(name(attrLastCodeMs), ms).
				Set(name(attrDeliveryStatus), delivery).
				Set(name(attrGuesses), none).
				Add(name(attrCodesSent), expression.Value(1)).
				Remove(name(attrDeliveryTries)).Remove(name(attrDeliveryTried)).Remove(name(attrDeliveryMessage))
		}
	case identification.CountAttempt:
		t.key = append(t.key, 'a')
		guesses := make([]types.AttributeValue, len(c.Guesses))
		for n, g := range c.Guesses {
			guesses[n] = str(g)
		}
		none, tried := t.v(&types.AttributeValueMemberL{Value: []types.AttributeValue{}}), t.v(&types.AttributeValueMemberL{Value: guesses})
		if t.build {
			t.upd = t.upd.Add(name(attrAttempts), expression.Value(1)).
				Set(name(attrGuesses), expression.ListAppend(expression.IfNotExists(name(attrGuesses), none), tried))
		}
	case identification.MarkValidated:
		t.key = append(t.key, 'v')
		if t.build {
			t.upd = t.upd.Set(name(attrCodeValidated), expression.Value(true))
		}
	case identification.SetFailure:
		t.key = append(t.key, 'f')
		r := t.v(str(c.Reason))
		if t.build {
			t.upd = t.upd.Set(name(attrFailureReason), r)
		}
	case identification.DropCode:
		// A used code, and any code of an ended process, is gone: its
		// hash, nonce and the guesses counted against it.
		t.key = append(t.key, 'd')
		if t.build {
			t.upd = t.upd.Remove(name(attrCodeHash)).Remove(name(attrPrevCodeHash)).Remove(name(attrCodeNonce)).Remove(name(attrGuesses))
		}
	case identification.RecordCompletedDevice:
		t.key = append(t.key, 'c')
		d := t.v(deviceAttr(c.Device))
		if t.build {
			t.upd = t.upd.Set(name(attrCompletedDevice), d)
		}
	case identification.RecordAgent:
		t.key = append(t.key, 'g')
		a := t.v(agentAttr(c.Agent))
		if t.build {
			t.upd = t.upd.Set(name(attrAgent), a)
		}
	case identification.Advance:
		t.key = append(t.key, 'n')
		n := t.v(number(int64(c.To)))
		if t.build {
			t.upd = t.upd.Set(name(attrCurrentStep), n)
		}
	case identification.RecordEvidence:
		var ev identification.Evidence
		if c.Evidence != nil {
			ev = *c.Evidence
		}
		t.key = append(append(t.key, 'x'), ev.Kind...)
		t.key = append(t.key, 0)
		av, err := attributevalue.Marshal(toEvidence(ev))
		if err != nil {
			return fmt.Errorf("marshal evidence: %w", err)
		}
		v := t.v(av)
		if t.build {
			t.upd = t.upd.Set(name(evidenceAttr(ev.Kind)), v)
		}
	case identification.RecordDecision:
		var d identification.DocumentDecision
		if c.Decision != nil {
			d = *c.Decision
		}
		t.key = append(t.key, 'o')
		av, err := attributevalue.Marshal(decisionItem{Approved: d.Approved, Reason: d.Reason, ByKind: string(d.ByKind), BySub: d.BySub, At: unix(d.At)})
		if err != nil {
			return fmt.Errorf("marshal decision: %w", err)
		}
		v := t.v(av)
		if t.build {
			t.upd = t.upd.Set(name(attrDecision), v)
		}
	case identification.SetExpiry:
		t.key = append(t.key, 't')
		t.expiry = &c
		at := t.v(number(c.At.Unix()))
		if t.build {
			t.upd = t.upd.Set(name(attrExpiresAt), at)
		}
	default:
		return fmt.Errorf("dynamostore: no translation of change %T", c)
	}
	return nil
}

// keeping keeps the open index and the TTL in step with the status and the
// expiry, by identification.KeepingOf's rule: an ended process leaves the
// index and is kept for the retention after its end; an open one whose
// expiry moved is indexed at its new expiry and kept for the retention
// after it. The shape's key already holds what decides it (End's clock,
// SetExpiry).
func (t *translation) keeping() {
	ret := t.s.retention
	switch {
	case t.end != nil && t.end.Clock == identification.EndAtExpiry:
		if t.build {
			t.upd = t.upd.Set(name(attrTTL), name(attrExpiresAt).Plus(expression.Value(int64(ret.Seconds()))))
		}
	case t.end != nil:
		ttl := t.v(number(t.e.At.Add(ret).Unix()))
		if t.build {
			t.upd = t.upd.Set(name(attrTTL), ttl)
		}
	case t.expiry != nil:
		open, ttl := t.v(number(t.expiry.At.Unix())), t.v(number(t.expiry.At.Add(ret).Unix()))
		if t.build {
			t.upd = t.upd.Set(name(attrOpenExpiresAt), open).Set(name(attrTTL), ttl)
		}
	}
	if t.end != nil && t.build {
		t.upd = t.upd.Remove(name(attrOpenShard)).Remove(name(attrOpenExpiresAt))
	}
}

// effect is e's compiled expression (built once per shape), the values of
// this call and its token: what Apply and ApplyOnce send.
func (s *Store) effect(ref identification.Ref, e identification.Effect) (*compiled, []types.AttributeValue, string, error) {
	t := &translation{s: s, ref: ref, e: e, key: make([]byte, 0, 32), vals: make([]types.AttributeValue, 0, 24)}
	if err := t.translate(); err != nil {
		return nil, nil, "", fmt.Errorf("translate %s: %w", e.Action, err)
	}
	token := t.tokenValue
	if c := s.shapes.lookup(t.key); c != nil {
		return c, t.vals, token, nil
	}
	c, err := s.shapes.get(string(t.key), func() (expression.Builder, error) {
		b := &translation{s: s, ref: ref, e: e, build: true}
		if err := b.translate(); err != nil {
			return expression.Builder{}, err
		}
		return expression.NewBuilder().WithCondition(b.cond).WithUpdate(b.upd), nil
	})
	if err != nil {
		return nil, nil, "", fmt.Errorf("build %s expression: %w", e.Action, err)
	}
	return c, t.vals, token, nil
}

// statusCondition is a StatusIn guard as a condition: for open statuses
// the expiry has not passed (Due: has passed).
func statusCondition(g identification.StatusIn, now expression.ValueBuilder) expression.ConditionBuilder {
	var open, other []expression.OperandBuilder
	for _, st := range g.From {
		if st.Open() {
			open = append(open, expression.Value(string(st)))
		} else {
			other = append(other, expression.Value(string(st)))
		}
	}
	status := name(attrStatus)
	expires := name(attrExpiresAt)
	if len(open) == 0 {
		return status.In(other[0], other[1:]...)
	}
	var cond expression.ConditionBuilder
	if g.Due {
		cond = status.In(open[0], open[1:]...).And(expires.LessThanEqual(now))
	} else {
		cond = status.In(open[0], open[1:]...).And(expires.GreaterThan(now))
	}
	if len(other) > 0 {
		cond = cond.Or(status.In(other[0], other[1:]...))
	}
	return cond
}

// statusMask is a set of statuses as bits, for a shape's key.
func statusMask(list []identification.Status) uint8 {
	var m uint8
	for _, st := range list {
		for n, s := range identification.Statuses {
			if s == st {
				m |= 1 << n
			}
		}
	}
	return m
}

func bool1(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func name(n string) expression.NameBuilder { return expression.Name(n) }

func deviceAttr(d *identification.Device) types.AttributeValue {
	if d == nil {
		d = &identification.Device{}
	}
	m := map[string]types.AttributeValue{"installation_id": str(d.InstallationID), "fingerprint": str(d.Fingerprint)}
	for k, v := range map[string]string{"user_agent": d.UserAgent, "ip": d.IP, "location": d.Location} {
		if v != "" {
			m[k] = str(v)
		}
	}
	return &types.AttributeValueMemberM{Value: m}
}

func agentAttr(ag *identification.AgentRecord) types.AttributeValue {
	if ag == nil {
		ag = &identification.AgentRecord{}
	}
	m := map[string]types.AttributeValue{"name": str(ag.Name), "at": number(ag.At.Unix())}
	if ag.Sub != "" {
		m["sub"] = str(ag.Sub)
	}
	if ag.EvidenceMetadata != "" {
		m["evidence_metadata"] = str(ag.EvidenceMetadata)
	}
	return &types.AttributeValueMemberM{Value: m}
}

// historyAttr is one history entry as a one-element list, to append.
func historyAttr(h identification.HistoryEntry) types.AttributeValue {
	av, err := attributevalue.Marshal(toHistory(h))
	if err != nil {
		panic(err) // a struct of strings and a number always marshals
	}
	return &types.AttributeValueMemberL{Value: []types.AttributeValue{av}}
}
