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
	if k, ok := av[attrKind].(*types.AttributeValueMemberS); ok && k.Value == kindGuardEvent {
		return decodeGuardBlock(av)
	}
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
// Two calls, neither a write of the process item:
//
//   - a strongly consistent read of the process item, which must still owe
//     this code's delivery (a replay of a delivered, replaced or ended
//     code's record ends there);
//   - the claim: one conditional UpdateItem of the code's claim item (no
//     claim yet, or one older than ClaimTimeout), which counts the try.
//     Two claimers cannot both write it: whoever claims sends.
//
// A change of the process between the two (a resend, an end) is seen no
// later than when one lands between a claim and its send, which no claim
// can prevent: the code sent then is the one the process just replaced or
// ended, never another. A transaction that checked the process with the
// claim would cost a transactional write of the process item's size on
// every delivery, for that window of milliseconds.
//
// With markPublished, the claim also records that i's events up to its
// version were published (the published mark, Published), in the same
// write: the record that issued a code publishes its events and claims the
// code's delivery with one write where it took two.
func (s *Store) ClaimDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time, markPublished bool) (identification.Delivery, bool, error) {
	if i == nil || i.OTP == nil || i.OTP.CodesSent == 0 || nonce == "" {
		return identification.Delivery{}, false, nil
	}
	owed, err := s.owesDelivery(ctx, i.Ref(), i.OTP.CodesSent, nonce, at)
	if err != nil || !owed {
		return identification.Delivery{}, false, err
	}
	return s.ClaimOwedDelivery(ctx, i, nonce, at, markPublished)
}

// DeliveryState reads in one call what a record that issued a code needs
// before it publishes and claims: the last version of i's process whose
// events were published (as Published) and whether the process still owes
// the delivery of its current code, nonce, at at (as ClaimDelivery's
// read). One strongly consistent Query of the process's partition from
// its published item to the process item (sort keys B#pub, D#<seq>…, P),
// where Published and ClaimDelivery made a Query and a GetItem.
func (s *Store) DeliveryState(ctx context.Context, i *identification.Identification, nonce string, at time.Time) (int64, bool, error) {
	ref := i.Ref()
	in := &dynamodb.QueryInput{
		TableName: s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression: aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ProjectionExpression:   aws.String("#sk, #pub, #kind, #sent, #nonce, #ds, #status, #expires"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#pub": attrPublished, "#kind": attrKind,
			"#sent": attrCodesSent, "#nonce": attrCodeNonce, "#ds": attrDeliveryStatus, "#status": attrStatus, "#expires": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(partitionKey(ref)), ":from": str(skPublished), ":to": str(skProcess)},
	}
	var version int64
	owed := false
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return 0, false, classify("query", err)
		}
		for _, av := range out.Items {
			if sk, _ := av[attrSK].(*types.AttributeValueMemberS); sk != nil && sk.Value == skProcess {
				it, err := decodeItem(av)
				if err != nil {
					return 0, false, fmt.Errorf("delivery state: %w", err)
				}
				owed = owes(it, i.OTP.CodesSent, nonce, at)
				continue
			}
			var mark publishedItem
			if err := attributevalue.UnmarshalMap(av, &mark); err != nil {
				return 0, false, fmt.Errorf("delivery state: %w", err)
			}
			version = max(version, mark.Version)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return version, owed, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ClaimOwedDelivery is ClaimDelivery for a caller that has just read that
// the process owes the delivery (DeliveryState): the claim alone.
func (s *Store) ClaimOwedDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time, markPublished bool) (identification.Delivery, bool, error) {
	if i == nil || i.OTP == nil || i.OTP.CodesSent == 0 || nonce == "" {
		return identification.Delivery{}, false, nil
	}
	ref, seq := i.Ref(), i.OTP.CodesSent
	set := "SET #kind = :kind, #claimed = :now, #ttl = :ttl"
	names := map[string]string{"#pk": attrPK, "#kind": attrKind, "#claimed": attrClaimedAt, "#ttl": attrTTL, "#tries": attrTries}
	values := map[string]types.AttributeValue{
		":kind": str(kindDelivery), ":now": number(at.Unix()), ":stale": number(at.Add(-ClaimTimeout).Unix()),
		":ttl": number(identification.KeepingOf(i, s.retention).Until.Unix()), ":one": number(1),
	}
	if markPublished {
		set += ", #pub = :v"
		names["#pub"], values[":v"] = attrPublished, number(i.Version)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       bookkeepingKey(ref, claimSK(seq)),
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #claimed <= :stale"),
		UpdateExpression:          aws.String(set + " ADD #tries :one"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return identification.Delivery{}, false, nil // held by another processor
	}
	if err != nil {
		return identification.Delivery{}, false, classify("update item", err)
	}
	var claim claimItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &claim); err != nil {
		return identification.Delivery{}, false, fmt.Errorf("claim: unmarshal claim item: %w", err)
	}
	return identification.Delivery{Status: identification.DeliveryPending, Attempts: int(claim.Tries), LastTried: fromUnix(claim.ClaimedAt)}, true, nil
}

// owesDelivery reads the process item of ref (strongly consistent, the
// attributes the answer needs) and says whether it still owes the delivery
// of its seq-th code, whose nonce is nonce, at at: that code current and
// PENDING, the process open and not expired.
func (s *Store) owesDelivery(ctx context.Context, ref identification.Ref, seq int, nonce string, at time.Time) (bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: keyAttr(ref), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("#kind, #sent, #nonce, #ds, #status, #expires"),
		ExpressionAttributeNames: map[string]string{"#kind": attrKind, "#sent": attrCodesSent, "#nonce": attrCodeNonce,
			"#ds": attrDeliveryStatus, "#status": attrStatus, "#expires": attrExpiresAt},
	})
	if err != nil {
		return false, classify("get item", err)
	}
	it, err := decodeItem(out.Item)
	if err != nil {
		return false, fmt.Errorf("claim: %w", err)
	}
	return owes(it, seq, nonce, at), nil
}

// owes says whether the process item it still owes the delivery of its
// seq-th code, whose nonce is nonce, at at: that code current and PENDING,
// the process open and not expired.
func owes(it item, seq int, nonce string, at time.Time) bool {
	status := identification.Status(it.Status)
	return it.Kind == kindProcess && it.CodesSent == int64(seq) && it.CodeNonce == nonce && it.DeliveryStatus == identification.DeliveryPending &&
		(status == identification.StatusCreated || status == identification.StatusInProgress) && it.ExpiresAt > at.Unix()
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
// published, unless the published item holds that version or a later one
// already (false then; a claim's mark, ClaimDelivery, is not consulted:
// Published takes the highest of them all).
// The mark is the process's published item, moved forward only by one
// conditional UpdateItem: the process item is not written.
func (s *Store) MarkPublished(ctx context.Context, i *identification.Identification) (bool, error) {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      bookkeepingKey(i.Ref(), skPublished),
		ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #pub < :v"),
		UpdateExpression:         aws.String("SET #kind = :kind, #pub = :v, #ttl = :ttl"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#kind": attrKind, "#pub": attrPublished, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str(kindPublished), ":v": number(i.Version),
			":ttl": number(identification.KeepingOf(i, s.retention).Until.Unix())},
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
// (0 when none): the highest mark of its published item and of its claims
// (a claim may carry one, ClaimDelivery), read with one strongly
// consistent Query of the process's bookkeeping items (sort keys B# to
// D#: the published item and a claim per code sent, a few in all).
func (s *Store) Published(ctx context.Context, ref identification.Ref) (int64, error) {
	in := &dynamodb.QueryInput{
		TableName: s.table, ConsistentRead: aws.Bool(true),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ProjectionExpression:     aws.String("#pub"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#pub": attrPublished},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(partitionKey(ref)),
			":from": str(skPublished), ":to": str(skClaimPrefix + "~")},
	}
	var version int64
	for {
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return 0, classify("query", err)
		}
		for _, av := range out.Items {
			var mark publishedItem
			if err := attributevalue.UnmarshalMap(av, &mark); err != nil {
				return 0, fmt.Errorf("published: %w", err)
			}
			version = max(version, mark.Version)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return version, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
