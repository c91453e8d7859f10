// Command create-chain is the Lambda function that creates a chain identification:
// POST /v1/orgs/{org_id}/identifications/chain.
// Everything but the route name and its code keys (read from Secrets
// Manager at start-up: they hash the actor values the listing finds it by)
// is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.CreateChain, app.WithCodeKeys(codekey.FromSecretsManager))
}
