package dynamostore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
)

// BenchmarkStoreFlow measures the store paths of the routes beyond
// create, get and cancel (BenchmarkStore): each route's service call on
// the DynamoDB store, DynamoDB replaced by a stub HTTP client that answers
// at once with the process as it was seeded, so that every iteration
// takes the same path. "flow" is the service and the store with the SDK
// under them; "raw" replays the very SDK inputs the flow made, in order,
// as a caller holding prepared requests would: flow minus raw is what the
// service and store cost per request over the SDK calls they make.
//
// Besides time and allocations each reports calls/op, the DynamoDB calls
// per request, and req-B/op, the bytes of request bodies sent.
func BenchmarkStoreFlow(b *testing.B) {
	now := time.Now().UTC().Truncate(time.Second)
	keys := fixture.CodeKeys()
	device := &identification.Device{InstallationID: "inst-1", Fingerprint: "fp-1"}
	actor := identification.Caller{Kind: identification.CallerActor, Sub: "actor-1", Device: device, UserAgent: "app/1"}
	admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
	agent := identification.Caller{Kind: identification.CallerAgent, Sub: "agent-1"}
	const code = "k4khb9"
	// The documented examples as a handler hands them over: decoded and
	// checked, so the service does not validate them again.
	actorOf := func(docType, country string) *identification.Actor {
		return &identification.Actor{
			Name: "James", LastName: "Smith", Email: "example@email.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: docType, Country: country},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"},
		}
	}
	createOTP := identification.CreateOTP{Actor: actorOf("NIF", ""), ExpiresIn: "P7D", TwoFactorType: "DOCUMENT_NUMBER",
		Channel: &identification.Channel{Type: "SMS", External: true}}
	// The same create, its code delivered by the service: what the
	// sending guard checks.
	createSMS := createOTP
	createSMS.Channel = &identification.Channel{Type: "SMS"}
	createChain := identification.CreateChain{Actor: actorOf("IDENTITY_CARD", "ES"), ExpiresIn: "PT15M", Sequence: []identification.Step{
		{IdentificationType: "OTP", OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}},
		{IdentificationType: "AGENT"}}}
	for _, in := range []interface {
		Check(*identification.Problems)
	}{&createOTP, &createChain} {
		var p identification.Problems
		if in.Check(&p); p.Err() != nil {
			b.Fatal(p.Err())
		}
	}
	record := func(status int) identification.Idempotency {
		return identification.Idempotency{Key: identification.IdempotencyKeyHash("acme", "bench-key"),
			Request: identification.RequestHash(identification.Caller{Kind: identification.CallerAdmin, Sub: "bench"}, http.MethodPost, "/bench", nil), Status: status, At: now}
	}

	// seed makes the process a flow acts on: an OTP or a chain, open,
	// started on device at step (0: not started), with a code issued.
	seed := func(typ identification.Type, step int, issued bool) (*identification.Identification, *identification.CodeMaterial) {
		ref := identification.Ref{Org: "acme", Type: typ, ID: uuid.Must(uuid.NewV7()).String()}
		i := &identification.Identification{ID: ref.ID, OrgID: "acme", Type: typ, Status: identification.StatusCreated,
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(24 * time.Hour), Version: 1,
			Actor: identification.Actor{Name: "James", LastName: "Smith", Language: "ES",
				IdentityDocument: &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF"},
				MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"}},
			History: []identification.HistoryEntry{{At: now, Action: identification.ActionCreate, To: identification.StatusCreated,
				ByKind: identification.CallerAdmin, BySub: "admin-1", RequestID: "req-1"}}}
		if typ == identification.TypeChain {
			i.CreatedUserAgent = "bench/1"
			i.Sequence = []identification.Step{
				{IdentificationType: "OTP", OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}},
				{IdentificationType: "AGENT"},
			}
			if step > 0 {
				i.Status, i.Device, i.CurrentStep = identification.StatusInProgress, device, step
			}
			i.SyncSteps()
		} else {
			i.TwoFactorType = "DOCUMENT_NUMBER"
			i.Channel = &identification.Channel{Type: "SMS", External: true}
		}
		if !issued {
			return i, nil
		}
		hash, key := keys.Hash(ref, code)
		i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: now.Add(30 * time.Minute), LastCodeAt: now.Add(-time.Hour),
			Delivery: identification.Delivery{Status: identification.DeliveryPending}}
		return i, &identification.CodeMaterial{Hash: hash, KeyID: key}
	}

	type flow struct {
		name  string
		typ   identification.Type
		step  int
		code  bool
		run   func(ctx context.Context, svc *identification.Service, ref identification.Ref) error
		fresh bool // the flow creates its own process: nothing is seeded
		// guarded: the service checks its codes with the sending guard,
		// every rule set (each a counter, an UpdateItem).
		guarded bool
	}
	flows := []flow{
		{name: "validate-otp", typ: identification.TypeOTP, code: true, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			return svc.Validate(ctx, ref, identification.Validation{Code: code, TwoFactor: "12345678A"}, actor)
		}},
		{name: "resend-otp", typ: identification.TypeOTP, code: true, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			_, err := svc.Resend(ctx, ref, actor)
			return err
		}},
		{name: "validate-chain", typ: identification.TypeChain, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			return svc.StartChain(ctx, ref, actor)
		}},
		{name: "validate-chain-otp", typ: identification.TypeChain, step: 1, code: true, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			return svc.Validate(ctx, ref, identification.Validation{Code: code, TwoFactor: "12345678A"}, actor)
		}},
		{name: "resend-chain-otp", typ: identification.TypeChain, step: 1, code: true, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			_, err := svc.Resend(ctx, ref, actor)
			return err
		}},
		{name: "validate-chain-agent", typ: identification.TypeChain, step: 2, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			return svc.CompleteAgent(ctx, ref, identification.AgentResult{Agent: "Agent Smith", EvidenceMetadata: `{"call_id":"c-1"}`}, agent)
		}},
		{name: "history", typ: identification.TypeOTP, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			_, err := svc.History(ctx, ref)
			return err
		}},
		{name: "create-otp-once", fresh: true, run: func(ctx context.Context, svc *identification.Service, _ identification.Ref) error {
			_, _, err := svc.CreateOTPOnce(ctx, "acme", createOTP, admin, func(identification.Created) identification.Idempotency { return record(http.StatusCreated) })
			return err
		}},
		{name: "create-chain-once", fresh: true, run: func(ctx context.Context, svc *identification.Service, _ identification.Ref) error {
			_, _, err := svc.CreateChainOnce(ctx, "acme", createChain, admin, func(identification.Created) identification.Idempotency { return record(http.StatusCreated) })
			return err
		}},
		{name: "create-otp-sms", fresh: true, run: func(ctx context.Context, svc *identification.Service, _ identification.Ref) error {
			_, err := svc.CreateOTP(ctx, "acme", createSMS, admin)
			return err
		}},
		{name: "create-otp-sms-guarded", fresh: true, guarded: true, run: func(ctx context.Context, svc *identification.Service, _ identification.Ref) error {
			_, err := svc.CreateOTP(ctx, "acme", createSMS, admin)
			return err
		}},
		{name: "cancel-otp-once", typ: identification.TypeOTP, run: func(ctx context.Context, svc *identification.Service, ref identification.Ref) error {
			_, err := svc.CancelOnce(ctx, ref, "customer asked", admin, record(http.StatusNoContent))
			return err
		}},
	}
	for _, f := range flows {
		stub := &sfStub{}
		var rec sfCapture
		client := localengine.NewClient("http://127.0.0.1:1", func(o *dynamodb.Options) {
			o.HTTPClient = stub
			o.APIOptions = append(o.APIOptions, rec.addTo)
		})
		store := dynamostore.New(client, dynamostore.Options{Table: "bench"})
		opts := []identification.Option{identification.WithCodeKeys(keys)}
		if f.guarded {
			opts = append(opts, identification.WithPolicies(everyRule{}), identification.WithSendGuard(guard.New(store, numbers.Numbers{}, []string{"ES"}, nil)))
		}
		svc := identification.NewService(store, opts...)
		ctx := context.Background()
		var ref identification.Ref
		if !f.fresh {
			i, material := seed(f.typ, f.step, f.code)
			if err := store.Create(ctx, i, material); err != nil {
				b.Fatal(err)
			}
			ref = i.Ref()
		}
		// One pass records the flow's SDK inputs, in order.
		rec.on, rec.inputs = true, nil
		if err := f.run(ctx, svc, ref); err != nil {
			b.Fatalf("%s: %v", f.name, err)
		}
		rec.on = false
		inputs := rec.inputs
		raw := func() error {
			for _, in := range inputs {
				if err := sfReplay(ctx, client, in); err != nil {
					return err
				}
			}
			return nil
		}
		for _, v := range []struct {
			name string
			fn   func() error
		}{{"flow", func() error { return f.run(ctx, svc, ref) }}, {"raw", raw}} {
			b.Run(f.name+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				stub.calls.Store(0)
				stub.bytes.Store(0)
				for b.Loop() {
					if err := v.fn(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(stub.calls.Load())/float64(b.N), "calls/op")
				b.ReportMetric(float64(stub.bytes.Load())/float64(b.N), "req-B/op")
			})
		}
	}
}

// everyRule is every organisation's Policy with every rule of the
// sending guard set, none of which a create of the benchmark breaks.
type everyRule struct{}

func (everyRule) Policy(context.Context, string) (identification.Policy, error) {
	return identification.Policy{Sending: identification.SendingRules{AllowedCountries: []string{"ES"},
		MaxPerHour: 1 << 30, MaxPerDay: 1 << 30, MaxPerDestinationPerDay: 1000, PrefixDigits: 6, PrefixMaxPerHour: 1 << 30}}, nil
}

// sfCapture records the input of each operation while on.
type sfCapture struct {
	on     bool
	inputs []any
}

func (c *sfCapture) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.flowCapture",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c.on {
				c.inputs = append(c.inputs, in.Parameters)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// sfReplay makes the call whose input in is.
func sfReplay(ctx context.Context, c *dynamodb.Client, in any) error {
	var err error
	switch in := in.(type) {
	case *dynamodb.GetItemInput:
		_, err = c.GetItem(ctx, in)
	case *dynamodb.PutItemInput:
		_, err = c.PutItem(ctx, in)
	case *dynamodb.UpdateItemInput:
		_, err = c.UpdateItem(ctx, in)
	case *dynamodb.DeleteItemInput:
		_, err = c.DeleteItem(ctx, in)
	case *dynamodb.TransactWriteItemsInput:
		_, err = c.TransactWriteItems(ctx, in)
	case *dynamodb.QueryInput:
		_, err = c.Query(ctx, in)
	default:
		err = fmt.Errorf("replay: no case for %T", in)
	}
	return err
}

// sfStub answers every DynamoDB call at once: GetItem with the item the
// first PutItem sent, UpdateItem with it as the new image (so every
// iteration of a flow sees the process as seeded), the rest with success.
type sfStub struct {
	item         json.RawMessage
	calls, bytes atomic.Int64
}

func (s *sfStub) Do(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	s.calls.Add(1)
	s.bytes.Add(int64(len(body)))
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
		if s.item != nil {
			out = append(append([]byte(`{"Item":`), s.item...), '}')
		}
	case "DynamoDB_20120810.UpdateItem":
		if s.item != nil {
			out = append(append([]byte(`{"Attributes":`), s.item...), '}')
		}
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:          io.NopCloser(bytes.NewReader(out)),
		ContentLength: int64(len(out)),
		Request:       req,
	}, nil
}
