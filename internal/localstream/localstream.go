// Package localstream reads a local engine's DynamoDB stream (dynoxide and
// DynamoDB Local both keep one) and feeds its records to the stream
// processor, as the stream function's event source mapping does in AWS,
// through the same event filter (dynamostore.StreamFilterPatterns): the dev
// server's and the tests' entry point to package stream.
package localstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/stream"
)

// Reader follows every shard of one table's stream from its oldest record.
type Reader struct {
	client    *dynamodbstreams.Client
	streamARN string
	iterators map[string]*string // by shard id; nil once a shard is closed and drained
	logger    *slog.Logger
	filter    *Filter
	mu        sync.Mutex
	dropped   int
}

// StreamFilter is the filter of the stream function's event source mapping
// (dynamostore.StreamFilterPatterns), which New applies.
func StreamFilter() *Filter {
	f, err := ParseFilters(dynamostore.StreamFilterPatterns...)
	if err != nil {
		panic(err) // TestStreamFilterParses
	}
	return f
}

// New opens the stream of table, filtered as the stream function's event
// source mapping filters it (StreamFilter): only the records of process
// items and the sending guard's new records, never those of the stream
// processor's bookkeeping. streams is a
// client on the engine's endpoint; db reads the table's stream ARN.
func New(ctx context.Context, db *dynamodb.Client, streams *dynamodbstreams.Client, table string, logger *slog.Logger) (*Reader, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("localstream: describe %s: %w", table, err)
	}
	if out.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("localstream: table %s has no stream", table)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Reader{client: streams, streamARN: *out.Table.LatestStreamArn, iterators: map[string]*string{}, logger: logger,
		filter: StreamFilter()}, nil
}

// SetFilter makes r hand over only the records f admits; nil hands over
// every record the stream holds (to count what the table's stream holds).
func (r *Reader) SetFilter(f *Filter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.filter = f
}

// Dropped is how many records the filter has kept from the processor.
func (r *Reader) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

func (r *Reader) admits(rec types.Record) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.filter == nil || r.filter.Admits(rec) {
		return true
	}
	r.dropped++
	return false
}

// Poll reads every record that arrived since the last poll, in order per
// shard, and returns those its filter admits.
func (r *Reader) Poll(ctx context.Context) ([]stream.Record, error) {
	desc, err := r.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(r.streamARN)})
	if err != nil {
		return nil, fmt.Errorf("localstream: describe stream: %w", err)
	}
	var out []stream.Record
	for _, sh := range desc.StreamDescription.Shards {
		id := aws.ToString(sh.ShardId)
		it, known := r.iterators[id]
		if known && it == nil {
			continue
		}
		if !known {
			got, err := r.client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(r.streamARN), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return nil, fmt.Errorf("localstream: shard iterator: %w", err)
			}
			it = got.ShardIterator
		}
		for it != nil {
			recs, err := r.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return nil, fmt.Errorf("localstream: get records: %w", err)
			}
			for _, rec := range recs.Records {
				if r.admits(rec) {
					out = append(out, convertRecord(rec))
				}
			}
			next := recs.NextShardIterator
			if len(recs.Records) == 0 || next == nil {
				it = next
				break
			}
			it = next
		}
		r.iterators[id] = it
	}
	return out, nil
}

// Processor is what Run hands records to (a *stream.Processor).
type Processor interface {
	Process(ctx context.Context, records []stream.Record) (int, error)
}

// Run polls every interval and hands what it read to p, until ctx ends: one
// call of p per poll that read a record the filter admits, as Lambda
// invokes the function only for a batch that holds one. A batch p fails on
// is handed again, from the record that failed, at the next poll, as
// Lambda retries a batch.
func (r *Reader) Run(ctx context.Context, p Processor, every time.Duration) {
	var pending []stream.Record
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		recs, err := r.Poll(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			r.logger.WarnContext(ctx, "stream poll failed", slog.String("error", err.Error()))
		}
		pending = append(pending, recs...)
		if len(pending) > 0 {
			n, err := p.Process(ctx, pending)
			pending = pending[n:]
			if err != nil {
				r.logger.WarnContext(ctx, "stream processing failed; retrying", slog.String("error", err.Error()))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func convertRecord(rec types.Record) stream.Record {
	out := stream.Record{EventName: string(rec.EventName)}
	if rec.Dynamodb != nil {
		out.Old = convertMap(rec.Dynamodb.OldImage)
		out.New = convertMap(rec.Dynamodb.NewImage)
	}
	return out
}

func convertMap(m map[string]types.AttributeValue) map[string]ddbtypes.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]ddbtypes.AttributeValue, len(m))
	for k, v := range m {
		out[k] = convert(v)
	}
	return out
}

// convert turns a DynamoDB Streams attribute value into the DynamoDB one it
// is (the two SDK packages have the same types, named twice).
func convert(v types.AttributeValue) ddbtypes.AttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return &ddbtypes.AttributeValueMemberS{Value: x.Value}
	case *types.AttributeValueMemberN:
		return &ddbtypes.AttributeValueMemberN{Value: x.Value}
	case *types.AttributeValueMemberB:
		return &ddbtypes.AttributeValueMemberB{Value: x.Value}
	case *types.AttributeValueMemberBOOL:
		return &ddbtypes.AttributeValueMemberBOOL{Value: x.Value}
	case *types.AttributeValueMemberNULL:
		return &ddbtypes.AttributeValueMemberNULL{Value: x.Value}
	case *types.AttributeValueMemberSS:
		return &ddbtypes.AttributeValueMemberSS{Value: x.Value}
	case *types.AttributeValueMemberNS:
		return &ddbtypes.AttributeValueMemberNS{Value: x.Value}
	case *types.AttributeValueMemberBS:
		return &ddbtypes.AttributeValueMemberBS{Value: x.Value}
	case *types.AttributeValueMemberM:
		return &ddbtypes.AttributeValueMemberM{Value: convertMap(x.Value)}
	case *types.AttributeValueMemberL:
		l := make([]ddbtypes.AttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = convert(e)
		}
		return &ddbtypes.AttributeValueMemberL{Value: l}
	}
	return &ddbtypes.AttributeValueMemberNULL{Value: true}
}
