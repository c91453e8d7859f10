package enginetest

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
)

// CallCounter counts DynamoDB operations by name (PutItem, UpdateItem, ...)
// and records, in the order they started, each call with the IAM actions
// it needs (Calls). It is safe for concurrent use. Each call is counted
// once, when it starts: SDK retries are not counted again, and calls that
// fail are counted too.
type CallCounter struct {
	mu     sync.Mutex
	counts map[string]int
	calls  []Call
}

// Call is one DynamoDB operation a client started.
type Call struct {
	// Op is the operation's name, such as "GetItem".
	Op string
	// Needs are the IAM actions the call needs (NeedsOf).
	Needs []Need
}

// Need is an IAM action a call needs, on the table or on one of its
// indexes.
type Need struct {
	// Action is the IAM action, such as "dynamodb:UpdateItem".
	Action string
	// Index is the index a Query or Scan reads ("" for the table).
	Index string
}

// NeedsOf returns the IAM actions the call of operation op with input
// params needs. Most operations need the action of their own name; a
// transaction has no action of its own and needs the item action of each
// of its parts (PutItem, UpdateItem, DeleteItem, ConditionCheckItem; a
// TransactGetItems GetItem); a Query or a Scan of an index needs its
// action on that index; a BatchGetItem (a listing's page reading its
// processes) needs dynamodb:BatchGetItem on the table.
func NeedsOf(op string, params any) []Need {
	var out []Need
	add := func(action, index string) {
		n := Need{Action: "dynamodb:" + action, Index: index}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	switch in := params.(type) {
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				add("PutItem", "")
			case it.Update != nil:
				add("UpdateItem", "")
			case it.Delete != nil:
				add("DeleteItem", "")
			case it.ConditionCheck != nil:
				add("ConditionCheckItem", "")
			}
		}
	case *dynamodb.TransactGetItemsInput:
		if len(in.TransactItems) > 0 {
			add("GetItem", "")
		}
	case *dynamodb.BatchGetItemInput:
		// A listing's page reads its processes from the table.
		add("BatchGetItem", "")
	case *dynamodb.QueryInput:
		add(op, aws.ToString(in.IndexName))
	case *dynamodb.ScanInput:
		add(op, aws.ToString(in.IndexName))
	default:
		add(op, "")
	}
	return out
}

// AddTo adds the counting middleware to an operation's stack, first in the
// Initialize step. Use it as an APIOptions entry, for example
// dynamodb.WithAPIOptions(counter.AddTo).
func (c *CallCounter) AddTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("enginetest.CallCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			c.add(Call{Op: op, Needs: NeedsOf(op, in.Parameters)})
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

func (c *CallCounter) add(call Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[call.Op]++
	c.calls = append(c.calls, call)
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

// Calls returns the calls counted, in the order they started.
func (c *CallCounter) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.calls))
	for n, call := range c.calls {
		out[n] = Call{Op: call.Op, Needs: slices.Clone(call.Needs)}
	}
	return out
}

// Ops returns the names of the operations counted, in the order they
// started.
func (c *CallCounter) Ops() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.calls))
	for n, call := range c.calls {
		out[n] = call.Op
	}
	return out
}

// Reset forgets every call.
func (c *CallCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.counts)
	c.calls = nil
}
