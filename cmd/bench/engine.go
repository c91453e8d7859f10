package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// engineEnv is the engine a run measures on, with an uncounted client for
// setting up and for the raw calls.
type engineEnv struct {
	root     string
	endpoint string
	// client makes the raw calls (and sets up): the SDK client with an
	// idle-connection pool large enough for every concurrency measured,
	// so that the baseline is the engine's rate, not the pool's.
	client *dynamodb.Client
	// pid is the engine's process, for CPU accounting (0 if not found).
	pid    int
	logger *slog.Logger
	// secrets is the Secrets Manager stub's endpoint (secretsStub).
	secrets string
	// engine is the engine process, when this run started it.
	engine *localengine.Engine
}

// rawPoolSize is the raw client's idle connections per host; the SDK's
// default is 10, below the concurrencies measured.
const rawPoolSize = 256

// startEngine starts dynoxide (in memory) and returns its environment.
func startEngine(ctx context.Context, root string) (*engineEnv, error) {
	engine, err := localengine.StartDynoxide(ctx, localengine.Options{Root: root})
	if err != nil {
		return nil, err
	}
	env := newEngineEnv(root, engine.Endpoint)
	env.engine = engine
	return env, nil
}

// restart replaces the engine with a fresh one, before each phase (and,
// in the warm phase, each route). dynoxide keeps every stream record it
// was given, those of deleted tables too, and each write costs time in
// proportion to how many it holds (a fresh table takes 2,500 writes at
// 380/s on a fresh engine, at 116/s on one that took 7,500 before): a
// phase on a used engine would measure the phases before it.
func (e *engineEnv) restart(ctx context.Context) error {
	if e.engine == nil {
		return nil
	}
	if err := e.engine.Stop(); err != nil {
		step("  stop the engine: %v", err)
	}
	next, err := startEngine(ctx, e.root)
	if err != nil {
		return err
	}
	secrets := e.secrets
	*e = *next
	e.secrets = secrets
	return nil
}

// stop stops the engine.
func (e *engineEnv) stop() {
	if e.engine != nil {
		e.engine.Stop()
	}
}

func newEngineEnv(root, endpoint string) *engineEnv {
	client := localengine.NewClient(endpoint, func(o *dynamodb.Options) {
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = rawPoolSize, rawPoolSize
		})
	})
	port := endpoint[strings.LastIndexByte(endpoint, ':')+1:]
	return &engineEnv{
		root: root, endpoint: endpoint, client: client,
		pid:    childWithArgs("dynoxide", "--port\x00"+port+"\x00"),
		logger: slog.New(slog.DiscardHandler),
	}
}

// productStore is the store on table with the DynamoDB client the product
// builds (app.NewDynamoDB: the SDK's default HTTP client), for measuring
// the product's own code paths such as the sweep.
func (e *engineEnv) productStore(table string) *dynamostore.Store {
	cfg := app.Config{TableName: table, Region: localengine.Region, Endpoint: e.endpoint}
	return dynamostore.New(app.NewDynamoDB(cfg), dynamostore.Options{Table: table})
}

// newTable creates a table from template.yaml named after purpose and
// returns its name and a function deleting it.
func (e *engineEnv) newTable(ctx context.Context, purpose string) (string, func(), error) {
	name := fmt.Sprintf("bench_%s_%08x", purpose, rand.Uint32())
	if _, err := samtemplate.EnsureTable(ctx, e.client, filepath.Join(e.root, "template.yaml"), name); err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	}
	return name, drop, nil
}

// store is the product's store on table, on the uncounted client.
func (e *engineEnv) store(table string) *dynamostore.Store {
	return dynamostore.New(e.client, dynamostore.Options{Table: table})
}

// process is the identification ref like the documented examples, in
// status, expiring at expires.
func process(ref identification.Ref, status identification.Status, created, expires time.Time) *identification.Identification {
	created = created.UTC().Truncate(time.Second)
	i := &identification.Identification{
		ID: ref.ID, OrgID: ref.Org, Type: ref.Type, Status: status,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: expires.UTC().Truncate(time.Second),
		Actor: identification.Actor{
			Name: "James", LastName: "Smith", Email: "example@email.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"},
		},
		Version: 1,
	}
	if ref.Type == identification.TypeChain {
		i.CreatedUserAgent = "acme-backoffice/2.4.1"
		i.Sequence = []identification.Step{
			{IdentificationType: "OTP", Status: identification.StepPending, OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}},
			{IdentificationType: "AGENT", Status: identification.StepPending},
			{IdentificationType: "IDENTITY_DOCUMENT", Status: identification.StepPending, IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "INTERNAL"}},
		}
	} else {
		i.TwoFactorType = "DOCUMENT_NUMBER"
		i.Channel = &identification.Channel{Type: "SMS", External: true}
	}
	return i
}

// seed creates n processes made by mk with the store, 32 at a time, and
// returns their refs.
func seed(ctx context.Context, s *dynamostore.Store, n int, mk func() *identification.Identification) ([]identification.Ref, error) {
	refs := make([]identification.Ref, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for w := range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || errs[w] != nil {
					return
				}
				p := mk()
				refs[i] = p.Ref()
				errs[w] = s.Create(ctx, p, nil)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return refs, nil
}

// rawItem is one stored item as DynamoDB holds it, read back so that the
// raw calls write exactly what the product writes.
type rawItem struct {
	table   string
	keyAttr string
	// rangeAttr is the table's sort key ("" when it has none).
	rangeAttr string
	id        string
	item      map[string]types.AttributeValue
}

// readRaw reads the only item of a fresh table (a Scan: the harness may,
// the product may not) and the name of the table's partition key.
func (e *engineEnv) readRaw(ctx context.Context, table, id string) (rawItem, error) {
	desc, err := e.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return rawItem{}, err
	}
	r := rawItem{table: table, id: id}
	for _, k := range desc.Table.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			r.keyAttr = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			r.rangeAttr = aws.ToString(k.AttributeName)
		}
	}
	out, err := e.client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		return rawItem{}, err
	}
	for _, it := range out.Items {
		if pk, ok := it[r.keyAttr].(*types.AttributeValueMemberS); ok && strings.Contains(pk.Value, id) {
			r.item = it
			return r, nil
		}
	}
	return rawItem{}, fmt.Errorf("no item with id %s in %s", id, table)
}

// key returns the key of the template item's copy with id newID.
func (r rawItem) key(newID string) map[string]types.AttributeValue {
	pk := r.item[r.keyAttr].(*types.AttributeValueMemberS).Value
	key := map[string]types.AttributeValue{r.keyAttr: &types.AttributeValueMemberS{Value: strings.Replace(pk, r.id, newID, 1)}}
	if r.rangeAttr != "" {
		key[r.rangeAttr] = r.item[r.rangeAttr]
	}
	return key
}

// withID returns a copy of the template item whose top-level string
// attributes holding the template's id (the key, the id) hold newID.
func (r rawItem) withID(newID string) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(r.item))
	for k, v := range r.item {
		if s, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(s.Value, r.id) {
			v = &types.AttributeValueMemberS{Value: strings.Replace(s.Value, r.id, newID, 1)}
		}
		out[k] = v
	}
	return out
}

// seedRaw writes n copies of the template item with new ids with
// BatchWriteItem, 16 batches at a time, and returns the ids.
func (e *engineEnv) seedRaw(ctx context.Context, r rawItem, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7()).String()
	}
	const batch = 25
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for w := range 16 {
		wg.Go(func() {
			for errs[w] == nil {
				from := int(next.Add(batch)) - batch
				if from >= n {
					return
				}
				var reqs []types.WriteRequest
				for _, id := range ids[from:min(from+batch, n)] {
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: r.withID(id)}})
				}
				errs[w] = e.batchWrite(ctx, r.table, reqs)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("seed raw items: %w", err)
	}
	return ids, nil
}

func (e *engineEnv) batchWrite(ctx context.Context, table string, reqs []types.WriteRequest) error {
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 10 {
			return fmt.Errorf("batch write: %d items still unprocessed", len(reqs))
		}
		out, err := e.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems[table]
	}
	return nil
}

// The raw equivalents of the store's conditional writes. They mirror the
// expressions shared/dynamostore builds (its attribute names are private to
// it, so they are repeated here); keep the two in step. The raw side builds
// each expression once, as a hand-tuned client would.
const (
	attrPK            = "pk"
	attrStatus        = "status"
	attrExpiresAt     = "expires_at"
	attrUpdatedAt     = "updated_at"
	attrEndedAt       = "ended_at"
	attrVersion       = "version"
	attrCancelReason  = "cancel_reason"
	attrTTL           = "ttl"
	attrOpenShard     = "open_shard"
	attrOpenExpiresAt = "open_expires_at"
)

// cancelExpr is the store's cancel of an OTP process with a reason at now.
func cancelExpr(now time.Time) (expression.Expression, error) {
	at := expression.Value(now.Unix())
	update := expression.
		Set(expression.Name(attrStatus), expression.Value(string(identification.StatusCancelled))).
		Set(expression.Name(attrUpdatedAt), at).
		Set(expression.Name(attrVersion), expression.Name(attrVersion).Plus(expression.Value(1))).
		Remove(expression.Name(attrOpenShard)).
		Remove(expression.Name(attrOpenExpiresAt)).
		Set(expression.Name(attrEndedAt), at).
		Set(expression.Name(attrTTL), expression.Value(now.Add(dynamostore.DefaultRetention).Unix())).
		Set(expression.Name(attrCancelReason), expression.Value("bench"))
	cond := expression.AttributeExists(expression.Name(attrPK)).And(
		expression.Name(attrStatus).In(expression.Value(string(identification.StatusCreated)), expression.Value(string(identification.StatusInProgress))).
			And(expression.Name(attrExpiresAt).GreaterThan(at)))
	return expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
}

// update is a conditional UpdateItem of key with a prepared expression.
func update(table string, key map[string]types.AttributeValue, expr expression.Expression) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 key,
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}
