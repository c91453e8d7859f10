package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// The delivery of a code the system sends goes PENDING → SENDING (claimed
// by one processor) → SENT or FAILED. The claim is what makes a replayed
// stream record, or two processors at once, send a code once: only the
// claim's holder sends. A claim older than ClaimTimeout (its holder crashed
// before it could tell how the send went) may be taken again; the code sent
// then is the same code, derived again from the same nonce.
const (
	attrDeliveryClaimedAt = "delivery_claimed_at"
	attrPublished         = "published_version"

	deliverySending = "SENDING"
	// ClaimTimeout is how long a claim holds before another processor may
	// take it.
	ClaimTimeout = 2 * time.Minute
)

// DecodeItem reads an item of the table (a stream record's image) into the
// domain's terms, with the decoder the store itself reads items with: the
// stream processor's decoder (stream.Decoder). It reads nothing of s, so
// a nil *Store decodes too.
func (s *Store) DecodeItem(av map[string]types.AttributeValue) (identification.StoredItem, error) {
	it, err := decodeItem(av)
	if err != nil {
		return identification.StoredItem{}, err
	}
	d := identification.StoredItem{Ref: identification.Ref{Org: it.Org, Type: identification.Type(it.Type), ID: it.ID},
		Sending: it.DeliveryStatus == deliverySending}
	if it.Kind == kindProcess {
		d.Process, d.Code = fromItem(it)
	}
	return d, nil
}

// ClaimDelivery claims the delivery of the code whose nonce is nonce: it
// succeeds (true) only while that code is the process's current one, not
// delivered yet, and the process open and not expired; or when an earlier
// claim is older than ClaimTimeout. It counts the attempt. One UpdateItem.
func (s *Store) ClaimDelivery(ctx context.Context, ref identification.Ref, nonce string, at time.Time) (bool, error) {
	cond := "#kind = :process AND #nonce = :nonce AND #status IN (:created, :inprogress) AND #expires > :now AND " +
		"(#ds = :pending OR (#ds = :sending AND #claimed <= :stale))"
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           s.table,
		Key:                 keyAttr(ref),
		ConditionExpression: aws.String(cond),
		UpdateExpression:    aws.String("SET #ds = :sending, #claimed = :now, #tried = :now ADD #tries :one"),
		ExpressionAttributeNames: map[string]string{"#kind": attrKind, "#nonce": attrCodeNonce, "#status": attrStatus,
			"#expires": attrExpiresAt, "#ds": attrDeliveryStatus, "#claimed": attrDeliveryClaimedAt,
			"#tried": attrDeliveryTried, "#tries": attrDeliveryTries},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":process": str(kindProcess), ":nonce": str(nonce),
			":created": str(string(identification.StatusCreated)), ":inprogress": str(string(identification.StatusInProgress)),
			":now": number(at.Unix()), ":pending": str(identification.DeliveryPending), ":sending": str(deliverySending),
			":stale": number(at.Add(-ClaimTimeout).Unix()), ":one": number(1),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify("update item", err)
	}
	return true, nil
}

// FinishDelivery writes how the claimed send of the code nonce went: SENT
// with the provider's message id, or FAILED. The nonce goes either way:
// nothing the code could be derived from stays. It is a change of the
// process (its version goes up, its read shows it), made only while the
// claim is still this code's; it returns the process as it now is.
func (s *Store) FinishDelivery(ctx context.Context, ref identification.Ref, nonce string, sent bool, messageID string, at time.Time) (*identification.Identification, error) {
	status, set := identification.DeliveryFailed, "SET #ds = :status, #updated = :now, #version = #version + :one, "+
		"#history = list_append(if_not_exists(#history, :empty), :entry)"
	values := map[string]types.AttributeValue{":process": str(kindProcess), ":nonce": str(nonce), ":sending": str(deliverySending),
		":now": number(at.Unix()), ":one": number(1)}
	names := map[string]string{"#kind": attrKind, "#nonce": attrCodeNonce, "#ds": attrDeliveryStatus,
		"#updated": attrUpdatedAt, "#version": attrVersion, "#claimed": attrDeliveryClaimedAt, "#history": attrHistory}
	entry := identification.HistoryEntry{At: at, Action: identification.ActionDeliveryFailed, ByKind: identification.CallerSystem, BySub: "stream"}
	if sent {
		entry.Action = identification.ActionDeliverySent
	}
	values[":entry"] = historyAttr(entry)
	values[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	if sent {
		status = identification.DeliverySent
		set += ", #msg = :msg"
		names["#msg"] = attrDeliveryMessage
		values[":msg"] = str(messageID)
	}
	values[":status"] = str(status)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       keyAttr(ref),
		ConditionExpression:       aws.String("#kind = :process AND #nonce = :nonce AND #ds = :sending"),
		UpdateExpression:          aws.String(set + " REMOVE #nonce, #claimed"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, identification.Errorf(identification.KindConflict, "the delivery is no longer this code's")
	}
	if err != nil {
		return nil, classify("update item", err)
	}
	i, _, err := unmarshalItem(out.Attributes)
	return i, err
}

// MarkPublished records that the events of ref up to version were
// published, unless a later version already was (false then). It is
// bookkeeping: the version does not move, so the stream record it makes
// carries no change to publish.
func (s *Store) MarkPublished(ctx context.Context, ref identification.Ref, version int64) (bool, error) {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       keyAttr(ref),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#pub) OR #pub < :v)"),
		UpdateExpression:          aws.String("SET #pub = :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#pub": attrPublished},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": number(version)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify("update item", err)
	}
	return true, nil
}

// Published returns the last version of ref whose events were published
// (0 when none), with a strongly consistent read.
func (s *Store) Published(ctx context.Context, ref identification.Ref) (int64, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: keyAttr(ref), ConsistentRead: aws.Bool(true),
		ProjectionExpression:     aws.String("#pub"),
		ExpressionAttributeNames: map[string]string{"#pub": attrPublished},
	})
	if err != nil {
		return 0, classify("get item", err)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return 0, fmt.Errorf("published: %w", err)
	}
	return it.PublishedVersion, nil
}
