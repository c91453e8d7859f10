package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// The delivery of a code the system sends goes PENDING → claimed by one
// processor → SENT or FAILED. The claim, in the code's own claim item
// (bookkeeping.go), is what makes a replayed stream record, or two
// processors at once, send a code once: only the claim's holder sends. A
// claim older than ClaimTimeout (its holder crashed before it could tell
// how the send went) may be taken again; the code sent then is the same
// code, derived again from the same nonce. Only the outcome is a change of
// the process (one write, which the read and the events show).
const (
	// attrDeliveryClaimedAt and deliverySending are a claim as an earlier
	// version of the store wrote it on the process item: read (a process
	// so claimed reads PENDING), removed by the outcome, never written.
	attrDeliveryClaimedAt = "delivery_claimed_at"
	deliverySending       = "SENDING"

	attrPublished = "published_version"

	// ClaimTimeout is how long a claim holds before another processor may
	// take it.
	ClaimTimeout = 2 * time.Minute
)

// DecodeItem reads an item of the table (a stream record's image) into the
// domain's terms, with the decoder the store itself reads items with: the
// stream processor's decoder (stream.Decoder). It reads nothing of s, so
// a nil *Store decodes too. A bookkeeping item decodes to no process.
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

// ClaimDelivery claims the delivery of i's current code, whose nonce is
// nonce (i as a stream record's image shows it), for the caller. It
// succeeds (true) only while that code is still the process's current one
// (its count and nonce), not delivered yet, and the process open and not
// expired, and while the code is not claimed, or claimed longer ago than
// ClaimTimeout. It returns the delivery as claimed: the tries so far, this
// one included, and when it was tried (at).
//
// The claim is written in the code's claim item, never on the process: one
// TransactWriteItems of a ConditionCheck of the process item and the claim
// item's Put, on the condition that the code has no claim item yet. When
// it has one, the cancelled transaction returns it: a claim that holds
// ends the claim there; a stale one is taken over by a second transaction,
// on the condition that the claim item is still that claim. Two claimers
// cannot both write the claim item; a claimer cannot claim a code the
// process no longer holds. A TransactionConflict (another transaction on
// either item at that moment) is an error of kind unavailable, so the
// record is retried, never taken for a refusal.
func (s *Store) ClaimDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time) (identification.Delivery, bool, error) {
	if i == nil || i.OTP == nil || i.OTP.CodesSent == 0 || nonce == "" {
		return identification.Delivery{}, false, nil
	}
	ref, seq := i.Ref(), i.OTP.CodesSent
	claim := claimItem{PK: partitionKey(ref), SK: claimSK(seq), Kind: kindDelivery, ClaimedAt: at.Unix(), Tries: 1,
		TTL: identification.KeepingOf(i, s.retention).Until.Unix()}
	check := &types.ConditionCheck{
		TableName: s.table,
		Key:       keyAttr(ref),
		ConditionExpression: aws.String("#kind = :process AND #sent = :seq AND #nonce = :nonce AND #ds = :pending AND " +
			"#status IN (:created, :inprogress) AND #expires > :now"),
		ExpressionAttributeNames: map[string]string{"#kind": attrKind, "#sent": attrCodesSent, "#nonce": attrCodeNonce,
			"#ds": attrDeliveryStatus, "#status": attrStatus, "#expires": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":process": str(kindProcess), ":seq": number(int64(seq)), ":nonce": str(nonce), ":pending": str(identification.DeliveryPending),
			":created": str(string(identification.StatusCreated)), ":inprogress": str(string(identification.StatusInProgress)),
			":now": number(at.Unix()),
		},
	}
	claimed, held, err := s.putClaim(ctx, check, claim, nil)
	if err != nil || held == nil || held.ClaimedAt > at.Add(-ClaimTimeout).Unix() {
		// Claimed; or not the process's to deliver; or claimed by another
		// processor within ClaimTimeout.
		return delivered(claim, claimed), claimed, err
	}
	claim.Tries = held.Tries + 1
	claimed, _, err = s.putClaim(ctx, check, claim, held)
	return delivered(claim, claimed), claimed, err
}

// delivered is the delivery as claim claimed it (nothing when it did not).
func delivered(claim claimItem, claimed bool) identification.Delivery {
	if !claimed {
		return identification.Delivery{}
	}
	return identification.Delivery{Status: identification.DeliveryPending, Attempts: int(claim.Tries), LastTried: fromUnix(claim.ClaimedAt)}
}

// putClaim writes claim with check, on the condition that the claim item
// is was (nil: there is none). It returns whether it wrote it; when the
// process check passed but the claim item was not was, the claim item as
// it is.
func (s *Store) putClaim(ctx context.Context, check *types.ConditionCheck, claim claimItem, was *claimItem) (bool, *claimItem, error) {
	av, err := attributevalue.MarshalMap(claim)
	if err != nil {
		return false, nil, fmt.Errorf("claim: marshal claim item: %w", err)
	}
	put := &types.Put{TableName: s.table, Item: av, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}
	if was == nil {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		put.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		put.ConditionExpression = aws.String("#claimed = :was")
		put.ExpressionAttributeNames = map[string]string{"#claimed": attrClaimedAt}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":was": number(was.ClaimedAt)}
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{{ConditionCheck: check}, {Put: put}}})
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
		return true, nil, nil
	case !errors.As(err, &tce) || len(tce.CancellationReasons) != 2:
		return false, nil, classify("transact write items", err)
	}
	code := func(n int) string { return aws.ToString(tce.CancellationReasons[n].Code) }
	switch {
	case code(0) == "ConditionalCheckFailed":
		return false, nil, nil // the code is no longer the process's to deliver
	case code(1) == "ConditionalCheckFailed":
		item := tce.CancellationReasons[1].Item
		if len(item) == 0 {
			// An engine that does not return the item: read it.
			out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{attrPK: str(claim.PK), attrSK: str(claim.SK)}})
			if err != nil {
				return false, nil, classify("get item", err)
			}
			if item = out.Item; len(item) == 0 {
				return false, nil, &identification.Error{Kind: identification.KindUnavailable,
					Message: "the claim item changed under the claim; retry"}
			}
		}
		var held claimItem
		if err := attributevalue.UnmarshalMap(item, &held); err != nil {
			return false, nil, fmt.Errorf("claim: unmarshal claim item: %w", err)
		}
		return false, &held, nil
	case code(0) == "TransactionConflict" || code(1) == "TransactionConflict":
		return false, nil, &identification.Error{Kind: identification.KindUnavailable,
			Message: "the claim met another write on the process or the claim; retry", Err: err}
	}
	return false, nil, classify("transact write items", err)
}

// FinishDelivery writes how the claimed send of the code nonce went
// (outcome: SENT with the provider's message id, or FAILED, with the
// claim's tries and when it was last tried, which the process shows from
// then on). The nonce goes either way: nothing the code could be derived
// from stays. It is a change of the process (its version goes up, its read
// shows it, its events are published), made only while the code is still
// the process's and its delivery still PENDING; it returns the process as
// it now is.
func (s *Store) FinishDelivery(ctx context.Context, ref identification.Ref, nonce string, outcome identification.Delivery, at time.Time) (*identification.Identification, error) {
	sent := outcome.Status == identification.DeliverySent
	if !sent && outcome.Status != identification.DeliveryFailed {
		return nil, fmt.Errorf("finish delivery: outcome %q is neither %s nor %s", outcome.Status, identification.DeliverySent, identification.DeliveryFailed)
	}
	set := "SET #ds = :status, #tries = :tries, #tried = :tried, #updated = :now, #version = #version + :one, " +
		"#history = list_append(if_not_exists(#history, :empty), :entry)"
	values := map[string]types.AttributeValue{":process": str(kindProcess), ":nonce": str(nonce), ":pending": str(identification.DeliveryPending),
		":status": str(outcome.Status), ":tries": number(int64(outcome.Attempts)), ":tried": number(unix(outcome.LastTried)),
		":now": number(at.Unix()), ":one": number(1), ":empty": &types.AttributeValueMemberL{Value: []types.AttributeValue{}}}
	names := map[string]string{"#kind": attrKind, "#nonce": attrCodeNonce, "#ds": attrDeliveryStatus,
		"#tries": attrDeliveryTries, "#tried": attrDeliveryTried, "#updated": attrUpdatedAt, "#version": attrVersion,
		"#claimed": attrDeliveryClaimedAt, "#history": attrHistory}
	entry := identification.HistoryEntry{At: at, Action: identification.ActionDeliveryFailed, ByKind: identification.CallerSystem, BySub: "stream"}
	if sent {
		entry.Action = identification.ActionDeliverySent
		set += ", #msg = :msg"
		names["#msg"] = attrDeliveryMessage
		values[":msg"] = str(outcome.MessageID)
	}
	values[":entry"] = historyAttr(entry)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       keyAttr(ref),
		ConditionExpression:       aws.String("#kind = :process AND #nonce = :nonce AND #ds = :pending"),
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

// MarkPublished records that the events of i up to its version were
// published, unless that version or a later one already was (false then).
// The mark is the process's published item, written forward only by one
// conditional PutItem: the process item is not written.
func (s *Store) MarkPublished(ctx context.Context, i *identification.Identification) (bool, error) {
	ref := i.Ref()
	av, err := attributevalue.MarshalMap(publishedItem{PK: partitionKey(ref), SK: skPublished, Kind: kindPublished, Version: i.Version,
		TTL: identification.KeepingOf(i, s.retention).Until.Unix()})
	if err != nil {
		return false, fmt.Errorf("mark published: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      av,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #pub < :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#pub": attrPublished},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": number(i.Version)},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify("put item", err)
	}
	return true, nil
}

// Published returns the last version of ref whose events were published
// (0 when none), with a strongly consistent read of its published item.
func (s *Store) Published(ctx context.Context, ref identification.Ref) (int64, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: bookkeepingKey(ref, skPublished), ConsistentRead: aws.Bool(true),
		ProjectionExpression:     aws.String("#pub"),
		ExpressionAttributeNames: map[string]string{"#pub": attrPublished},
	})
	if err != nil {
		return 0, classify("get item", err)
	}
	var mark publishedItem
	if err := attributevalue.UnmarshalMap(out.Item, &mark); err != nil {
		return 0, fmt.Errorf("published: %w", err)
	}
	return mark.Version, nil
}
