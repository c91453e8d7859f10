// Command confirm-chain-evidence is the Lambda function that records an uploaded image of a chain step, after checking it:
// PUT /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/evidence.
// Everything but the route name, its code keys (read from Secrets Manager at start-up) and its evidence bucket (EVIDENCE_BUCKET), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/s3evidence"
)

func main() {
	app.Lambda(httpapi.ConfirmChainEvidence, app.WithCodeKeys(codekey.FromSecretsManager), app.WithEvidence(s3evidence.Open))
}
