package costmodel

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Recorder records the DynamoDB calls of the clients it is installed on
// (Install): for a write, each item it touches as it was before the call
// and as it is after; for a read, the whole of each item it read; and
// what the engine reported the call consumed. It asks every call for
// ReturnConsumedCapacity INDEXES.
//
// It reads the items with a client of its own (peek), which must not be
// recorded, strongly consistent reads, and it runs one recorded call at a
// time, so that what it reads before and after a write is what that write
// changed. It is for tests and tools: every write costs two reads more.
type Recorder struct {
	table Table
	peek  *dynamodb.Client
	mu    sync.Mutex
	calls []Call
	err   error
}

// NewRecorder returns a recorder for table, reading items with peek.
func NewRecorder(table Table, peek *dynamodb.Client) *Recorder {
	return &Recorder{table: table, peek: peek}
}

// Install adds the recorder to a client's options:
// dynamodb.NewFromConfig(cfg, r.Install).
func (r *Recorder) Install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, r.AddTo)
}

// AddTo adds the recorder to an operation's stack, last in the Initialize
// step.
func (r *Recorder) AddTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("costmodel.Recorder", r.handle), middleware.After)
}

// Calls returns the calls recorded so far, in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Len is how many calls were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// Err is the first error reading items for the record (the calls
// themselves go on regardless).
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// target is one item a write touches.
type target struct {
	op            string
	table         string
	key           map[string]types.AttributeValue
	transactional bool
}

func (r *Recorder) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	op := middleware.GetOperationName(ctx)
	in.Parameters = withConsumedCapacity(in.Parameters)
	targets, isWrite := r.targets(in.Parameters)
	isRead := isReadOp(in.Parameters)
	if !isWrite && !isRead {
		return next.HandleInitialize(ctx, in)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	call := Call{Op: op}
	var before []map[string]types.AttributeValue
	for _, t := range targets {
		before = append(before, r.item(ctx, t.table, t.key))
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil {
		call.Err = "error"
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			call.Err = apiErr.ErrorCode()
		}
	}
	// A refused write is charged, as is a cancelled transaction; any
	// other failure changes nothing and is not.
	var ccf *types.ConditionalCheckFailedException
	var cancelled *types.TransactionCanceledException
	failed := errors.As(err, &ccf) || errors.As(err, &cancelled)
	if err == nil || failed {
		for n, t := range targets {
			w := Write{Op: t.op, Transactional: t.transactional, Failed: failed, Key: t.key, Before: before[n]}
			w.After = w.Before
			if !failed && t.op != "ConditionCheck" {
				w.After = r.item(ctx, t.table, t.key)
			}
			call.Writes = append(call.Writes, w)
		}
	}
	if err == nil && isRead {
		call.Reads = r.reads(ctx, in.Parameters)
	}
	if err == nil {
		call.Reported = reportedOf(out.Result)
	}
	r.calls = append(r.calls, call)
	return out, md, err
}

// item reads the whole item key of table, strongly (nil when there is
// none).
func (r *Recorder) item(ctx context.Context, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	out, err := r.peek.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		r.fail(fmt.Errorf("costmodel: read %s %v: %w", table, key, err))
		return nil
	}
	if len(out.Item) == 0 {
		return nil
	}
	return out.Item
}

func (r *Recorder) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// targets are the items a write call touches (isWrite false for any other
// call).
func (r *Recorder) targets(params any) (out []target, isWrite bool) {
	put := func(op, table string, item map[string]types.AttributeValue, tx bool) {
		out = append(out, target{op: op, table: table, key: r.table.KeyOf(item), transactional: tx})
	}
	keyed := func(op, table string, key map[string]types.AttributeValue, tx bool) {
		out = append(out, target{op: op, table: table, key: key, transactional: tx})
	}
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		put("PutItem", aws.ToString(in.TableName), in.Item, false)
	case *dynamodb.UpdateItemInput:
		keyed("UpdateItem", aws.ToString(in.TableName), in.Key, false)
	case *dynamodb.DeleteItemInput:
		keyed("DeleteItem", aws.ToString(in.TableName), in.Key, false)
	case *dynamodb.BatchWriteItemInput:
		for table, reqs := range in.RequestItems {
			for _, req := range reqs {
				switch {
				case req.PutRequest != nil:
					put("PutItem", table, req.PutRequest.Item, false)
				case req.DeleteRequest != nil:
					keyed("DeleteItem", table, req.DeleteRequest.Key, false)
				}
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				put("PutItem", aws.ToString(it.Put.TableName), it.Put.Item, true)
			case it.Update != nil:
				keyed("UpdateItem", aws.ToString(it.Update.TableName), it.Update.Key, true)
			case it.Delete != nil:
				keyed("DeleteItem", aws.ToString(it.Delete.TableName), it.Delete.Key, true)
			case it.ConditionCheck != nil:
				keyed("ConditionCheck", aws.ToString(it.ConditionCheck.TableName), it.ConditionCheck.Key, true)
			}
		}
	default:
		return nil, false
	}
	return out, true
}

func isReadOp(params any) bool {
	switch params.(type) {
	case *dynamodb.GetItemInput, *dynamodb.BatchGetItemInput, *dynamodb.TransactGetItemsInput, *dynamodb.QueryInput, *dynamodb.ScanInput:
		return true
	}
	return false
}

// reads are what a successful read call read: the whole of each item
// (a projection does not make a read cheaper), and for a Query or Scan
// every item it evaluated (read again without its projection and filter).
func (r *Recorder) reads(ctx context.Context, params any) []Read {
	size := func(table string, key map[string]types.AttributeValue) int {
		return ItemSize(r.item(ctx, table, key))
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		return []Read{{Op: "GetItem", Consistent: aws.ToBool(in.ConsistentRead), PerItem: true,
			Sizes: []int{size(aws.ToString(in.TableName), in.Key)}}}
	case *dynamodb.BatchGetItemInput:
		var out []Read
		for table, ka := range in.RequestItems {
			rd := Read{Op: "BatchGetItem", Consistent: aws.ToBool(ka.ConsistentRead), PerItem: true}
			for _, key := range ka.Keys {
				rd.Sizes = append(rd.Sizes, size(table, key))
			}
			out = append(out, rd)
		}
		return out
	case *dynamodb.TransactGetItemsInput:
		rd := Read{Op: "TransactGetItems", Consistent: true, Transactional: true, PerItem: true}
		for _, it := range in.TransactItems {
			if it.Get != nil {
				rd.Sizes = append(rd.Sizes, size(aws.ToString(it.Get.TableName), it.Get.Key))
			}
		}
		return []Read{rd}
	case *dynamodb.QueryInput:
		q := *in
		q.ProjectionExpression, q.FilterExpression, q.Select, q.AttributesToGet, q.QueryFilter = nil, nil, "", nil, nil
		q.ReturnConsumedCapacity = ""
		q.ExpressionAttributeNames, q.ExpressionAttributeValues = pruned(aws.ToString(q.KeyConditionExpression), q.ExpressionAttributeNames, q.ExpressionAttributeValues)
		rd := Read{Op: "Query", Index: aws.ToString(in.IndexName), Consistent: aws.ToBool(in.ConsistentRead)}
		out, err := r.peek.Query(ctx, &q)
		if err != nil {
			r.fail(fmt.Errorf("costmodel: query again without projection and filter: %w", err))
			return []Read{rd}
		}
		for _, it := range out.Items {
			rd.Sizes = append(rd.Sizes, ItemSize(it))
		}
		return []Read{rd}
	case *dynamodb.ScanInput:
		s := *in
		s.ProjectionExpression, s.FilterExpression, s.Select, s.AttributesToGet, s.ScanFilter = nil, nil, "", nil, nil
		s.ReturnConsumedCapacity = ""
		s.ExpressionAttributeNames, s.ExpressionAttributeValues = nil, nil
		rd := Read{Op: "Scan", Index: aws.ToString(in.IndexName), Consistent: aws.ToBool(in.ConsistentRead)}
		out, err := r.peek.Scan(ctx, &s)
		if err != nil {
			r.fail(fmt.Errorf("costmodel: scan again without projection and filter: %w", err))
			return []Read{rd}
		}
		for _, it := range out.Items {
			rd.Sizes = append(rd.Sizes, ItemSize(it))
		}
		return []Read{rd}
	}
	return nil
}

var placeholder = regexp.MustCompile(`[#:][A-Za-z0-9_]+`)

// pruned keeps the expression attribute names and values expr uses.
func pruned(expr string, names map[string]string, values map[string]types.AttributeValue) (map[string]string, map[string]types.AttributeValue) {
	var n map[string]string
	var v map[string]types.AttributeValue
	for _, p := range placeholder.FindAllString(expr, -1) {
		if name, ok := names[p]; ok {
			if n == nil {
				n = map[string]string{}
			}
			n[p] = name
		}
		if val, ok := values[p]; ok {
			if v == nil {
				v = map[string]types.AttributeValue{}
			}
			v[p] = val
		}
	}
	return n, v
}

// withConsumedCapacity is a copy of an input asking for
// ReturnConsumedCapacity INDEXES, or the input itself when it cannot ask.
func withConsumedCapacity(params any) any {
	const indexes = types.ReturnConsumedCapacityIndexes
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.UpdateItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.DeleteItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.BatchWriteItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.TransactWriteItemsInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.GetItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.BatchGetItemInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.TransactGetItemsInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.QueryInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	case *dynamodb.ScanInput:
		c := *in
		c.ReturnConsumedCapacity = indexes
		return &c
	}
	return params
}

// reportedOf reads the ConsumedCapacity of an operation's output (nil
// when the engine gave none).
func reportedOf(result any) *Reported {
	var list []types.ConsumedCapacity
	one := func(c *types.ConsumedCapacity) {
		if c != nil {
			list = append(list, *c)
		}
	}
	switch out := result.(type) {
	case *dynamodb.PutItemOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.GetItemOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		one(out.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		list = out.ConsumedCapacity
	case *dynamodb.BatchGetItemOutput:
		list = out.ConsumedCapacity
	case *dynamodb.TransactWriteItemsOutput:
		list = out.ConsumedCapacity
	case *dynamodb.TransactGetItemsOutput:
		list = out.ConsumedCapacity
	}
	if len(list) == 0 {
		return nil
	}
	rep := &Reported{Indexes: map[string]float64{}}
	for _, c := range list {
		rep.Total += aws.ToFloat64(c.CapacityUnits)
		if c.Table != nil && c.Table.CapacityUnits != nil {
			rep.Table += *c.Table.CapacityUnits
			rep.HasTable = true
		}
		for name, ic := range c.GlobalSecondaryIndexes {
			rep.Indexes[name] += aws.ToFloat64(ic.CapacityUnits)
		}
	}
	return rep
}
