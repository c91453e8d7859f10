package dynamostore

import (
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An expression's shape (its condition, update and names) depends only on
// which operation it is for; only some values change from call to call.
// Building it with the SDK's builder costs tens of microseconds and hundreds
// of allocations, so each shape is built once, with the builder, and every
// call only fills in its values.

// param names a value filled in per call.
type param int

const (
	paramNow param = iota
	paramTTL
	paramReason
	paramUserAgent
	paramToken
	paramKind
	paramTombstone
	paramSub
	paramEmptyList
	paramEmptyString
	paramGuesses
	paramCodeHash
	paramStep
	paramNextStep
	paramSpacingBefore
	paramSpacingBeforeMs
	paramCodeIssuedMs
	paramNewHash
	paramNewKey
	paramNewNonce
	paramCodeExpires
	paramDelivery
	paramDeviceInstallation
	paramDeviceFingerprint
	paramDevice
	paramCallerDevice
	paramAgent
	paramListStatus
	paramEvidence
	paramTwoFactor
	paramDecision
	paramHistory
	numParams
)

// sentinelPrefix marks the placeholder values a shape is built with; no
// real value of ours starts with a NUL byte.
const sentinelPrefix = "\x00param:"

// slot is a value of a built shape, given per call.
func slot(p param) expression.ValueBuilder {
	return expression.Value(fmt.Sprintf("%s%d", sentinelPrefix, p))
}

// compiled is an expression built once, with the slots it needs per call.
type compiled struct {
	condition *string
	update    *string
	names     map[string]string
	fixed     map[string]types.AttributeValue
	// slots are the placeholders filled per call; one param may have
	// several (the builder gives every use of a value its own).
	slots []slotRef
}

type slotRef struct {
	placeholder string
	param       param
}

func compile(b expression.Builder) (*compiled, error) {
	expr, err := b.Build()
	if err != nil {
		return nil, err
	}
	c := &compiled{condition: expr.Condition(), update: expr.Update(), names: expr.Names(), fixed: map[string]types.AttributeValue{}}
	for placeholder, v := range expr.Values() {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok || !strings.HasPrefix(s.Value, sentinelPrefix) {
			c.fixed[placeholder] = v
			continue
		}
		var p param
		if _, err := fmt.Sscanf(strings.TrimPrefix(s.Value, sentinelPrefix), "%d", &p); err != nil || p < 0 || p >= numParams {
			return nil, fmt.Errorf("compile expression: bad slot %q", s.Value)
		}
		c.slots = append(c.slots, slotRef{placeholder, p})
	}
	return c, nil
}

// values returns the expression's values with args in their slots; args
// are indexed by param. It is nil when the expression has no values.
func (c *compiled) values(args *[numParams]types.AttributeValue) map[string]types.AttributeValue {
	if len(c.fixed)+len(c.slots) == 0 {
		return nil // DynamoDB refuses an empty map
	}
	out := make(map[string]types.AttributeValue, len(c.fixed)+len(c.slots))
	maps.Copy(out, c.fixed)
	for _, s := range c.slots {
		out[s.placeholder] = args[s.param]
	}
	return out
}

// shapes caches compiled expressions by a comparable key.
type shapes struct {
	mu sync.Mutex
	m  map[any]*compiled
}

// get returns the shape of key, building it with build on first use.
func (s *shapes) get(key any, build func() expression.Builder) (*compiled, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.m[key]; ok {
		return c, nil
	}
	c, err := compile(build())
	if err != nil {
		return nil, err
	}
	if s.m == nil {
		s.m = map[any]*compiled{}
	}
	s.m[key] = c
	return c, nil
}
