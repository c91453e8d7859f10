package httpapi_test

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
)

// tableUnits is the key of the table's own write units in indexWrites.
const tableUnits = "(table)"

// indexWrites asks every write for the capacity it consumed on each index
// (ReturnConsumedCapacity INDEXES, which both engines answer as DynamoDB
// does) and adds it up by index.
type indexWrites struct {
	mu    sync.Mutex
	units map[string]float64
}

func (w *indexWrites) take() map[string]float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.units
	w.units = map[string]float64{}
	return out
}

func (w *indexWrites) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("indexWrites",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			switch p := in.Parameters.(type) {
			case *dynamodb.PutItemInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
			case *dynamodb.UpdateItemInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
			case *dynamodb.DeleteItemInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
			case *dynamodb.TransactWriteItemsInput:
				p.ReturnConsumedCapacity = types.ReturnConsumedCapacityIndexes
			}
			out, md, err := next.HandleInitialize(ctx, in)
			var ccs []types.ConsumedCapacity
			switch r := out.Result.(type) {
			case *dynamodb.PutItemOutput:
				ccs = append(ccs, deref(r.ConsumedCapacity)...)
			case *dynamodb.UpdateItemOutput:
				ccs = append(ccs, deref(r.ConsumedCapacity)...)
			case *dynamodb.DeleteItemOutput:
				ccs = append(ccs, deref(r.ConsumedCapacity)...)
			case *dynamodb.TransactWriteItemsOutput:
				ccs = append(ccs, r.ConsumedCapacity...)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.units == nil {
				w.units = map[string]float64{}
			}
			for _, cc := range ccs {
				if cc.Table != nil {
					w.units[tableUnits] += aws.ToFloat64(cc.Table.CapacityUnits)
				}
				for name, c := range cc.GlobalSecondaryIndexes {
					if u := aws.ToFloat64(c.CapacityUnits); u > 0 {
						w.units[name] += u
					}
				}
			}
			return out, md, err
		}), middleware.After)
}

func deref(cc *types.ConsumedCapacity) []types.ConsumedCapacity {
	if cc == nil {
		return nil
	}
	return []types.ConsumedCapacity{*cc}
}

// TestIndexWritesOfAVerification measures, on both engines, the write
// units each index takes at each step of a verification driven through the
// handler tree (create, a wrong code, another, the right code), and holds
// them to the design (dynamostore.ListShards): an index entry is one unit
// although the process is over 1 KB (two units on the table); a write that
// changes nothing an index holds writes no index (the second wrong code
// changes only the attempts; a read writes nothing; the find-by entries,
// which hold no status, are written by the create alone); no index holds
// the status, so a status move writes no listing index at all. So the
// listing indexes take one unit per verification on the organisation's
// keys (list-by-org, spread over ListShards shards), and open-by-expiry
// two (in at the create, out at the completion).
func TestIndexWritesOfAVerification(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		w := &indexWrites{}
		env := apitest.NewWithOptions(t, e, apitest.Options{ClientOptions: []func(*dynamodb.Options){dynamodb.WithAPIOptions(w.addTo)}})
		f := flowOn(t, env)
		validate := func(id, code string) func() {
			return func() {
				f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
			}
		}
		id, code, _ := f.createOTP(t, flowOTP)
		created := w.take()
		if created[tableUnits] < 2 {
			t.Errorf("%s: the create took %v units on the table, want at least 2 (a process over 1 KB)", e.Name, created[tableUnits])
		}
		delete(created, tableUnits)
		want := map[string]float64{"find-by-email": 1, "find-by-phone": 1, "find-by-document": 1,
			"list-by-org": 1, "open-by-expiry": 1}
		if !maps.Equal(created, want) {
			t.Errorf("%s: create: index units %v, want %v", e.Name, created, want)
		}
		for _, step := range []struct {
			name string
			do   func()
			want map[string]float64
		}{
			{"a wrong code: CREATED to IN_PROGRESS", validate(id, wrong(code)), map[string]float64{}},
			{"another wrong code: only the attempts", validate(id, wrong(code)), map[string]float64{}},
			{"the right code: IN_PROGRESS to COMPLETED, out of the open index", validate(id, code), map[string]float64{"open-by-expiry": 1}},
			{"a read", func() { f.read(t, "otp", id) }, map[string]float64{}},
		} {
			step.do()
			got := w.take()
			delete(got, tableUnits)
			if !maps.Equal(got, step.want) {
				t.Errorf("%s: %s: index units %v, want %v", e.Name, step.name, got, step.want)
			}
		}
		if got := f.read(t, "otp", id)["status"]; got != "COMPLETED" {
			t.Fatalf("%s: the verification ended %v, want COMPLETED", e.Name, got)
		}
	})
}
