package app

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
	"github.com/idadmin/api/shared/webhooks"
)

// StreamName is the stream function's name (its directory under
// functions/); it is fed by the table's stream, not by a route.
const StreamName = "stream"

// StreamFunc is what the stream function hands to lambda.Start: a batch of
// stream records in, the records to retry out (a partial batch response).
type StreamFunc = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamWiring is what a stream function's main chooses: the code keys, a
// sender per channel, the publisher. Choosing them in main keeps the
// providers' clients out of every other function's binary.
type StreamWiring struct {
	Keys      *identification.CodeKeys
	Senders   map[string]identification.Sender
	Publisher identification.Publisher
	// Evidence is the evidence bucket, whose images a deleted process's
	// tombstone removes.
	Evidence identification.EvidenceObjects
	// Webhooks is the webhook queue: each event is also queued for every
	// endpoint of its organisation that wants it (webhooks.Fanout).
	Webhooks webhooks.Queue
}

// NewStreamHandler returns the stream function's handler: the records of a
// batch, in order, through the processor. When one fails, it and the rest
// are reported back (ReportBatchItemFailures), so Lambda retries from it:
// per process, everything still happens in version order.
func NewStreamHandler(p *stream.Processor) StreamFunc {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		recs := make([]stream.Record, len(ev.Records))
		for i, r := range ev.Records {
			recs[i] = stream.Record{EventName: r.EventName, Old: FromLambdaImage(r.Change.OldImage), New: FromLambdaImage(r.Change.NewImage)}
		}
		n, err := p.Process(ctx, recs)
		if err == nil {
			return events.DynamoDBEventResponse{}, nil
		}
		if p.Logger != nil {
			p.Logger.ErrorContext(ctx, "stream record failed", "error", err.Error(), "failed_at", n, "batch", len(recs))
		}
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
			{ItemIdentifier: ev.Records[n].Change.SequenceNumber}}}, nil
	}
}

// StreamLambda is the whole main of the stream function: it refuses to run
// outside Lambda, builds the store, the processor and what wire returns
// once, and serves the batches.
func StreamLambda(wire func(ctx context.Context, cfg Config) (StreamWiring, error)) {
	h, err := streamFromEnv(os.Stdout, wire)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", StreamName, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func streamFromEnv(logs io.Writer, wire func(ctx context.Context, cfg Config) (StreamWiring, error)) (StreamFunc, error) {
	if os.Getenv(RuntimeAPIEnv) == "" {
		return nil, notInLambda(StreamName)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	w, err := wire(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	logger := NewLambdaLogger(logs, cfg.LogLevel)
	deps := NewDeps(cfg, NewDynamoDB(cfg), logger)
	publisher := w.Publisher
	if w.Webhooks != nil {
		publisher = Publishers(w.Publisher, &webhooks.Fanout{Endpoints: deps.Dynamo, Queue: w.Webhooks})
	}
	return NewStreamHandler(&stream.Processor{Store: deps.Dynamo, Decoder: deps.Dynamo, Keys: w.Keys, Senders: w.Senders, Publisher: publisher, Evidence: w.Evidence, Logger: logger,
		Texts: deps.SettingsCache, Blocks: deps.Dynamo, Stats: deps.Dynamo, Countries: numbers.CountryOf}), nil
}

// FromLambdaImage turns a stream image as Lambda delivers it into the
// DynamoDB attribute values the store's decoder reads.
func FromLambdaImage(m map[string]events.DynamoDBAttributeValue) map[string]types.AttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(m))
	for k, v := range m {
		out[k] = fromLambda(v)
	}
	return out
}

func fromLambda(v events.DynamoDBAttributeValue) types.AttributeValue {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}
	case events.DataTypeMap:
		return &types.AttributeValueMemberM{Value: FromLambdaImage(v.Map())}
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			out[i] = fromLambda(e)
		}
		return &types.AttributeValueMemberL{Value: out}
	}
	return &types.AttributeValueMemberNULL{Value: true}
}
