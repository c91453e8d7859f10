package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

const (
	skIdempotency   = "I"
	kindIdempotency = "idempotency"
)

// idempotencyItem is an Idempotency-Key's record:
// pk ORG#<org>#IDEM#<hash of the key>, sk I.
type idempotencyItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	Request   string `dynamodbav:"request"`
	Status    int    `dynamodbav:"status"`
	Body      []byte `dynamodbav:"body,omitempty"`
	CodeKey   string `dynamodbav:"code_key,omitempty"`
	CodeNonce string `dynamodbav:"code_nonce,omitempty"`
	ProcessID string `dynamodbav:"process_id,omitempty"`
	CodeUntil int64  `dynamodbav:"code_expires_at,omitempty"`
	At        int64  `dynamodbav:"at"`
	TTL       int64  `dynamodbav:"ttl"`
	// Deleted: the process this key created was deleted, and the answer
	// erased with it.
	Deleted bool `dynamodbav:"deleted,omitempty"`
}

func idempotencyKey(org, hash string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("ORG#" + org + "#IDEM#" + hash), attrSK: str(skIdempotency)}
}

// putIdempotency is the transaction's write of rec: only where no record
// of the key is, or where the one there is older than the window (TTL may
// lag for days).
func (s *Store) putIdempotency(org string, rec identification.Idempotency) (types.TransactWriteItem, error) {
	it := idempotencyItem{Kind: kindIdempotency, Request: rec.Request, Status: rec.Status, Body: rec.Body,
		CodeKey: rec.CodeKey, CodeNonce: rec.CodeNonce, ProcessID: rec.ProcessID, CodeUntil: unix(rec.CodeExpiresAt), At: rec.At.Unix(), TTL: rec.At.Add(identification.IdempotencyWindow).Unix()}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("marshal idempotency record: %w", err)
	}
	for k, v := range idempotencyKey(org, rec.Key) {
		av[k] = v
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                s.table,
		Item:                     av,
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #at < :stale"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stale": number(rec.At.Add(-identification.IdempotencyWindow).Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

// CreateOnce is Create and the record of its Idempotency-Key in one
// transaction. When the key was used already, nothing is created: it
// returns the record for the same request (to replay), or KindConflict for
// another.
func (s *Store) CreateOnce(ctx context.Context, i *identification.Identification, code *identification.CodeMaterial, rec identification.Idempotency) (*identification.Idempotency, error) {
	it := toItem(i, code, s.shards, s.retention)
	it.LastWrite = newToken()
	it.IdemKey = rec.Key
	av, err := marshalItem(it)
	if err != nil {
		return nil, err
	}
	idem, err := s.putIdempotency(i.OrgID, rec)
	if err != nil {
		return nil, err
	}
	put := types.TransactWriteItem{Put: &types.Put{TableName: s.table, Item: av,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
	replay, reasons, err := s.transact(ctx, rec, put, idem)
	if replay != nil || err != nil {
		return replay, err
	}
	if reasons != nil {
		return nil, identification.Errorf(identification.KindConflict, "identification %s already exists", i.ID)
	}
	return nil, nil
}

// ApplyOnce is Apply and the record of its Idempotency-Key in one
// transaction (which returns no item: Result.New is nil on success).
func (s *Store) ApplyOnce(ctx context.Context, ref identification.Ref, e identification.Effect, rec identification.Idempotency) (identification.Result, *identification.Idempotency, error) {
	expr, args, _, err := s.effect(ref, e)
	if err != nil {
		return identification.Result{}, nil, err
	}
	update := types.TransactWriteItem{Update: &types.Update{
		TableName:                           s.table,
		Key:                                 keyAttr(ref),
		ConditionExpression:                 expr.condition,
		UpdateExpression:                    expr.update,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values(args),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
	idem, err := s.putIdempotency(ref.Org, rec)
	if err != nil {
		return identification.Result{}, nil, err
	}
	replay, reasons, err := s.transact(ctx, rec, update, idem)
	if replay != nil || err != nil {
		return identification.Result{}, replay, err
	}
	if reasons != nil {
		// The action's own refusal, classified from the item as it was.
		res, err := s.refused(ref, e, reasons[0].Item, "")
		return res, nil, err
	}
	return identification.Result{}, nil, nil
}

// transact runs action and the key's record as one TransactWriteItems
// (the SDK fills its ClientRequestToken once per call, so its retries of a
// call whose answer was lost are recognised by DynamoDB). It returns the
// key's record when the key was used before with this request, KindConflict
// when with another, the cancellation reasons when only the action was
// refused, nothing when both were written.
func (s *Store) transact(ctx context.Context, rec identification.Idempotency, action, idem types.TransactWriteItem) (*identification.Idempotency, []types.CancellationReason, error) {
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{action, idem}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		if err != nil {
			return nil, nil, classify("transact write items", err)
		}
		return nil, nil, nil
	}
	reasons := tce.CancellationReasons
	if len(reasons) != 2 {
		return nil, nil, fmt.Errorf("transact write items: %d cancellation reasons for 2 items", len(reasons))
	}
	code := func(r types.CancellationReason) string { return aws.ToString(r.Code) }
	if code(reasons[1]) == "ConditionalCheckFailed" {
		var old idempotencyItem
		if err := attributevalue.UnmarshalMap(reasons[1].Item, &old); err != nil {
			return nil, nil, fmt.Errorf("unmarshal idempotency record: %w", err)
		}
		if old.Request != rec.Request {
			return nil, nil, identification.Errorf(identification.KindConflict, "the Idempotency-Key was used with another request")
		}
		return &identification.Idempotency{Key: rec.Key, Request: old.Request, Status: old.Status, Body: old.Body,
			CodeKey: old.CodeKey, CodeNonce: old.CodeNonce, ProcessID: old.ProcessID, CodeExpiresAt: fromUnix(old.CodeUntil), At: fromUnix(old.At), Deleted: old.Deleted}, nil, nil
	}
	for _, r := range reasons {
		if code(r) == "TransactionConflict" {
			return nil, nil, identification.Errorf(identification.KindConflict, "another request with this Idempotency-Key, or on this identification, is in progress; retry")
		}
	}
	if code(reasons[0]) == "ConditionalCheckFailed" {
		return nil, reasons, nil
	}
	return nil, nil, classify("transact write items", err)
}

// eraseIdempotency is the delete's write to the record of the key that
// created process id: the answer it keeps (the actor's data, the code's
// nonce) goes and the record says the process was deleted, so a replay
// answers 404. Only while the record is still that process's.
func (s *Store) eraseIdempotency(org, hash, id string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                s.table,
		Key:                      idempotencyKey(org, hash),
		ConditionExpression:      aws.String("#process = :id"),
		UpdateExpression:         aws.String("SET #deleted = :true REMOVE #body, #code_key, #code_nonce"),
		ExpressionAttributeNames: map[string]string{"#process": "process_id", "#deleted": "deleted", "#body": "body", "#code_key": "code_key", "#code_nonce": "code_nonce"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id": str(id), ":true": &types.AttributeValueMemberBOOL{Value: true}},
	}}
}
