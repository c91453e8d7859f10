// Package dynamostore is the DynamoDB implementation of identification.Store:
// one table, the organisation in every key, one call per operation, every
// transition a conditional write whose refusal is classified from the item
// DynamoDB returns (ALL_OLD), never with a second read.
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

var _ identification.Store = (*Store)(nil)

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

// Create stores i unless an item with its key exists.
func (s *Store) Create(ctx context.Context, i *identification.Identification) error {
	av, err := marshalItem(toItem(i, s.shards, s.retention))
	if err != nil {
		return err
	}
	// A token of this call, so that the SDK's retry of a PutItem whose
	// answer was lost can be told from a second create of the same id.
	var raw [16]byte
	rand.Read(raw[:])
	token := hex.EncodeToString(raw[:])
	av[attrCreateToken] = &types.AttributeValueMemberS{Value: token}
	expr, err := s.shapes.get(createShape{}, func() expression.Builder {
		return expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(attrPK)))
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
		if old, ok := ccf.Item[attrCreateToken].(*types.AttributeValueMemberS); ok && old.Value == token {
			return nil // this call's own earlier attempt wrote it
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
	return unmarshalItem(out.Item)
}

// Transition applies ch as one conditional UpdateItem.
func (s *Store) Transition(ctx context.Context, ref identification.Ref, ch identification.Change) error {
	rule, ok := identification.Lifecycle[ch.Action]
	if !ok {
		return fmt.Errorf("transition: unknown action %q", ch.Action)
	}
	key := transitionShape{action: ch.Action, reason: ch.Reason != "", userAgent: ch.UserAgent != ""}
	expr, err := s.shapes.get(key, func() expression.Builder { return s.transitionExpression(key, rule) })
	if err != nil {
		return fmt.Errorf("build %s expression: %w", ch.Action, err)
	}
	var args [numParams]types.AttributeValue
	args[paramNow] = number(ch.At.Unix())
	args[paramTTL] = number(ch.At.Add(s.retention).Unix())
	args[paramReason] = &types.AttributeValueMemberS{Value: ch.Reason}
	args[paramUserAgent] = &types.AttributeValueMemberS{Value: ch.UserAgent}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 keyAttr(ref),
		ConditionExpression:                 expr.condition,
		UpdateExpression:                    expr.update,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values(&args),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		exists, status, expiresAt := oldState(ccf.Item)
		if !exists {
			return notFound(ref)
		}
		if refusal := ch.Action.Refusal(status, expiresAt, ch.At); refusal != nil {
			return refusal
		}
		return fmt.Errorf("%s refused although %s at %s allows it", ch.Action, status, ch.At)
	}
	if err != nil {
		return classify("update item", err)
	}
	return nil
}

// Shapes of the expressions the store builds once (see compiled).
type (
	createShape     struct{}
	transitionShape struct {
		action            identification.Action
		reason, userAgent bool
	}
	deleteShape struct{ force bool }
)

// transitionExpression is the condition and update of a transition: the
// new status, the time, the version one up, the open-index keys removed and
// the end of retention as TTL, in one write.
func (s *Store) transitionExpression(key transitionShape, rule identification.Rule) expression.Builder {
	now := slot(paramNow)
	update := expression.
		Set(expression.Name(attrStatus), expression.Value(string(rule.To))).
		Set(expression.Name(attrUpdatedAt), now).
		Set(expression.Name(attrVersion), expression.Name(attrVersion).Plus(expression.Value(1))).
		Remove(expression.Name(attrOpenShard)).
		Remove(expression.Name(attrOpenExpiresAt))
	if key.action == identification.ActionExpire {
		// An expired process ended at its expiry, whenever the sweep ran.
		update = update.
			Set(expression.Name(attrEndedAt), expression.Name(attrExpiresAt)).
			Set(expression.Name(attrTTL), expression.Name(attrExpiresAt).Plus(expression.Value(int64(s.retention.Seconds()))))
	} else {
		update = update.
			Set(expression.Name(attrEndedAt), now).
			Set(expression.Name(attrTTL), slot(paramTTL))
	}
	if key.reason {
		update = update.Set(expression.Name(attrCancelReason), slot(paramReason))
	}
	if key.userAgent {
		update = update.Set(expression.Name(attrEndedBy), slot(paramUserAgent))
	}
	return expression.NewBuilder().WithCondition(transitionCondition(key.action, rule, now)).WithUpdate(update)
}

// deleteExpression is the condition of a delete: the item exists and,
// without force, is CREATED and not expired.
func deleteExpression(force bool) expression.Builder {
	cond := expression.AttributeExists(expression.Name(attrPK))
	if !force {
		cond = cond.And(
			expression.Name(attrStatus).Equal(expression.Value(string(identification.StatusCreated))),
			expression.Name(attrExpiresAt).GreaterThan(slot(paramNow)),
		)
	}
	return expression.NewBuilder().WithCondition(cond)
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// transitionCondition is the lifecycle rule as a condition: the item exists,
// its status is one the action is allowed from and, for open statuses, its
// expiry has not passed (for expire: has passed).
func transitionCondition(a identification.Action, rule identification.Rule, now expression.ValueBuilder) expression.ConditionBuilder {
	var open, other []expression.OperandBuilder
	for _, st := range rule.From {
		if st.Open() {
			open = append(open, expression.Value(string(st)))
		} else {
			other = append(other, expression.Value(string(st)))
		}
	}
	status := expression.Name(attrStatus)
	expires := expression.Name(attrExpiresAt)
	var cond expression.ConditionBuilder
	if a == identification.ActionExpire {
		cond = status.In(open[0], open[1:]...).And(expires.LessThanEqual(now))
	} else {
		cond = status.In(open[0], open[1:]...).And(expires.GreaterThan(now))
	}
	if len(other) > 0 {
		cond = cond.Or(status.In(other[0], other[1:]...))
	}
	return expression.AttributeExists(expression.Name(attrPK)).And(cond)
}

// Delete removes the item in one conditional DeleteItem.
func (s *Store) Delete(ctx context.Context, ref identification.Ref, force bool, now time.Time) error {
	expr, err := s.shapes.get(deleteShape{force}, func() expression.Builder { return deleteExpression(force) })
	if err != nil {
		return fmt.Errorf("build delete condition: %w", err)
	}
	var args [numParams]types.AttributeValue
	args[paramNow] = number(now.Unix())
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           s.table,
		Key:                                 keyAttr(ref),
		ConditionExpression:                 expr.condition,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values(&args),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		exists, status, expiresAt := oldState(ccf.Item)
		if !exists {
			return notFound(ref)
		}
		return identification.DeleteRefusal(status, expiresAt, now)
	}
	if err != nil {
		return classify("delete item", err)
	}
	return nil
}

func notFound(ref identification.Ref) error {
	// The id is not repeated: another org's id must read exactly like a
	// random one.
	if ref.Type == identification.TypeChain {
		return identification.Errorf(identification.KindNotFound, "no such chain identification in this organisation")
	}
	return identification.Errorf(identification.KindNotFound, "no such otp identification in this organisation")
}
