// Command list-webhook-deliveries is the Lambda function that reads a page of a webhook endpoint's deliveries log:
// GET /v1/orgs/{org_id}/webhooks/{webhook_id}/deliveries.
// Everything but the route name is shared wiring in package app: the code
// keys seal the endpoints' secrets, and the webhooks service queues on the
// SQS FIFO queue of webhook deliveries (WEBHOOK_QUEUE_URL).
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/sqs"
)

func main() {
	app.Lambda(httpapi.ListWebhookDeliveries, app.WithCodeKeys(codekey.FromSecretsManager), app.WithWebhooks(sqs.NewWebhookQueue))
}
