package dynamostore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// The webhook items (the key schema is in item.go): an organisation's
// endpoints and their count under one partition key, each endpoint's
// deliveries log under one of its own.
//
//	pk = ORG#<org>#WEBHOOKS            sk = E#<id>           an endpoint (kind webhook)
//	                                   sk = N                how many endpoints the organisation has (kind webhook-count)
//	pk = ORG#<org>#WEBHOOK#<endpoint>  sk = D#<delivery id>  a delivery (kind webhook-delivery), newest event last
//
// None of them has an attribute an index keys on (they are in no index),
// and none has sort key P, so the table's stream filter
// (StreamFilterPattern) lets none of their changes through to the stream
// function. The organisation is part of every key: another organisation's
// id is simply not there (KindNotFound). Ids must not contain '#'.
//
// Times are Unix seconds, but for the delivered event's, which is kept to
// the nanosecond (a replay recomputes its webhook-id from its
// milliseconds, webhooks.DeliveryID).
const (
	skEndpointPrefix        = "E#"
	skEndpointCount         = "N"
	skWebhookDeliveryPrefix = "D#"
	kindWebhook             = "webhook"
	kindWebhookCount        = "webhook-count"
	kindWebhookDelivery     = "webhook-delivery"

	attrCount          = "count"
	attrURL            = "url"
	attrEvents         = "events"
	attrDescription    = "description"
	attrDisabledReason = "disabled_reason"
	attrFailingSince   = "failing_since"
	attrSecret         = "secret"
	attrPreviousSecret = "previous_secret"
	attrPreviousUntil  = "previous_until"
)

// The store keeps the webhooks' endpoints and deliveries log too.
var _ webhooks.Store = (*Store)(nil)

// Retries of a transaction that met another one on one of its items (on
// the endpoint count: registrations or deletions at once; on a settings
// document: changes at once): DynamoDB cancels it, having changed
// nothing, with reason TransactionConflict, which the SDK does not retry.
const (
	conflictRetries  = 12
	conflictBaseWait = 5 * time.Millisecond
	conflictMaxWait  = 250 * time.Millisecond
)

func webhooksPK(org string) string { return "ORG#" + org + "#WEBHOOKS" }

func endpointKey(org, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(webhooksPK(org)), attrSK: str(skEndpointPrefix + id)}
}

func endpointCountKey(org string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(webhooksPK(org)), attrSK: str(skEndpointCount)}
}

func webhookDeliveriesPK(org, endpoint string) string { return "ORG#" + org + "#WEBHOOK#" + endpoint }

func webhookDeliveryKey(org, endpoint, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(webhookDeliveriesPK(org, endpoint)), attrSK: str(skWebhookDeliveryPrefix + id)}
}

// endpointItem is an endpoint as stored, with its sealed secrets.
type endpointItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	Kind           string   `dynamodbav:"kind"`
	ID             string   `dynamodbav:"id"`
	Org            string   `dynamodbav:"org"`
	URL            string   `dynamodbav:"url"`
	Events         []string `dynamodbav:"events,omitempty"`
	Description    string   `dynamodbav:"description,omitempty"`
	Status         string   `dynamodbav:"status"`
	DisabledReason string   `dynamodbav:"disabled_reason,omitempty"`
	FailingSince   int64    `dynamodbav:"failing_since,omitempty"`
	CreatedAt      int64    `dynamodbav:"created_at"`
	UpdatedAt      int64    `dynamodbav:"updated_at"`
	Version        int64    `dynamodbav:"version"`
	Secret         string   `dynamodbav:"secret"`
	PreviousSecret string   `dynamodbav:"previous_secret,omitempty"`
	PreviousUntil  int64    `dynamodbav:"previous_until,omitempty"`
}

func toEndpointItem(s webhooks.Stored) endpointItem {
	e := s.Endpoint
	return endpointItem{
		PK: webhooksPK(e.OrgID), SK: skEndpointPrefix + e.ID, Kind: kindWebhook,
		ID: e.ID, Org: e.OrgID, URL: e.URL, Events: slices.Clone(e.Events), Description: e.Description,
		Status: string(e.Status), DisabledReason: e.DisabledReason, FailingSince: unixPtr(e.FailingSince),
		CreatedAt: unix(e.CreatedAt), UpdatedAt: unix(e.UpdatedAt), Version: e.Version,
		Secret: s.Secret, PreviousSecret: s.PreviousSecret, PreviousUntil: unix(s.PreviousUntil),
	}
}

func (it endpointItem) stored() webhooks.Stored {
	return webhooks.Stored{
		Endpoint: &webhooks.Endpoint{
			ID: it.ID, OrgID: it.Org, URL: it.URL, Events: it.Events, Description: it.Description,
			Status: webhooks.Status(it.Status), DisabledReason: it.DisabledReason, FailingSince: timePtr(it.FailingSince),
			CreatedAt: fromUnix(it.CreatedAt), UpdatedAt: fromUnix(it.UpdatedAt), Version: it.Version,
		},
		Secret: it.Secret, PreviousSecret: it.PreviousSecret, PreviousUntil: fromUnix(it.PreviousUntil),
	}
}

func decodeEndpoint(av map[string]types.AttributeValue) (webhooks.Stored, error) {
	var it endpointItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return webhooks.Stored{}, fmt.Errorf("unmarshal webhook endpoint: %w", err)
	}
	if it.Kind != kindWebhook {
		return webhooks.Stored{}, fmt.Errorf("unmarshal webhook endpoint: item of kind %q", it.Kind)
	}
	return it.stored(), nil
}

func endpointNotFound() error {
	// The id is not repeated: another organisation's id reads like a
	// random one.
	return identification.Errorf(identification.KindNotFound, "no such webhook endpoint in this organisation")
}

// CreateEndpoint stores s's endpoint at version 1 and counts it, in one
// transaction: the count goes up only while it is under
// webhooks.MaxEndpoints, so that registrations at once cannot pass the
// limit together. KindConflict when the organisation has its maximum, or
// when the endpoint's id is taken.
func (s *Store) CreateEndpoint(ctx context.Context, st webhooks.Stored) error {
	e := st.Endpoint
	if e == nil {
		return errors.New("create webhook endpoint: no endpoint")
	}
	it := toEndpointItem(st)
	it.Version = 1
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal webhook endpoint: %w", err)
	}
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                s.table,
			Key:                      endpointCountKey(e.OrgID),
			ConditionExpression:      aws.String("attribute_not_exists(#count) OR #count < :max"),
			UpdateExpression:         aws.String("SET #kind = :kind ADD #count :one"),
			ExpressionAttributeNames: map[string]string{"#count": attrCount, "#kind": attrKind},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":max": number(webhooks.MaxEndpoints), ":one": number(1), ":kind": str(kindWebhookCount)},
		}},
		{Put: &types.Put{
			TableName:                s.table,
			Item:                     av,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		}},
	}
	reasons, err := s.transactRetrying(ctx, items, endpointsBusy)
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", err)
	}
	switch {
	case reasons == nil:
		return nil
	case reasonCode(reasons[0]) == "ConditionalCheckFailed":
		return identification.Errorf(identification.KindConflict, "an organisation has at most %d webhook endpoints", webhooks.MaxEndpoints)
	case reasonCode(reasons[1]) == "ConditionalCheckFailed":
		return identification.Errorf(identification.KindConflict, "webhook endpoint %s already exists", e.ID)
	}
	return fmt.Errorf("create webhook endpoint: transaction cancelled: %s", reasonCodes(reasons))
}

// DeleteEndpoint removes the endpoint and counts it out, in one
// transaction; KindNotFound. Its deliveries log stays until its TTL.
func (s *Store) DeleteEndpoint(ctx context.Context, org, id string) error {
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName:                s.table,
			Key:                      endpointKey(org, id),
			ConditionExpression:      aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		}},
		{Update: &types.Update{
			TableName:                 s.table,
			Key:                       endpointCountKey(org),
			UpdateExpression:          aws.String("SET #kind = :kind ADD #count :minus"),
			ExpressionAttributeNames:  map[string]string{"#count": attrCount, "#kind": attrKind},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minus": number(-1), ":kind": str(kindWebhookCount)},
		}},
	}
	reasons, err := s.transactRetrying(ctx, items, endpointsBusy)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	switch {
	case reasons == nil:
		return nil
	case reasonCode(reasons[0]) == "ConditionalCheckFailed":
		return endpointNotFound()
	}
	return fmt.Errorf("delete webhook endpoint: transaction cancelled: %s", reasonCodes(reasons))
}

// endpointsBusy is what a change of webhook endpoints that kept meeting
// others is told.
const endpointsBusy = "another change of this organisation's webhook endpoints is in progress; retry"

// transactRetrying runs items as one TransactWriteItems, again (after a
// jittered wait) while DynamoDB cancels it only for meeting another
// transaction on one of its items. It returns the cancellation reasons of
// a transaction cancelled for another cause (a condition), nil when it
// was written; KindConflict with the message busy when it kept meeting
// others.
func (s *Store) transactRetrying(ctx context.Context, items []types.TransactWriteItem, busy string) ([]types.CancellationReason, error) {
	wait := conflictBaseWait
	for try := 1; ; try++ {
		// A new input each time: the SDK fills in its ClientRequestToken,
		// which must be new for a new attempt.
		_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			if err != nil {
				return nil, classify("transact write items", err)
			}
			return nil, nil
		}
		reasons := tce.CancellationReasons
		if len(reasons) != len(items) {
			return nil, fmt.Errorf("transact write items: %d cancellation reasons for %d items: %w", len(reasons), len(items), err)
		}
		conflict := false
		for _, r := range reasons {
			switch reasonCode(r) {
			case "ConditionalCheckFailed":
				return reasons, nil
			case "TransactionConflict":
				conflict = true
			}
		}
		if !conflict {
			return nil, classify("transact write items", err)
		}
		if try == conflictRetries {
			return nil, &identification.Error{Kind: identification.KindConflict, Message: busy, Err: err}
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, classify("transact write items", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, conflictMaxWait)
	}
}

func reasonCode(r types.CancellationReason) string { return aws.ToString(r.Code) }

func reasonCodes(reasons []types.CancellationReason) string {
	codes := make([]string, len(reasons))
	for n, r := range reasons {
		codes[n] = reasonCode(r)
	}
	return strings.Join(codes, ", ")
}

// Endpoint reads the endpoint and its sealed secrets, strongly consistent;
// KindNotFound.
func (s *Store) Endpoint(ctx context.Context, org, id string) (webhooks.Stored, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: endpointKey(org, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return webhooks.Stored{}, classify("get webhook endpoint", err)
	}
	if len(out.Item) == 0 {
		return webhooks.Stored{}, endpointNotFound()
	}
	return decodeEndpoint(out.Item)
}

// Endpoints reads every endpoint of org in one strongly consistent Query
// (at most webhooks.MaxEndpoints items of a few KiB: far under a Query's
// 1 MB page), oldest first (then by id).
func (s *Store) Endpoints(ctx context.Context, org string) ([]*webhooks.Endpoint, error) {
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                s.table,
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(webhooksPK(org)), ":prefix": str(skEndpointPrefix)},
	})
	if err != nil {
		return nil, classify("query webhook endpoints", err)
	}
	if out.LastEvaluatedKey != nil {
		return nil, fmt.Errorf("query webhook endpoints of %s: more than one page", org)
	}
	list := make([]*webhooks.Endpoint, 0, len(out.Items))
	for _, av := range out.Items {
		st, err := decodeEndpoint(av)
		if err != nil {
			return nil, err
		}
		list = append(list, st.Endpoint)
	}
	slices.SortFunc(list, func(a, b *webhooks.Endpoint) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return list, nil
}

// updateEndpoint is one UpdateItem of an endpoint that exists, returning
// it as it then is; KindNotFound.
func (s *Store) updateEndpoint(ctx context.Context, op, org, id, update string, names map[string]string, values map[string]types.AttributeValue) (webhooks.Stored, error) {
	names["#pk"] = attrPK
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       endpointKey(org, id),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return webhooks.Stored{}, endpointNotFound()
	}
	if err != nil {
		return webhooks.Stored{}, classify(op, err)
	}
	return decodeEndpoint(out.Attributes)
}

// UpdateEndpoint sets c's non-nil fields at at, version one up, in one
// UpdateItem: enabling removes DisabledReason and FailingSince, disabling
// sets DisabledReason to webhooks.DisabledByOrganisation. An empty description is
// removed. KindNotFound.
func (s *Store) UpdateEndpoint(ctx context.Context, org, id string, c webhooks.Change, at time.Time) (*webhooks.Endpoint, error) {
	names := map[string]string{"#version": attrVersion, "#updated": attrUpdatedAt}
	values := map[string]types.AttributeValue{":one": number(1), ":at": number(at.Unix())}
	set := []string{"#version = #version + :one", "#updated = :at"}
	var remove []string
	if c.URL != nil {
		names["#url"] = attrURL
		values[":url"] = str(*c.URL)
		set = append(set, "#url = :url")
	}
	if c.Events != nil {
		events, err := attributevalue.Marshal(c.Events)
		if err != nil {
			return nil, fmt.Errorf("marshal webhook events: %w", err)
		}
		names["#events"] = attrEvents
		values[":events"] = events
		set = append(set, "#events = :events")
	}
	if c.Description != nil {
		names["#description"] = attrDescription
		if *c.Description == "" {
			remove = append(remove, "#description")
		} else {
			values[":description"] = str(*c.Description)
			set = append(set, "#description = :description")
		}
	}
	if c.Status != nil {
		names["#status"] = attrStatus
		names["#reason"] = attrDisabledReason
		values[":status"] = str(string(*c.Status))
		set = append(set, "#status = :status")
		switch *c.Status {
		case webhooks.StatusEnabled:
			names["#failing"] = attrFailingSince
			remove = append(remove, "#reason", "#failing")
		case webhooks.StatusDisabled:
			values[":reason"] = str(webhooks.DisabledByOrganisation)
			set = append(set, "#reason = :reason")
		default:
			delete(names, "#reason")
		}
	}
	update := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	st, err := s.updateEndpoint(ctx, "update webhook endpoint", org, id, update, names, values)
	if err != nil {
		return nil, err
	}
	return st.Endpoint, nil
}

// RotateSecret makes sealed the endpoint's secret, and the secret it had
// the previous one until at+webhooks.RotationGrace (the previous one it
// had, if any, goes), version one up, in one UpdateItem; KindNotFound.
func (s *Store) RotateSecret(ctx context.Context, org, id, sealed string, at time.Time) (*webhooks.Endpoint, error) {
	// A SET's operands are the item's values before the update: the
	// previous secret is the one being replaced.
	st, err := s.updateEndpoint(ctx, "rotate webhook secret", org, id,
		"SET #previous = #secret, #until = :until, #secret = :secret, #version = #version + :one, #updated = :at",
		map[string]string{"#previous": attrPreviousSecret, "#secret": attrSecret, "#until": attrPreviousUntil,
			"#version": attrVersion, "#updated": attrUpdatedAt},
		map[string]types.AttributeValue{":until": number(at.Add(webhooks.RotationGrace).Unix()), ":secret": str(sealed),
			":one": number(1), ":at": number(at.Unix())})
	if err != nil {
		return nil, err
	}
	return st.Endpoint, nil
}

// Failing sets the endpoint's FailingSince to at unless it is set, in one
// UpdateItem, and returns the endpoint as it then is; KindNotFound. It is
// the sender's bookkeeping, no change of the endpoint by its
// organisation: neither its version nor its updated_at moves (so an
// organisation's change made meanwhile is not refused for it, and the
// endpoint does not read as changed by a failed delivery).
func (s *Store) Failing(ctx context.Context, org, id string, at time.Time) (*webhooks.Endpoint, error) {
	st, err := s.updateEndpoint(ctx, "mark webhook endpoint failing", org, id,
		"SET #failing = if_not_exists(#failing, :at)",
		map[string]string{"#failing": attrFailingSince}, map[string]types.AttributeValue{":at": number(at.Unix())})
	if err != nil {
		return nil, err
	}
	return st.Endpoint, nil
}

// Succeeded removes the endpoint's FailingSince, in one UpdateItem that
// writes only when it is set; an endpoint not failing, or deleted, is no
// error. Like Failing, it is bookkeeping: no version or updated_at moves.
func (s *Store) Succeeded(ctx context.Context, org, id string, at time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                s.table,
		Key:                      endpointKey(org, id),
		ConditionExpression:      aws.String("attribute_exists(#failing)"),
		UpdateExpression:         aws.String("REMOVE #failing"),
		ExpressionAttributeNames: map[string]string{"#failing": attrFailingSince},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	if err != nil {
		return classify("clear webhook endpoint failing", err)
	}
	return nil
}

// Disable disables the endpoint with reason at at, version one up, in one
// UpdateItem, on the condition that it is ENABLED and failing since since
// (to the second, as stored). It returns false when it was not (an attempt
// succeeded meanwhile, the organisation changed its status, or it was
// deleted).
func (s *Store) Disable(ctx context.Context, org, id, reason string, since, at time.Time) (bool, error) {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           s.table,
		Key:                 endpointKey(org, id),
		ConditionExpression: aws.String("#status = :enabled AND #failing = :since"),
		UpdateExpression:    aws.String("SET #status = :disabled, #reason = :reason, #version = #version + :one, #updated = :at"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#failing": attrFailingSince,
			"#reason": attrDisabledReason, "#version": attrVersion, "#updated": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":enabled": str(string(webhooks.StatusEnabled)), ":disabled": str(string(webhooks.StatusDisabled)),
			":since": number(since.Unix()), ":reason": str(reason), ":one": number(1), ":at": number(at.Unix())},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, classify("disable webhook endpoint", err)
	}
	return true, nil
}

// deliveryItem is one delivery of an endpoint's log, with the event it
// delivers (for a replay).
type deliveryItem struct {
	PK               string    `dynamodbav:"pk"`
	SK               string    `dynamodbav:"sk"`
	Kind             string    `dynamodbav:"kind"`
	ID               string    `dynamodbav:"id"`
	EndpointID       string    `dynamodbav:"endpoint_id"`
	Org              string    `dynamodbav:"org"`
	EventType        string    `dynamodbav:"event_type,omitempty"`
	IdentificationID string    `dynamodbav:"identification_id,omitempty"`
	Version          int64     `dynamodbav:"version"`
	Status           string    `dynamodbav:"status"`
	Attempts         int64     `dynamodbav:"attempts"`
	LastStatusCode   int64     `dynamodbav:"last_status_code,omitempty"`
	LastError        string    `dynamodbav:"last_error,omitempty"`
	NextAttemptAt    int64     `dynamodbav:"next_attempt_at,omitempty"`
	DeliveredAt      int64     `dynamodbav:"delivered_at,omitempty"`
	At               int64     `dynamodbav:"at"`
	TTL              int64     `dynamodbav:"ttl"`
	Sandbox          bool      `dynamodbav:"sandbox,omitempty"`
	Event            eventItem `dynamodbav:"event"`
}

// eventItem is an identification.Event as a delivery keeps it: every
// field, its DetailType too, and its time to the nanosecond (RFC 3339).
type eventItem struct {
	DetailType string       `dynamodbav:"detail_type,omitempty"`
	OrgID      string       `dynamodbav:"org_id,omitempty"`
	ID         string       `dynamodbav:"id,omitempty"`
	Type       string       `dynamodbav:"type,omitempty"`
	Status     string       `dynamodbav:"status,omitempty"`
	Previous   string       `dynamodbav:"previous_status,omitempty"`
	Step       *stepRefItem `dynamodbav:"step,omitempty"`
	Evidence   string       `dynamodbav:"evidence_kind,omitempty"`
	Version    int64        `dynamodbav:"version"`
	At         string       `dynamodbav:"at,omitempty"`
}

type stepRefItem struct {
	Position int64  `dynamodbav:"position"`
	Type     string `dynamodbav:"identification_type,omitempty"`
	Status   string `dynamodbav:"status,omitempty"`
}

func toEventItem(e identification.Event) (eventItem, error) {
	it := eventItem{DetailType: e.DetailType, OrgID: e.OrgID, ID: e.ID, Type: string(e.Type), Status: string(e.Status),
		Previous: string(e.Previous), Evidence: string(e.Evidence), Version: e.Version}
	if !e.At.IsZero() {
		at, err := e.At.UTC().MarshalText()
		if err != nil {
			return eventItem{}, fmt.Errorf("marshal event time: %w", err)
		}
		it.At = string(at)
	}
	if st := e.Step; st != nil {
		it.Step = &stepRefItem{Position: int64(st.Position), Type: st.Type, Status: st.Status}
	}
	return it, nil
}

func (it eventItem) event() (identification.Event, error) {
	e := identification.Event{DetailType: it.DetailType, OrgID: it.OrgID, ID: it.ID, Type: identification.Type(it.Type),
		Status: identification.Status(it.Status), Previous: identification.Status(it.Previous),
		Evidence: identification.EvidenceKind(it.Evidence), Version: it.Version}
	if it.At != "" {
		if err := e.At.UnmarshalText([]byte(it.At)); err != nil {
			return identification.Event{}, fmt.Errorf("unmarshal event time: %w", err)
		}
	}
	if st := it.Step; st != nil {
		e.Step = &identification.StepRef{Position: int(st.Position), Type: st.Type, Status: st.Status}
	}
	return e, nil
}

func (it deliveryItem) delivery() webhooks.Delivery {
	return webhooks.Delivery{
		ID: it.ID, EndpointID: it.EndpointID, OrgID: it.Org, EventType: it.EventType, IdentificationID: it.IdentificationID,
		Version: it.Version, Status: webhooks.DeliveryStatus(it.Status), Attempts: int(it.Attempts),
		LastStatusCode: int(it.LastStatusCode), LastError: it.LastError,
		NextAttemptAt: timePtr(it.NextAttemptAt), DeliveredAt: timePtr(it.DeliveredAt), At: fromUnix(it.At), Sandbox: it.Sandbox,
	}
}

func decodeDelivery(av map[string]types.AttributeValue) (deliveryItem, error) {
	var it deliveryItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return deliveryItem{}, fmt.Errorf("unmarshal webhook delivery: %w", err)
	}
	if it.Kind != kindWebhookDelivery {
		return deliveryItem{}, fmt.Errorf("unmarshal webhook delivery: item of kind %q", it.Kind)
	}
	return it, nil
}

// SaveDelivery writes d with e, replacing what the log held of d, in one
// PutItem; it goes (TTL) webhooks.DeliveryRetention after d.At.
func (s *Store) SaveDelivery(ctx context.Context, d webhooks.Delivery, e identification.Event) error {
	ev, err := toEventItem(e)
	if err != nil {
		return err
	}
	it := deliveryItem{
		PK: webhookDeliveriesPK(d.OrgID, d.EndpointID), SK: skWebhookDeliveryPrefix + d.ID, Kind: kindWebhookDelivery,
		ID: d.ID, EndpointID: d.EndpointID, Org: d.OrgID, EventType: d.EventType, IdentificationID: d.IdentificationID,
		Version: d.Version, Status: string(d.Status), Attempts: int64(d.Attempts),
		LastStatusCode: int64(d.LastStatusCode), LastError: d.LastError,
		NextAttemptAt: unixPtr(d.NextAttemptAt), DeliveredAt: unixPtr(d.DeliveredAt), At: unix(d.At),
		TTL: d.At.Add(webhooks.DeliveryRetention).Unix(), Sandbox: d.Sandbox, Event: ev,
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal webhook delivery: %w", err)
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: s.table, Item: av}); err != nil {
		return classify("put webhook delivery", err)
	}
	return nil
}

// Delivery reads one delivery of the endpoint and its event, strongly
// consistent; KindNotFound.
func (s *Store) Delivery(ctx context.Context, org, endpoint, id string) (webhooks.Delivery, identification.Event, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: webhookDeliveryKey(org, endpoint, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return webhooks.Delivery{}, identification.Event{}, classify("get webhook delivery", err)
	}
	if len(out.Item) == 0 {
		return webhooks.Delivery{}, identification.Event{}, identification.Errorf(identification.KindNotFound, "no such delivery of this webhook endpoint")
	}
	it, err := decodeDelivery(out.Item)
	if err != nil {
		return webhooks.Delivery{}, identification.Event{}, err
	}
	e, err := it.Event.event()
	if err != nil {
		return webhooks.Delivery{}, identification.Event{}, err
	}
	return it.delivery(), e, nil
}

// Deliveries reads a page of the endpoint's log, newest first, in one
// Query of limit+1 items (the one more says whether more follow): from
// the start, or after after (the last id of the previous page). A page
// the Query's 1 MB cut short says more follow too.
func (s *Store) Deliveries(ctx context.Context, org, endpoint string, limit int, after string) ([]webhooks.Delivery, bool, error) {
	if limit <= 0 {
		return nil, false, fmt.Errorf("query webhook deliveries: limit %d", limit)
	}
	cond := "#pk = :pk AND begins_with(#sk, :sk)"
	sk := skWebhookDeliveryPrefix
	if after != "" {
		cond = "#pk = :pk AND #sk < :sk"
		sk += after
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 s.table,
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(webhookDeliveriesPK(org, endpoint)), ":sk": str(sk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(min(limit, 1<<30) + 1)),
	})
	if err != nil {
		return nil, false, classify("query webhook deliveries", err)
	}
	more := len(out.Items) > limit || out.LastEvaluatedKey != nil
	page := make([]webhooks.Delivery, 0, min(len(out.Items), limit))
	for _, av := range out.Items[:min(len(out.Items), limit)] {
		it, err := decodeDelivery(av)
		if err != nil {
			return nil, false, err
		}
		page = append(page, it.delivery())
	}
	return page, more, nil
}
