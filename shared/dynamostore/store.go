// Package dynamostore is the DynamoDB implementation of identification.Store:
// one table, the organisation in every key, one call per operation, every
// change a conditional write whose refusal is classified from the item
// DynamoDB returns (ALL_OLD), never with a second read, and every write
// carrying a token of its call so that the SDK's retry of a write whose
// answer was lost is recognised as the same write.
package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// Defaults for Options.
const (
	DefaultShards    = 16
	DefaultRetention = 30 * 24 * time.Hour
	// OpenIndex is the sparse index of open processes by expiry.
	OpenIndex = "open-by-expiry"
)

// Options configures a Store.
type Options struct {
	// Table is the table name.
	Table string
	// Shards is the number of partition values of the open-process index.
	Shards int
	// Retention is how long a record is kept after it ended or expired
	// before DynamoDB's TTL may remove it.
	Retention time.Duration
}

// Store implements identification.Store on one DynamoDB table.
type Store struct {
	client    *dynamodb.Client
	table     *string
	shards    int
	retention time.Duration
	shapes    shapes
}

// The DynamoDB store has every capability the service uses: the compiler
// checks it here, so that the service never finds at run time that the
// production store cannot record an Idempotency-Key or list.
var _ identification.CompleteStore = (*Store)(nil)

// New returns a Store using client. Zero options take their defaults.
func New(client *dynamodb.Client, opts Options) *Store {
	if opts.Shards <= 0 {
		opts.Shards = DefaultShards
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	return &Store{client: client, table: aws.String(opts.Table), shards: opts.Shards, retention: opts.Retention}
}

// newToken is the token of one store call: the SDK sends the same input on
// every retry, so a refusal whose old item carries it is this call's own
// earlier attempt, which landed although its answer was lost.
func newToken() string {
	var raw [16]byte
	rand.Read(raw[:])
	return hex.EncodeToString(raw[:])
}

func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// ownWrite reports whether old carries token: the write was this call's.
func ownWrite(old map[string]types.AttributeValue, token string) bool {
	s, ok := old[attrLastWrite].(*types.AttributeValueMemberS)
	return ok && s.Value == token
}

// Create stores i (and its first code) unless an item with its key exists.
func (s *Store) Create(ctx context.Context, i *identification.Identification, code *identification.CodeMaterial) error {
	token := newToken()
	it := toItem(i, code, s.shards, s.retention)
	it.LastWrite = token
	av, err := marshalItem(it)
	if err != nil {
		return err
	}
	expr, err := s.shapes.get("create", func() (expression.Builder, error) {
		return expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK))), nil
	})
	if err != nil {
		return fmt.Errorf("build create condition: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           s.table,
		Item:                                av,
		ConditionExpression:                 expr.condition,
		ExpressionAttributeNames:            expr.names,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ownWrite(ccf.Item, token) {
			return nil
		}
		return identification.Errorf(identification.KindConflict, "identification %s already exists", i.ID)
	}
	if err != nil {
		return classify("put item", err)
	}
	return nil
}

// Get reads the item with a strongly consistent read.
func (s *Store) Get(ctx context.Context, ref identification.Ref) (*identification.Identification, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            keyAttr(ref),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify("get item", err)
	}
	if len(out.Item) == 0 {
		return nil, notFound(ref)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return nil, err
	}
	if it.Kind == kindTombstone {
		return nil, deleted(ref, it)
	}
	i, _ := fromItem(it)
	return i, nil
}

// Apply makes the change e as one conditional UpdateItem compiled from e.
func (s *Store) Apply(ctx context.Context, ref identification.Ref, e identification.Effect) (identification.Result, error) {
	expr, args, token, err := s.effect(ref, e)
	if err != nil {
		return identification.Result{}, err
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 keyAttr(ref),
		ConditionExpression:                 expr.condition,
		UpdateExpression:                    expr.update,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values(args),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return s.refused(ref, e, ccf.Item, token)
	}
	if err != nil {
		return identification.Result{}, classify("update item", err)
	}
	i, code, err := unmarshalItem(out.Attributes)
	if err != nil {
		return identification.Result{}, err
	}
	return identification.Result{New: i, Code: code}, nil
}

// refused classifies a refused write from the item as it was.
func (s *Store) refused(ref identification.Ref, e identification.Effect, av map[string]types.AttributeValue, token string) (identification.Result, error) {
	if len(av) == 0 {
		return identification.Result{}, notFound(ref)
	}
	it, err := decodeItem(av)
	if err != nil {
		return identification.Result{}, err
	}
	if it.Kind == kindTombstone {
		return identification.Result{}, deleted(ref, it)
	}
	old, code := fromItem(it)
	if ownWrite(av, token) {
		// The SDK retried a write that had landed: what it refused is
		// this call's own result.
		return identification.Result{New: old, Code: code}, nil
	}
	if refusal := e.Check(old, code); refusal != nil {
		return identification.Result{Old: old}, refusal
	}
	return identification.Result{Old: old}, fmt.Errorf("%s refused although %s allows it at %s", e.Action, old.Status, e.At)
}

// Delete turns the process into its tombstone in one conditional
// UpdateItem: the actor's data and everything else go, the id, the status
// it had, when and by whom stay for the retention period, so the org's own
// read of the id can say it was deleted. A process created with an
// Idempotency-Key (read first, strongly consistent) is turned into its
// tombstone in one transaction with the erasure of the key's record, which
// kept the create's answer: nothing of the actor outlives the delete.
func (s *Store) Delete(ctx context.Context, ref identification.Ref, force bool, by identification.Caller, now time.Time) error {
	expr, err := s.shapes.get(deleteShapes[force], func() (expression.Builder, error) { return deleteExpression(force), nil })
	if err != nil {
		return fmt.Errorf("build delete expression: %w", err)
	}
	key := ""
	if got, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: keyAttr(ref), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#k"), ExpressionAttributeNames: map[string]string{"#k": "idem_key"}}); err != nil {
		return classify("get item", err)
	} else if v, ok := got.Item["idem_key"].(*types.AttributeValueMemberS); ok {
		key = v.Value
	}
	token := newToken()
	args := make([]types.AttributeValue, numDelete)
	args[delNow] = number(now.Unix())
	args[delTTL] = number(now.Add(s.retention).Unix())
	args[delToken] = str(token)
	args[delSub] = str(orUnknown(by.Sub))
	args[delKind] = str(kindProcess)
	args[delTombstone] = str(kindTombstone)
	update := &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 keyAttr(ref),
		ConditionExpression:                 expr.condition,
		UpdateExpression:                    expr.update,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values(args),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	var refusedItem map[string]types.AttributeValue
	if key != "" {
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: update.TableName, Key: update.Key, ConditionExpression: update.ConditionExpression,
				UpdateExpression: update.UpdateExpression, ExpressionAttributeNames: update.ExpressionAttributeNames,
				ExpressionAttributeValues:           update.ExpressionAttributeValues,
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			s.eraseIdempotency(ref.Org, key, ref.ID),
		}})
		var tce *types.TransactionCanceledException
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &tce) || len(tce.CancellationReasons) != 2:
			return classify("transact write items", err)
		case aws.ToString(tce.CancellationReasons[0].Code) == "ConditionalCheckFailed":
			refusedItem = tce.CancellationReasons[0].Item
		case aws.ToString(tce.CancellationReasons[1].Code) == "ConditionalCheckFailed":
			// The key's record is gone (TTL) or now another request's:
			// nothing of this process is left in it.
			key = ""
		default:
			return classify("transact write items", err)
		}
	}
	if key == "" && refusedItem == nil {
		_, err = s.client.UpdateItem(ctx, update)
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			if err != nil {
				return classify("update item", err)
			}
			return nil
		}
		refusedItem = ccf.Item
	}
	if len(refusedItem) == 0 {
		return notFound(ref)
	}
	if ownWrite(refusedItem, token) {
		return nil
	}
	it, err := decodeItem(refusedItem)
	if err != nil {
		return err
	}
	if it.Kind == kindTombstone {
		return deleted(ref, it)
	}
	old, _ := fromItem(it)
	return identification.DeleteRefusal(old.Status, old.ExpiresAt, now)
}

// The keys of a delete's shapes, and the slots of its values. (An
// effect's key is its kinds (translate.go), which never start with "d".)
var deleteShapes = map[bool]string{false: "delete", true: "delete force"}

const (
	delNow = iota
	delTTL
	delToken
	delSub
	delKind
	delTombstone
	numDelete
)

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// deleteExpression is the condition and update of a delete: the item is a
// process and, without force, CREATED and not expired; it becomes a
// tombstone.
func deleteExpression(force bool) expression.Builder {
	cond := expression.Name(attrKind).Equal(slot(delKind))
	if !force {
		cond = cond.And(
			expression.Name(attrStatus).Equal(expression.Value(string(identification.StatusCreated))),
			expression.Name(attrExpiresAt).GreaterThan(slot(delNow)),
		)
	}
	cond = cond.And(expression.AttributeNotExists(expression.Name(attrLastWrite)).
		Or(expression.Name(attrLastWrite).NotEqual(slot(delToken))))
	update := expression.
		Set(expression.Name(attrKind), slot(delTombstone)).
		Set(expression.Name(attrDeletedAt), slot(delNow)).
		Set(expression.Name(attrDeletedBy), slot(delSub)).
		Set(expression.Name(attrUpdatedAt), slot(delNow)).
		Set(expression.Name(attrTTL), slot(delTTL)).
		Set(expression.Name(attrLastWrite), slot(delToken)).
		Set(expression.Name(attrVersion), expression.Name(attrVersion).Plus(expression.Value(1)))
	for _, name := range tombstoneRemoves {
		update = update.Remove(expression.Name(name))
	}
	return expression.NewBuilder().WithCondition(cond).WithUpdate(update)
}

func notFound(ref identification.Ref) error {
	// The id is not repeated: another org's id must read exactly like a
	// random one.
	if ref.Type == identification.TypeChain {
		return identification.Errorf(identification.KindNotFound, "no such chain identification in this organisation")
	}
	return identification.Errorf(identification.KindNotFound, "no such otp identification in this organisation")
}

// deleted is the not-found of a tombstone: only the org's own requests
// reach it (the org is part of the key), so it may say when and by whom.
func deleted(ref identification.Ref, it item) error {
	return identification.Errorf(identification.KindNotFound, "the %s identification was deleted at %s by %s",
		map[identification.Type]string{identification.TypeOTP: "otp", identification.TypeChain: "chain"}[ref.Type],
		fromUnix(it.DeletedAt).Format(time.RFC3339), it.DeletedBy)
}

// Purge removes the item under ref outright, tombstone and all, with no
// condition. It is for tools and benchmarks that reuse ids; no request path
// calls it. The stream processor's bookkeeping items of ref (bookkeeping.go)
// stay until their TTL: a tool that runs the processor on a reused id
// starts from a fresh table instead.
func (s *Store) Purge(ctx context.Context, ref identification.Ref) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: s.table, Key: keyAttr(ref)})
	if err != nil {
		return classify("delete item", err)
	}
	return nil
}
