// Command decide-chain-document is the Lambda function that takes the review or the provider decision on a chain's IDENTITY_DOCUMENT step:
// POST /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/document/decision.
// Everything but the route name, its code keys (read from Secrets Manager at start-up), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.DecideChainDocument, app.WithCodeKeys(codekey.FromSecretsManager), app.WithSendGuard(numbers.Numbers{}))
}
