// Command webhook-sender is the Lambda function on the SQS FIFO queue of
// webhook deliveries: it posts each to its endpoint, signed, through the
// one client that reaches organisations' URLs, and hands back to the queue
// what must be tried again (docs/webhooks.md).
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/sqs"
)

func main() {
	app.SenderLambda(func(cfg app.Config) func() app.SQSBatch {
		q := &sqs.Queue{Client: sqs.NewClient(cfg.Region, cfg.SQSEndpoint, cfg.CredentialsFor(cfg.SQSEndpoint)), URL: cfg.WebhookQueueURL}
		return func() app.SQSBatch { return &sqs.LambdaBatch{Queue: q} }
	})
}
