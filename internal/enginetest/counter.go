package enginetest

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts DynamoDB operations by name (PutItem, UpdateItem, ...).
// It is safe for concurrent use. Each call is counted once, when it starts:
// SDK retries are not counted again, and calls that fail are counted too.
type CallCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// AddTo adds the counting middleware to an operation's stack, first in the
// Initialize step. Use it as an APIOptions entry, for example
// dynamodb.WithAPIOptions(counter.AddTo).
func (c *CallCounter) AddTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("enginetest.CallCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.add(middleware.GetOperationName(ctx))
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (c *CallCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
}

// Total returns the number of operations counted.
func (c *CallCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.counts {
		total += n
	}
	return total
}

// Count returns the number of calls of operation op counted.
func (c *CallCounter) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// ByOperation returns a copy of the counts, keyed by operation name; an
// operation never called is absent.
func (c *CallCounter) ByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	maps.Copy(out, c.counts)
	return out
}

// Reset forgets every count.
func (c *CallCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.counts)
}
