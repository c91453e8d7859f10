// Command stream is the Lambda function on the table's stream: it delivers
// the codes the system sends (SMS through Amazon SNS, e-mail through Amazon
// SES, WhatsApp through AWS End User Messaging Social), publishes every
// change to the deployment's EventBridge bus (docs/delivery-and-events.md),
// deletes a deleted process's document images (docs/evidence.md), and
// queues every event for the organisation's webhook endpoints that want it
// (the SQS FIFO queue the webhook-sender function is fed by).
// It chooses its providers here, so that no other function links them.
package main

import (
	"context"
	"errors"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/eventbridge"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/sesv2"
	"github.com/idadmin/api/shared/sns"
	"github.com/idadmin/api/shared/socialmessaging"
	"github.com/idadmin/api/shared/sqs"
)

func main() {
	app.StreamLambda(func(ctx context.Context, cfg app.Config) (app.StreamWiring, error) {
		secret, err := cfg.CodeKeySecret()
		if err != nil {
			return app.StreamWiring{}, err
		}
		keys, err := codekey.FromSecretsManager(ctx, secret)
		if err != nil {
			return app.StreamWiring{}, err
		}
		bucket, err := cfg.Evidence()
		if err != nil {
			return app.StreamWiring{}, err
		}
		evidence, err := s3evidence.Open(ctx, bucket)
		if err != nil {
			return app.StreamWiring{}, err
		}
		if cfg.WebhookQueueURL == "" {
			return app.StreamWiring{}, errors.New("webhooks: WEBHOOK_QUEUE_URL is not set")
		}
		// Every client signs with the one set of credentials cfg read.
		creds := cfg.CredentialsFor("")
		return app.StreamWiring{
			Keys: keys,
			Senders: map[string]identification.Sender{
				"SMS":   sns.New(sns.NewClient(cfg.Region, "", creds)),
				"EMAIL": sesv2.New(sesv2.NewClient(cfg.Region, "", creds), cfg.SenderEmail),
				"WHATSAPP": socialmessaging.New(socialmessaging.Config{Region: cfg.Region,
					OriginationPhoneNumberID: cfg.WhatsAppPhoneNumberID, TemplateName: cfg.WhatsAppTemplateName,
					Credentials: creds}),
			},
			Publisher: eventbridge.New(eventbridge.NewClient(cfg.Region, "", creds), cfg.EventBusName),
			Evidence:  evidence,
			// Each event is also queued for the organisation's webhook
			// endpoints that want it.
			Webhooks: sqs.NewWebhookQueue(cfg.Region, cfg.SQSEndpoint, creds, cfg.WebhookQueueURL),
		}, nil
	})
}
