package dynamostore

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An expression's shape (its condition, update and names) depends only on
// which operation it is for; only some values change from call to call.
// Building it with the SDK's builder costs tens of microseconds and hundreds
// of allocations, so each shape is built once, with the builder, and every
// call only fills in its values, by position.

// sentinelPrefix marks the placeholder values a shape is built with; no
// real value of ours starts with a NUL byte.
const sentinelPrefix = "\x00slot:"

// maxSlots bounds the values of one shape (an effect has about twenty).
const maxSlots = 64

// slots are the placeholder values, made once: a call that only collects
// its values hands them out without formatting anything.
var slots = func() (s [maxSlots]expression.ValueBuilder) {
	for n := range s {
		s[n] = expression.Value(sentinelPrefix + strconv.Itoa(n))
	}
	return s
}()

// slot is the nth value of a built shape, given per call.
func slot(n int) expression.ValueBuilder { return slots[n] }

// compiled is an expression built once, with the slots it needs per call.
type compiled struct {
	condition *string
	update    *string
	names     map[string]string
	fixed     map[string]types.AttributeValue
	// slots are the placeholders filled per call; one value may have
	// several (the builder gives every use of a value its own).
	slots []slotRef
}

type slotRef struct {
	placeholder string
	n           int
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
		n, err := strconv.Atoi(strings.TrimPrefix(s.Value, sentinelPrefix))
		if err != nil || n < 0 || n >= maxSlots {
			return nil, fmt.Errorf("compile expression: bad slot %q", s.Value)
		}
		c.slots = append(c.slots, slotRef{placeholder, n})
	}
	return c, nil
}

// values returns the expression's values with args in their slots (args[n]
// fills slot n). It is nil when the expression has no values.
func (c *compiled) values(args []types.AttributeValue) map[string]types.AttributeValue {
	if len(c.fixed)+len(c.slots) == 0 {
		return nil // DynamoDB refuses an empty map
	}
	out := make(map[string]types.AttributeValue, len(c.fixed)+len(c.slots))
	maps.Copy(out, c.fixed)
	for _, s := range c.slots {
		out[s.placeholder] = args[s.n]
	}
	return out
}

// shapes caches compiled expressions by key.
type shapes struct {
	mu sync.RWMutex
	m  map[string]*compiled
}

// lookup returns the shape of key, if built (the conversion in the index
// expression does not copy key).
func (s *shapes) lookup(key []byte) *compiled {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[string(key)]
}

// get returns the shape of key, building it with build on first use.
func (s *shapes) get(key string, build func() (expression.Builder, error)) (*compiled, error) {
	s.mu.RLock()
	c := s.m[key]
	s.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	b, err := build()
	if err != nil {
		return nil, err
	}
	c, err = compile(b)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := s.m[key]; ok {
		return have, nil
	}
	if s.m == nil {
		s.m = map[string]*compiled{}
	}
	s.m[key] = c
	return c, nil
}
