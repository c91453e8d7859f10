package dynamostore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// BenchmarkStore measures the client-side CPU cost of each store operation,
// with DynamoDB replaced by a stub HTTP client that answers at once: the
// SDK's work (serialising, signing, the middleware stack, parsing the
// answer) plus the store's own (building the expressions, marshalling and
// unmarshalling the item). "raw" replays the very input the store built,
// as a caller holding a prepared request would: store minus raw is what the
// store itself costs per call.
func BenchmarkStore(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Second)
	p := storetest.OTP(b, "acme", identification.StatusCreated, now.Add(24*time.Hour))
	change := identification.Command{Action: identification.ActionCancel, At: now, Reason: "customer asked"}

	// One pass through the store captures each operation's input and the
	// item as PutItem sent it, which the stub then answers GetItem with.
	stub := &stubDynamo{}
	var inputs capture
	client := localengine.NewClient("http://127.0.0.1:1", func(o *dynamodb.Options) {
		o.HTTPClient = stub
		o.APIOptions = append(o.APIOptions, inputs.addTo)
	})
	store := dynamostore.New(client, dynamostore.Options{Table: "bench"})
	ctx := context.Background()
	if err := store.Create(ctx, p, nil); err != nil {
		b.Fatal(err)
	}
	if _, err := store.Get(ctx, p.Ref()); err != nil {
		b.Fatal(err)
	}
	if err := identification.Do(ctx, store, p.Ref(), change); err != nil {
		b.Fatal(err)
	}
	inputs.off = true
	put := inputs.of["PutItem"].(*dynamodb.PutItemInput)
	get := inputs.of["GetItem"].(*dynamodb.GetItemInput)
	upd := inputs.of["UpdateItem"].(*dynamodb.UpdateItemInput)

	cases := []struct {
		name       string
		store, raw func() error
	}{
		{"create",
			func() error { return store.Create(ctx, p, nil) },
			func() error { _, err := client.PutItem(ctx, put); return err }},
		{"get",
			func() error { _, err := store.Get(ctx, p.Ref()); return err },
			func() error { _, err := client.GetItem(ctx, get); return err }},
		{"cancel",
			func() error { return identification.Do(ctx, store, p.Ref(), change) },
			func() error { _, err := client.UpdateItem(ctx, upd); return err }},
	}
	for _, c := range cases {
		for _, v := range []struct {
			name string
			fn   func() error
		}{{"store", c.store}, {"raw", c.raw}} {
			b.Run(c.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := v.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// capture records the input of each operation while not off.
type capture struct {
	off bool
	of  map[string]any
}

func (c *capture) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.capture",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !c.off {
				if c.of == nil {
					c.of = map[string]any{}
				}
				c.of[middleware.GetOperationName(ctx)] = in.Parameters
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// stubDynamo answers every DynamoDB call with success at once. GetItem gets
// the item the last PutItem sent.
type stubDynamo struct {
	item json.RawMessage
}

func (s *stubDynamo) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	out := []byte(`{}`)
	switch req.Header.Get("X-Amz-Target") {
	case "DynamoDB_20120810.PutItem":
		if s.item == nil {
			var in struct{ Item json.RawMessage }
			if err := json.Unmarshal(body, &in); err != nil {
				return nil, err
			}
			s.item = in.Item
		}
	case "DynamoDB_20120810.GetItem":
		out = append(append([]byte(`{"Item":`), s.item...), '}')
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(bytes.NewReader(out)),
		ContentLength: int64(len(out)),
		Request:       req,
	}, nil
}
