package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/identification"
)

// The sending guard's items (package guard; the key schema is in item.go):
//
//	pk = ORG#<org>#GUARD#<counter key>   sk = C                         a counter (kind guard-counter)
//	pk = ORG#<org>#GUARDEVENTS#<shard>   sk = E#<unix ns, 20 digits>#<8 hex>  an event (kind guard-event)
//
// A counter's key holds keyed hashes, never a destination or a number; it
// is kept a day past its window (ttl). The events of an organisation are
// split over guard.Shards partitions, as its budgets are, so that a flood
// of refused sends takes no hot key; a page Queries each, newest first,
// and merges them. An event is kept GuardEventRetention. None of them
// has sort key P or kind process or tombstone: the table's stream filter
// lets none through (a counter's change is no event of a process), and
// none has an attribute an index keys on.
const (
	skGuardCounter   = "C"
	kindGuardCounter = "guard-counter"
	kindGuardEvent   = "guard-event"
	// GuardEventRetention is how long a guard event is kept.
	GuardEventRetention = 30 * 24 * time.Hour
)

var _ guard.Store = (*Store)(nil)

func guardCounterKey(c guard.Counter) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str("ORG#" + c.Org + "#GUARD#" + c.Key), attrSK: str(skGuardCounter)}
}

// Count adds one to each of c's fields, in one UpdateItem: with enforce,
// on the condition that each field with a limit is below it
// (guard.Store).
func (s *Store) Count(ctx context.Context, c guard.Counter, enforce bool) (bool, map[string]int64, error) {
	var cond *expression.ConditionBuilder
	upd := expression.Set(name(attrKind), expression.Value(kindGuardCounter)).
		Set(name("org"), expression.Value(c.Org)).
		Set(name(attrTTL), expression.Value(c.Expires.Add(24*time.Hour).Unix()))
	for _, f := range c.Fields {
		upd = upd.Add(name(f.Name), expression.Value(1))
		if enforce && f.Limit > 0 {
			below := expression.Or(expression.AttributeNotExists(name(f.Name)), name(f.Name).LessThan(expression.Value(f.Limit)))
			if cond == nil {
				cond = &below
			} else {
				both := cond.And(below)
				cond = &both
			}
		}
	}
	b := expression.NewBuilder().WithUpdate(upd)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	expr, err := b.Build()
	if err != nil {
		return false, nil, fmt.Errorf("build guard count: %w", err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.table,
		Key:                                 guardCounterKey(c),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, counts(ccf.Item, c), nil
	case err != nil:
		return false, nil, classify("guard count", err)
	}
	return true, counts(out.Attributes, c), nil
}

// counts reads c's fields of av (0 for one absent).
func counts(av map[string]types.AttributeValue, c guard.Counter) map[string]int64 {
	out := make(map[string]int64, len(c.Fields))
	for _, f := range c.Fields {
		if n, ok := av[f.Name].(*types.AttributeValueMemberN); ok {
			out[f.Name], _ = strconv.ParseInt(n.Value, 10, 64)
		}
	}
	return out
}

// Uncount takes one back from each of c's fields (guard.Store).
func (s *Store) Uncount(ctx context.Context, c guard.Counter) error {
	upd := expression.UpdateBuilder{}
	for _, f := range c.Fields {
		upd = upd.Add(name(f.Name), expression.Value(-1))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).
		WithCondition(expression.AttributeExists(name(attrPK))).Build()
	if err != nil {
		return fmt.Errorf("build guard uncount: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       guardCounterKey(c),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if err == nil || errors.As(err, &ccf) {
		return nil // or gone with its window
	}
	return classify("guard uncount", err)
}

// guardEventItem is one guard event as stored.
type guardEventItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Kind    string `dynamodbav:"kind"`
	Org     string `dynamodbav:"org"`
	At      int64  `dynamodbav:"at_ns"`
	Rule    string `dynamodbav:"rule"`
	Mode    string `dynamodbav:"mode"`
	Channel string `dynamodbav:"channel"`
	Country string `dynamodbav:"country,omitempty"`
	Prefix  string `dynamodbav:"prefix,omitempty"`
	Type    string `dynamodbav:"type,omitempty"`
	ID      string `dynamodbav:"id,omitempty"`
	TTL     int64  `dynamodbav:"ttl"`
}

func guardEventsPK(org string, shard int) string {
	return "ORG#" + org + "#GUARDEVENTS#" + strconv.Itoa(shard)
}

// guardEventSK is an event's sort key: its time, then 8 random hex
// digits, so that two events of one nanosecond are both kept.
var guardEventSK = regexp.MustCompile(`^E#[0-9]{20}#[0-9a-f]{8}$`)

// RecordGuardEvent keeps e in one of the organisation's guard.Shards
// partitions (guard.Store).
func (s *Store) RecordGuardEvent(ctx context.Context, e guard.Event) error {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	shard := int(r[0]) % guard.Shards
	it := guardEventItem{PK: guardEventsPK(e.Org, shard), SK: fmt.Sprintf("E#%020d#%s", e.At.UnixNano(), hex.EncodeToString(r[:])),
		Kind: kindGuardEvent, Org: e.Org, At: e.At.UnixNano(), Rule: e.Rule, Mode: e.Mode, Channel: e.Channel,
		Country: e.Country, Prefix: e.Prefix, Type: string(e.Type), ID: e.ID, TTL: e.At.Add(GuardEventRetention).Unix()}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("marshal guard event: %w", err)
	}
	// An UpdateItem that sets every attribute of a new key is a put:
	// the routes whose codes the guard checks all have UpdateItem, and
	// not all of them PutItem.
	upd := expression.UpdateBuilder{}
	for _, k := range slices.Sorted(maps.Keys(av)) {
		if k != attrPK && k != attrSK {
			upd = upd.Set(name(k), expression.Value(av[k]))
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return fmt.Errorf("build guard event: %w", err)
	}
	if _, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table,
		Key:              map[string]types.AttributeValue{attrPK: av[attrPK], attrSK: av[attrSK]},
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}); err != nil {
		return classify("record guard event", err)
	}
	return nil
}

// GuardEvents lists a page of org's guard events, newest first, below the
// cursor before: one Query of each of the guard.Shards partitions, at once,
// merged by time (guard.Store). The cursor is the last event's sort key;
// one not of that form is guard.ErrBadCursor.
func (s *Store) GuardEvents(ctx context.Context, org string, limit int, before string) ([]guard.Event, string, error) {
	if before != "" && !guardEventSK.MatchString(before) {
		return nil, "", guard.ErrBadCursor
	}
	upper := before
	if upper == "" {
		upper = "E$" // above every E#…
	}
	lists := make([][]guardEventItem, guard.Shards)
	errs := make([]error, guard.Shards)
	var wg sync.WaitGroup
	for shard := range guard.Shards {
		wg.Go(func() {
			key := expression.Key(attrPK).Equal(expression.Value(guardEventsPK(org, shard))).
				And(expression.Key(attrSK).Between(expression.Value("E#"), expression.Value(upper)))
			expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
			if err != nil {
				errs[shard] = err
				return
			}
			out, err := s.client.Query(ctx, &dynamodb.QueryInput{
				TableName: s.table, KeyConditionExpression: expr.KeyCondition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
				ScanIndexForward: aws.Bool(false), Limit: aws.Int32(int32(limit + 2)),
			})
			if err != nil {
				errs[shard] = classify("query guard events", err)
				return
			}
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &lists[shard]); err != nil {
				errs[shard] = fmt.Errorf("unmarshal guard events: %w", err)
			}
		})
	}
	wg.Wait()
	var all []guardEventItem
	for shard, l := range lists {
		if errs[shard] != nil {
			return nil, "", errs[shard]
		}
		for _, it := range l {
			if it.SK != before && it.Kind == kindGuardEvent {
				all = append(all, it)
			}
		}
	}
	slices.SortFunc(all, func(a, b guardEventItem) int { return strings.Compare(b.SK, a.SK) }) // newest first
	next := ""
	if len(all) > limit {
		all = all[:limit]
		next = all[limit-1].SK
	}
	out := make([]guard.Event, len(all))
	for n, it := range all {
		out[n] = guard.Event{Org: it.Org, At: time.Unix(0, it.At).UTC(), Rule: it.Rule, Mode: it.Mode, Channel: it.Channel,
			Country: it.Country, Prefix: it.Prefix, Type: identification.Type(it.Type), ID: it.ID}
	}
	return out, next, nil
}

// attrBlockPublished is when a guard event's block was published (the stream
// processor's mark on the event's own item: a MODIFY record, which the
// stream filter lets through only as an INSERT, wakes nothing).
const attrBlockPublished = "published_at"

// decodeGuardBlock reads a guard event's image as the stream shows it.
func decodeGuardBlock(av map[string]types.AttributeValue) (identification.StoredItem, error) {
	var it guardEventItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return identification.StoredItem{}, fmt.Errorf("unmarshal guard event: %w", err)
	}
	if it.Org == "" || !guardEventSK.MatchString(it.SK) {
		return identification.StoredItem{}, fmt.Errorf("guard event %q: not one this store wrote", it.SK)
	}
	return identification.StoredItem{Ref: identification.Ref{Org: it.Org, Type: identification.Type(it.Type), ID: it.ID},
		Block: &identification.GuardBlock{Key: [2]string{it.PK, it.SK}, Org: it.Org, At: time.Unix(0, it.At).UTC(),
			Rule: it.Rule, Mode: it.Mode, Channel: it.Channel, Country: it.Country, Type: identification.Type(it.Type), ID: it.ID}}, nil
}

// BlockPublished reports whether b's events were published (a strongly
// consistent read of its item).
func (s *Store) BlockPublished(ctx context.Context, b *identification.GuardBlock) (bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, ConsistentRead: aws.Bool(true),
		Key:                  map[string]types.AttributeValue{attrPK: str(b.Key[0]), attrSK: str(b.Key[1])},
		ProjectionExpression: aws.String(attrBlockPublished)})
	if err != nil {
		return false, classify("read guard event", err)
	}
	_, done := out.Item[attrBlockPublished]
	return done, nil
}

// MarkBlockPublished records that b's events were published: true for the
// one caller whose mark landed (false when it was marked already, or is
// gone with its retention).
func (s *Store) MarkBlockPublished(ctx context.Context, b *identification.GuardBlock, at time.Time) (bool, error) {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table,
		Key:                       map[string]types.AttributeValue{attrPK: str(b.Key[0]), attrSK: str(b.Key[1])},
		UpdateExpression:          aws.String("SET #p = :at"),
		ConditionExpression:       aws.String("attribute_exists(#k) AND attribute_not_exists(#p)"),
		ExpressionAttributeNames:  map[string]string{"#p": attrBlockPublished, "#k": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		return false, nil
	case err != nil:
		return false, classify("mark guard event published", err)
	}
	return true, nil
}
