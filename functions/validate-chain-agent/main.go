// Command validate-chain-agent is the Lambda function that records an agent
// completing a chain's AGENT step:
// POST /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/agent/validate.
// Everything but the route name and its code keys (read from Secrets
// Manager at start-up) is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.ValidateChainAgent, app.WithCodeKeys(codekey.FromSecretsManager), app.WithSendGuard(numbers.Numbers{}))
}
