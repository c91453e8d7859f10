// Command stream is the Lambda function on the table's stream: it delivers
// the codes the system sends (SMS through Amazon SNS, e-mail through Amazon
// SES, WhatsApp through AWS End User Messaging Social) and publishes every
// change to the deployment's EventBridge bus (docs/delivery-and-events.md),
// and deletes a deleted process's document images (docs/evidence.md).
// It chooses its providers here, so that no other function links them.
package main

import (
	"context"
	"os"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/eventbridge"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/sesv2"
	"github.com/idadmin/api/shared/sns"
	"github.com/idadmin/api/shared/socialmessaging"
)

func main() {
	app.StreamLambda(func(ctx context.Context, cfg app.Config) (app.StreamWiring, error) {
		keys, err := codekey.FromSecretsManager(ctx)
		if err != nil {
			return app.StreamWiring{}, err
		}
		evidence, err := s3evidence.FromEnv(ctx)
		if err != nil {
			return app.StreamWiring{}, err
		}
		return app.StreamWiring{
			Keys: keys,
			Senders: map[string]identification.Sender{
				"SMS":   sns.New(sns.NewClient(cfg.Region, "")),
				"EMAIL": sesv2.New(sesv2.NewClient(cfg.Region, ""), os.Getenv("SENDER_EMAIL")),
				"WHATSAPP": socialmessaging.New(socialmessaging.Config{Region: cfg.Region,
					OriginationPhoneNumberID: os.Getenv("WHATSAPP_PHONE_NUMBER_ID"), TemplateName: os.Getenv("WHATSAPP_TEMPLATE_NAME")}),
			},
			Publisher: eventbridge.New(eventbridge.NewClient(cfg.Region, ""), os.Getenv("EVENT_BUS_NAME")),
			Evidence:  evidence,
		}, nil
	})
}
