package dynamostore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/idadmin/api/shared/stats"
)

// The statistics' items (package stats; the key schema is in item.go):
//
//	pk = ORG#<org>#STATS#<shard>   sk = H#<yyyymmddhh>   one hour's counts (kind stats)
//
// Each write adds a batch's counts to one of StatsShards items of the
// hour, chosen at random, so that the stream processors of one large
// organisation add to several keys; a read Queries each shard over the
// hours asked and adds them up. An item's attributes are its counters
// (stats.Counts' names: a metric, a dimension and a closed value, never an
// actor's); it is kept StatsRetention, in no index and out of the stream
// function's filter.
const (
	kindStats = "stats"
	// StatsShards is how many items one organisation's hour is split over.
	StatsShards = 8
	// StatsRetention is how long an hour's counts are kept.
	StatsRetention = 400 * 24 * time.Hour
	// statsPerWrite is the most counters one UpdateItem adds (its
	// expression, about 14 bytes a counter, stays below DynamoDB's 4 KB).
	statsPerWrite = 250
)

// onlyThrottles retries a statistics write only when DynamoDB refused it
// for throughput (it was not applied): an ADD is not idempotent, and a
// retry after a timeout or a 500, which may have been applied, could count
// twice. Any other failure loses the write's counts (docs/api.md#statistics).
func onlyThrottles(o *dynamodb.Options) {
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			var ae smithy.APIError
			if errors.As(err, &ae) {
				switch ae.ErrorCode() {
				case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
					return aws.TrueTernary
				}
			}
			return aws.FalseTernary
		})}
	})
}

var (
	_ stats.Adder  = (*Store)(nil)
	_ stats.Reader = (*Store)(nil)
)

func statsPK(org string, shard int) string { return "ORG#" + org + "#STATS#" + strconv.Itoa(shard) }

func statsSK(hour time.Time) string { return "H#" + hour.UTC().Format("2006010215") }

// AddStats adds c to org's hour (stats.Adder): one UpdateItem per hundred
// counters, on one of the hour's shards.
func (s *Store) AddStats(ctx context.Context, org string, hour time.Time, c stats.Counts) error {
	var r [1]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	hour = hour.UTC().Truncate(time.Hour)
	key := map[string]types.AttributeValue{attrPK: str(statsPK(org, int(r[0])%StatsShards)), attrSK: str(statsSK(hour))}
	names := slices.Sorted(maps.Keys(c))
	for len(names) > 0 {
		part := names[:min(len(names), statsPerWrite)]
		names = names[len(part):]
		upd := expression.Set(name(attrKind), expression.Value(kindStats)).
			Set(name("org"), expression.Value(org)).
			Set(name(attrTTL), expression.Value(hour.Add(StatsRetention).Unix()))
		for _, n := range part {
			upd = upd.Add(name(n), expression.Value(c[n]))
		}
		expr, err := expression.NewBuilder().WithUpdate(upd).Build()
		if err != nil {
			return fmt.Errorf("build stats add: %w", err)
		}
		if _, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: s.table, Key: key,
			UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}, onlyThrottles); err != nil {
			return classify("add stats", err)
		}
	}
	return nil
}

// Stats reads org's hours in [from, to) (stats.Reader): a Query of each
// shard, paged, added up per hour.
func (s *Store) Stats(ctx context.Context, org string, from, to time.Time) ([]stats.Hour, error) {
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	if !from.Before(to) {
		return nil, nil
	}
	// Each shard's pages are added up as they come: a long span of a busy
	// organisation is thousands of items, never all held at once.
	sums := make([]map[string]stats.Counts, StatsShards)
	errs := make([]error, StatsShards)
	var wg sync.WaitGroup
	for shard := range StatsShards {
		wg.Go(func() {
			sums[shard] = map[string]stats.Counts{}
			key := expression.Key(attrPK).Equal(expression.Value(statsPK(org, shard))).
				And(expression.Key(attrSK).Between(expression.Value(statsSK(from)), expression.Value(statsSK(to.Add(-time.Hour)))))
			expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
			if err != nil {
				errs[shard] = err
				return
			}
			in := &dynamodb.QueryInput{TableName: s.table, KeyConditionExpression: expr.KeyCondition(),
				ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
			for {
				out, err := s.client.Query(ctx, in)
				if err != nil {
					errs[shard] = classify("query stats", err)
					return
				}
				for _, it := range out.Items {
					addStatsItem(sums[shard], it)
				}
				if len(out.LastEvaluatedKey) == 0 {
					return
				}
				in.ExclusiveStartKey = out.LastEvaluatedKey
			}
		})
	}
	wg.Wait()
	byHour := map[string]stats.Counts{}
	for shard, sum := range sums {
		if errs[shard] != nil {
			return nil, errs[shard]
		}
		for sk, c := range sum {
			if byHour[sk] == nil {
				byHour[sk] = stats.Counts{}
			}
			for n, v := range c {
				byHour[sk][n] += v
			}
		}
	}
	out := make([]stats.Hour, 0, len(byHour))
	for _, sk := range slices.Sorted(maps.Keys(byHour)) {
		at, err := time.Parse("2006010215", strings.TrimPrefix(sk, "H#"))
		if err != nil {
			return nil, fmt.Errorf("stats item %s: %w", sk, err)
		}
		out = append(out, stats.Hour{At: at.UTC(), Counts: byHour[sk]})
	}
	return out, nil
}

// addStatsItem adds a stored hour's counters to sum, by its sort key.
func addStatsItem(sum map[string]stats.Counts, it map[string]types.AttributeValue) {
	if k, ok := it[attrKind].(*types.AttributeValueMemberS); !ok || k.Value != kindStats {
		return
	}
	sk, _ := it[attrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return
	}
	c := sum[sk.Value]
	if c == nil {
		c = stats.Counts{}
		sum[sk.Value] = c
	}
	for n, v := range it {
		num, ok := v.(*types.AttributeValueMemberN)
		if !ok || !strings.Contains(n, "|") {
			continue
		}
		if x, err := strconv.ParseInt(num.Value, 10, 64); err == nil {
			c[n] += x
		}
	}
}
