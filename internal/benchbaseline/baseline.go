// Package benchbaseline is the baseline Lambda function `make bench`
// compares each route's function with: a hand-tuned aws-lambda-go program
// that makes the same DynamoDB calls as the route, on an item of the same
// shape, and answers with a small API Gateway v2 response.
//
// cmd/bench writes, for each set of operations a route makes, a main that
// calls Main with exactly those operations (GetItem(), UpdateItem(), ...),
// so that the linker keeps only their SDK code, and builds it with the
// functions' flags (make lambdas). At run time the baseline reads its plan
// from BENCH_BASELINE_PLAN: the route's DynamoDB requests, recorded as the
// route's own handler sent them, which it decodes once at start-up and
// replays on every invocation with the process id of the event (or a new
// id, for a create) in place of the recorded one.
//
// Its start-up is that of the functions, done by hand: the DynamoDB client
// built as app.NewDynamoDB builds it (aws.Config by hand, static
// credentials, the same HTTP transport), and, when CODE_KEY_SECRET_ARN is
// set, one Secrets Manager GetSecretValue through shared/sigv4, as codekey
// makes it.
package benchbaseline

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/sigv4"
)

// PlanEnv holds the plan, as JSON.
const PlanEnv = "BENCH_BASELINE_PLAN"

// Plan is what a baseline does on each invocation.
type Plan struct {
	// Status is the status of the answer (the route's success).
	Status int `json:"status"`
	// ID is the process id in the recorded calls.
	ID string `json:"id"`
	// IDParam is the path parameter holding the process id of an
	// invocation; "" for a create, where each invocation makes a new id
	// (or, when ID is "" too, for a route on no process, whose calls are
	// made as recorded).
	IDParam string `json:"id_param,omitempty"`
	// Calls are the route's DynamoDB requests, in order.
	Calls []Call `json:"calls"`
}

// Call is one recorded DynamoDB request.
type Call struct {
	// Op is the operation, as in X-Amz-Target (GetItem, UpdateItem, ...).
	Op string `json:"op"`
	// Body is the request body as the route sent it (DynamoDB JSON).
	Body json.RawMessage `json:"body"`
}

// Op is one DynamoDB operation a baseline can make. Each is a function so
// that a baseline links only the operations it names.
type Op struct {
	name string
	// prepare decodes a recorded body into a call that, given the id
	// substitution of an invocation, makes the request.
	prepare func(body []byte) (func(ctx context.Context, c *dynamodb.Client, sub substitution) error, error)
}

// Name is the operation's name, as in X-Amz-Target.
func (o Op) Name() string { return o.name }

// substitution replaces the recorded process id with an invocation's.
type substitution struct{ from, to string }

// key copies a key (or an item) with every top-level string holding the
// recorded id holding the invocation's.
func (s substitution) item(m map[string]types.AttributeValue) map[string]types.AttributeValue {
	if m == nil || s.from == s.to {
		return m
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, s.from) {
			v = &types.AttributeValueMemberS{Value: strings.Replace(sv.Value, s.from, s.to, 1)}
		}
		out[k] = v
	}
	return out
}

// Main is the whole main of a baseline: it builds the client, reads the
// secret where the route's function reads one, decodes the plan, and
// serves invocations until Lambda stops the sandbox.
func Main(ops ...Op) {
	h, err := New(os.Getenv(PlanEnv), ops...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// Handler is what a baseline hands to lambda.Start.
type Handler = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// New does the start-up of Main and returns the handler.
func New(planJSON string, ops ...Op) (Handler, error) {
	client := newClient()
	if arn := os.Getenv("CODE_KEY_SECRET_ARN"); arn != "" {
		if err := readSecret(context.Background(), arn); err != nil {
			return nil, err
		}
	}
	var plan Plan
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		return nil, fmt.Errorf("%s: %w", PlanEnv, err)
	}
	byName := map[string]Op{}
	for _, o := range ops {
		byName[o.name] = o
	}
	// The calls in steps: a run of Queries is one step, its calls made
	// at once, as a listing's page Queries its partitions; any other call
	// is a step of its own.
	type call = func(context.Context, *dynamodb.Client, substitution) error
	var steps [][]call
	for n, c := range plan.Calls {
		op, ok := byName[c.Op]
		if !ok {
			return nil, fmt.Errorf("the plan calls %s, which this baseline does not link", c.Op)
		}
		fn, err := op.prepare(c.Body)
		if err != nil {
			return nil, fmt.Errorf("call %d (%s): %w", n+1, c.Op, err)
		}
		if c.Op == "Query" && n > 0 && plan.Calls[n-1].Op == "Query" {
			steps[len(steps)-1] = append(steps[len(steps)-1], fn)
			continue
		}
		steps = append(steps, []call{fn})
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		sub := substitution{from: plan.ID, to: plan.ID}
		switch {
		case plan.IDParam != "":
			sub.to = strings.ToLower(ev.PathParameters[plan.IDParam])
		case plan.ID != "":
			sub.to = newID()
		}
		for _, step := range steps {
			errs := make([]error, len(step))
			if len(step) == 1 {
				errs[0] = step[0](ctx, client, sub)
			} else {
				var wg sync.WaitGroup
				for n, fn := range step {
					wg.Go(func() { errs[n] = fn(ctx, client, sub) })
				}
				wg.Wait()
			}
			if err := errors.Join(errs...); err != nil {
				return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusInternalServerError,
					Headers: map[string]string{"Content-Type": "text/plain"}, Body: err.Error()}, nil
			}
		}
		resp := events.APIGatewayV2HTTPResponse{StatusCode: plan.Status}
		if plan.Status != http.StatusNoContent {
			resp.Headers = map[string]string{"Content-Type": "application/json"}
			resp.Body = `{"id":"` + sub.to + `"}`
		}
		return resp, nil
	}, nil
}

// newClient is app.NewDynamoDB, written out: aws.Config by hand, static
// credentials, 64 idle connections per host, and for a local engine its
// endpoint without response checksums.
func newClient() *dynamodb.Client {
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	region := os.Getenv("AWS_REGION")
	if region == "" {
		region = "us-east-1"
	}
	cfg := aws.Config{Region: region}
	if endpoint != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	} else {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(
			os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 64
	})
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.DisableValidateResponseChecksum = true
		}
	})
}

// readSecret is Secrets Manager's GetSecretValue, made through shared/sigv4
// as codekey.FromSecretsManager makes it, with the environment's
// credentials.
func readSecret(ctx context.Context, arn string) error {
	region := os.Getenv("AWS_REGION")
	endpoint := os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
	if endpoint == "" {
		endpoint = "https://secretsmanager." + region + ".amazonaws.com"
	}
	client := &sigv4.Client{Service: "secretsmanager", Region: region, Credentials: credentials.NewStaticCredentialsProvider(
		os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var out struct{ SecretString string }
	if err := client.CallJSON(ctx, endpoint, "secretsmanager.GetSecretValue", map[string]string{"SecretId": arn}, &out); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	if out.SecretString == "" {
		return errors.New("secret: no SecretString in the answer")
	}
	return nil
}

// newID is a random UUID (version 4 layout), the id of a created process.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// decodeStrict decodes a recorded body into v, refusing members the
// baseline does not know: a request field the store starts sending must
// be replayed too, not silently dropped.
func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// The recorded requests, member for member as the DynamoDB JSON protocol
// names them (the SDK's input fields have the same names).
type (
	getItemBody struct {
		TableName                string
		Key                      avMap
		ConsistentRead           *bool
		ProjectionExpression     *string
		ExpressionAttributeNames map[string]string
		ReturnConsumedCapacity   types.ReturnConsumedCapacity
	}
	writeBody struct { // PutItem, UpdateItem, DeleteItem
		TableName                           string
		Key                                 avMap
		Item                                avMap
		UpdateExpression                    *string
		ConditionExpression                 *string
		ExpressionAttributeNames            map[string]string
		ExpressionAttributeValues           avMap
		ReturnValues                        types.ReturnValue
		ReturnValuesOnConditionCheckFailure types.ReturnValuesOnConditionCheckFailure
		ReturnConsumedCapacity              types.ReturnConsumedCapacity
		ReturnItemCollectionMetrics         types.ReturnItemCollectionMetrics
	}
	transactBody struct {
		TransactItems []struct {
			Put, Update, Delete, ConditionCheck *writeBody
		}
		ClientRequestToken          *string // the SDK makes a new one per call
		ReturnConsumedCapacity      types.ReturnConsumedCapacity
		ReturnItemCollectionMetrics types.ReturnItemCollectionMetrics
	}
	batchGetBody struct {
		RequestItems map[string]struct {
			Keys                     []avMap
			ConsistentRead           *bool
			ProjectionExpression     *string
			ExpressionAttributeNames map[string]string
		}
		ReturnConsumedCapacity types.ReturnConsumedCapacity
	}
	queryBody struct {
		TableName                 string
		IndexName                 *string
		KeyConditionExpression    *string
		FilterExpression          *string
		ProjectionExpression      *string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues avMap
		ExclusiveStartKey         avMap
		Limit                     *int32
		ScanIndexForward          *bool
		ConsistentRead            *bool
		Select                    types.Select
		ReturnConsumedCapacity    types.ReturnConsumedCapacity
	}
)

// GetItem is the GetItem operation.
func GetItem() Op {
	return Op{name: "GetItem", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b getItemBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &b.TableName, Key: sub.item(b.Key), ConsistentRead: b.ConsistentRead,
				ProjectionExpression: b.ProjectionExpression, ExpressionAttributeNames: b.ExpressionAttributeNames, ReturnConsumedCapacity: b.ReturnConsumedCapacity})
			return err
		}, nil
	}}
}

// PutItem is the PutItem operation.
func PutItem() Op {
	return Op{name: "PutItem", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b writeBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &b.TableName, Item: sub.item(b.Item),
				ConditionExpression: b.ConditionExpression, ExpressionAttributeNames: b.ExpressionAttributeNames, ExpressionAttributeValues: b.ExpressionAttributeValues,
				ReturnValues: b.ReturnValues, ReturnValuesOnConditionCheckFailure: b.ReturnValuesOnConditionCheckFailure,
				ReturnConsumedCapacity: b.ReturnConsumedCapacity, ReturnItemCollectionMetrics: b.ReturnItemCollectionMetrics})
			return err
		}, nil
	}}
}

// UpdateItem is the UpdateItem operation.
func UpdateItem() Op {
	return Op{name: "UpdateItem", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b writeBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &b.TableName, Key: sub.item(b.Key),
				UpdateExpression: b.UpdateExpression, ConditionExpression: b.ConditionExpression,
				ExpressionAttributeNames: b.ExpressionAttributeNames, ExpressionAttributeValues: b.ExpressionAttributeValues,
				ReturnValues: b.ReturnValues, ReturnValuesOnConditionCheckFailure: b.ReturnValuesOnConditionCheckFailure,
				ReturnConsumedCapacity: b.ReturnConsumedCapacity, ReturnItemCollectionMetrics: b.ReturnItemCollectionMetrics})
			return err
		}, nil
	}}
}

// DeleteItem is the DeleteItem operation.
func DeleteItem() Op {
	return Op{name: "DeleteItem", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b writeBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &b.TableName, Key: sub.item(b.Key),
				ConditionExpression: b.ConditionExpression, ExpressionAttributeNames: b.ExpressionAttributeNames, ExpressionAttributeValues: b.ExpressionAttributeValues,
				ReturnValues: b.ReturnValues, ReturnValuesOnConditionCheckFailure: b.ReturnValuesOnConditionCheckFailure,
				ReturnConsumedCapacity: b.ReturnConsumedCapacity, ReturnItemCollectionMetrics: b.ReturnItemCollectionMetrics})
			return err
		}, nil
	}}
}

// TransactWriteItems is the TransactWriteItems operation.
func TransactWriteItems() Op {
	return Op{name: "TransactWriteItems", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b transactBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			items := make([]types.TransactWriteItem, len(b.TransactItems))
			for n, t := range b.TransactItems {
				switch {
				case t.Put != nil:
					items[n].Put = &types.Put{TableName: &t.Put.TableName, Item: sub.item(t.Put.Item), ConditionExpression: t.Put.ConditionExpression,
						ExpressionAttributeNames: t.Put.ExpressionAttributeNames, ExpressionAttributeValues: t.Put.ExpressionAttributeValues,
						ReturnValuesOnConditionCheckFailure: t.Put.ReturnValuesOnConditionCheckFailure}
				case t.Update != nil:
					items[n].Update = &types.Update{TableName: &t.Update.TableName, Key: sub.item(t.Update.Key), UpdateExpression: t.Update.UpdateExpression,
						ConditionExpression: t.Update.ConditionExpression, ExpressionAttributeNames: t.Update.ExpressionAttributeNames,
						ExpressionAttributeValues: t.Update.ExpressionAttributeValues, ReturnValuesOnConditionCheckFailure: t.Update.ReturnValuesOnConditionCheckFailure}
				case t.Delete != nil:
					items[n].Delete = &types.Delete{TableName: &t.Delete.TableName, Key: sub.item(t.Delete.Key), ConditionExpression: t.Delete.ConditionExpression,
						ExpressionAttributeNames: t.Delete.ExpressionAttributeNames, ExpressionAttributeValues: t.Delete.ExpressionAttributeValues,
						ReturnValuesOnConditionCheckFailure: t.Delete.ReturnValuesOnConditionCheckFailure}
				case t.ConditionCheck != nil:
					items[n].ConditionCheck = &types.ConditionCheck{TableName: &t.ConditionCheck.TableName, Key: sub.item(t.ConditionCheck.Key),
						ConditionExpression: t.ConditionCheck.ConditionExpression, ExpressionAttributeNames: t.ConditionCheck.ExpressionAttributeNames,
						ExpressionAttributeValues: t.ConditionCheck.ExpressionAttributeValues, ReturnValuesOnConditionCheckFailure: t.ConditionCheck.ReturnValuesOnConditionCheckFailure}
				}
			}
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items,
				ReturnConsumedCapacity: b.ReturnConsumedCapacity, ReturnItemCollectionMetrics: b.ReturnItemCollectionMetrics})
			return err
		}, nil
	}}
}

// Query is the Query operation.
func Query() Op {
	return Op{name: "Query", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b queryBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			_, err := c.Query(ctx, &dynamodb.QueryInput{TableName: &b.TableName, IndexName: b.IndexName, KeyConditionExpression: b.KeyConditionExpression,
				FilterExpression: b.FilterExpression, ProjectionExpression: b.ProjectionExpression, ExpressionAttributeNames: b.ExpressionAttributeNames,
				ExpressionAttributeValues: b.ExpressionAttributeValues, ExclusiveStartKey: b.ExclusiveStartKey, Limit: b.Limit,
				ScanIndexForward: b.ScanIndexForward, ConsistentRead: b.ConsistentRead, Select: b.Select, ReturnConsumedCapacity: b.ReturnConsumedCapacity})
			return err
		}, nil
	}}
}

// BatchGetItem is the BatchGetItem operation.
func BatchGetItem() Op {
	return Op{name: "BatchGetItem", prepare: func(body []byte) (func(context.Context, *dynamodb.Client, substitution) error, error) {
		var b batchGetBody
		if err := decodeStrict(body, &b); err != nil {
			return nil, err
		}
		return func(ctx context.Context, c *dynamodb.Client, sub substitution) error {
			req := make(map[string]types.KeysAndAttributes, len(b.RequestItems))
			for table, ka := range b.RequestItems {
				keys := make([]map[string]types.AttributeValue, len(ka.Keys))
				for n, k := range ka.Keys {
					keys[n] = sub.item(k)
				}
				req[table] = types.KeysAndAttributes{Keys: keys, ConsistentRead: ka.ConsistentRead,
					ProjectionExpression: ka.ProjectionExpression, ExpressionAttributeNames: ka.ExpressionAttributeNames}
			}
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req, ReturnConsumedCapacity: b.ReturnConsumedCapacity})
			return err
		}, nil
	}}
}

// All are every operation a baseline can make, by name (for cmd/bench,
// which writes the mains).
var All = []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "Query", "BatchGetItem"}

// avMap is a map of attribute values in DynamoDB JSON.
type avMap map[string]types.AttributeValue

func (m *avMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(avMap, len(raw))
	for k, v := range raw {
		av, err := DecodeAttributeValue(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		out[k] = av
	}
	*m = out
	return nil
}

// DecodeAttributeValue decodes one attribute value in DynamoDB JSON
// ({"S":"x"}, {"N":"1"}, {"M":{...}}, ...).
func DecodeAttributeValue(b []byte) (types.AttributeValue, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if len(raw) != 1 {
		return nil, fmt.Errorf("an attribute value has one member, not %d", len(raw))
	}
	for tag, v := range raw {
		switch tag {
		case "S":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberN{Value: s}, err
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			p, err := base64.StdEncoding.DecodeString(s)
			return &types.AttributeValueMemberB{Value: p}, err
		case "BOOL":
			var x bool
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberBOOL{Value: x}, err
		case "NULL":
			var x bool
			err := json.Unmarshal(v, &x)
			return &types.AttributeValueMemberNULL{Value: x}, err
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if tag == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "BS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			bs := make([][]byte, len(ss))
			for n, s := range ss {
				p, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					return nil, err
				}
				bs[n] = p
			}
			return &types.AttributeValueMemberBS{Value: bs}, nil
		case "M":
			var m avMap
			err := json.Unmarshal(v, &m)
			return &types.AttributeValueMemberM{Value: m}, err
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out := make([]types.AttributeValue, len(l))
			for n, e := range l {
				av, err := DecodeAttributeValue(e)
				if err != nil {
					return nil, err
				}
				out[n] = av
			}
			return &types.AttributeValueMemberL{Value: out}, nil
		}
		return nil, fmt.Errorf("unknown attribute value type %q", tag)
	}
	return nil, nil
}
