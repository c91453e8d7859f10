package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/webhooks"
)

// SenderName is the webhook sender function's name (its directory under
// functions/); it is fed by the SQS FIFO queue of webhook deliveries.
const SenderName = "webhook-sender"

// SQSBatch is what the sender's queue adapter does with one event of the
// queue: read it into received messages, and settle their outcomes into
// Lambda's partial batch response (shared/sqs: ReadEvent and Settle).
type SQSBatch interface {
	Read(ev events.SQSEvent, now time.Time) []webhooks.Received
	Settle(ctx context.Context, outcomes []webhooks.Outcome, now time.Time) (events.SQSEventResponse, error)
}

// SenderFunc is what the webhook sender hands to lambda.Start.
type SenderFunc = func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// NewSenderHandler returns the sender function's handler: each event's
// messages through s, in order, and their outcomes back to the queue
// (what is done is deleted, what is retried hidden until its time, and
// what waits behind it in its group handed back).
func NewSenderHandler(s *webhooks.Sender, batch func() SQSBatch) SenderFunc {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		b := batch()
		now := time.Now()
		received := b.Read(ev, now)
		outcomes := s.Handle(ctx, received)
		resp, err := b.Settle(ctx, outcomes, time.Now())
		if err != nil && s.Logger != nil {
			// Not returned: an error would have Lambda retry the whole
			// batch, delivered messages included.
			s.Logger.ErrorContext(ctx, "webhook batch settled in part", "error", err.Error())
		}
		return resp, nil
	}
}

// SenderLambda is the whole main of the webhook sender: it refuses to run
// outside Lambda, loads the code keys (whose derived key opens the sealed
// secrets), builds the store and the egress client once, and serves the
// queue's batches with the batches batch makes.
func SenderLambda(batch func(cfg Config) func() SQSBatch) {
	h, err := senderFromEnv(os.Stdout, batch)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", SenderName, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func senderFromEnv(logs io.Writer, batch func(cfg Config) func() SQSBatch) (SenderFunc, error) {
	if os.Getenv(RuntimeAPIEnv) == "" {
		return nil, notInLambda(SenderName)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	secret, err := cfg.CodeKeySecret()
	if err != nil {
		return nil, err
	}
	keys, err := codekey.FromSecretsManager(context.Background(), secret)
	if err != nil {
		return nil, err
	}
	logger := NewLambdaLogger(logs, cfg.LogLevel)
	deps := NewDeps(cfg, NewDynamoDB(cfg), logger)
	s := &webhooks.Sender{Store: deps.Dynamo, Sealer: keys, Post: WebhookPoster(egress.New(egress.Options{})), Logger: logger}
	return NewSenderHandler(s, batch(cfg)), nil
}
