package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// Shards is the number of partition values of the open-process index.
func (s *Store) Shards() int { return s.shards }

// Due returns one page of the open processes in shard whose expiry is at or
// before now, read from the sparse open-by-expiry index (one Query; never a
// Scan). cursor is "" for the first page; the returned cursor is "" after
// the last. The index is eventually consistent: a process ended a moment ago
// may still be listed, which the conditional expire write then refuses.
// The cursor is opaque to callers.
func (s *Store) Due(ctx context.Context, shard int, now time.Time, limit int32, cursor any) ([]identification.Ref, any, error) {
	start, _ := cursor.(map[string]types.AttributeValue)
	keyCond := expression.Key(attrOpenShard).Equal(expression.Value(shardName(shard))).
		And(expression.Key(attrOpenExpiresAt).LessThanEqual(expression.Value(now.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build due query: %w", err)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 s.table,
		IndexName:                 aws.String(OpenIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		Limit:                     aws.Int32(limit),
	})
	if err != nil {
		return nil, nil, classify("query open index", err)
	}
	refs := make([]identification.Ref, 0, len(out.Items))
	for _, it := range out.Items {
		pk, ok := it[attrPK].(*types.AttributeValueMemberS)
		if !ok {
			return nil, nil, fmt.Errorf("open index item without %s", attrPK)
		}
		ref, err := parseKey(pk.Value)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, ref)
	}
	if len(out.LastEvaluatedKey) == 0 {
		return refs, nil, nil
	}
	return refs, out.LastEvaluatedKey, nil
}

// parseKey is the inverse of partitionKey. Org names cannot hold '#'.
func parseKey(pk string) (identification.Ref, error) {
	parts := strings.Split(pk, "#")
	if len(parts) != 4 || parts[0] != "ORG" {
		return identification.Ref{}, fmt.Errorf("malformed key %q", pk)
	}
	return identification.Ref{Org: parts[1], Type: identification.Type(parts[2]), ID: parts[3]}, nil
}

// Retention is how long a record is kept after it ended.
func (s *Store) Retention() time.Duration { return s.retention }

// Keeping reads the bookkeeping the item under ref carries (its place in
// the open index and its TTL), strongly consistent; KindNotFound when
// there is no process under ref. Operators and the contract tests use it
// to see that the open index and the TTL follow the process.
func (s *Store) Keeping(ctx context.Context, ref identification.Ref) (identification.Keeping, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table, Key: keyAttr(ref), ConsistentRead: aws.Bool(true),
		ProjectionExpression:     aws.String("#k, #s, #o, #t"),
		ExpressionAttributeNames: map[string]string{"#k": attrKind, "#s": attrOpenShard, "#o": attrOpenExpiresAt, "#t": attrTTL},
	})
	if err != nil {
		return identification.Keeping{}, classify("get item", err)
	}
	var it struct {
		Kind          string `dynamodbav:"kind"`
		OpenShard     string `dynamodbav:"open_shard"`
		OpenExpiresAt int64  `dynamodbav:"open_expires_at"`
		TTL           int64  `dynamodbav:"ttl"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return identification.Keeping{}, fmt.Errorf("unmarshal keeping: %w", err)
	}
	if it.Kind != kindProcess {
		return identification.Keeping{}, notFound(ref)
	}
	k := identification.Keeping{Open: it.OpenShard != "", Until: time.Unix(it.TTL, 0).UTC()}
	if it.OpenExpiresAt != 0 {
		k.OpenUntil = time.Unix(it.OpenExpiresAt, 0).UTC()
	}
	return k, nil
}
