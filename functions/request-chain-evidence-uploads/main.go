// Command request-chain-evidence-uploads is the Lambda function that hands out presigned upload forms for the images of a chain step:
// POST /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/evidence/uploads.
// Everything but the route name, its code keys (read from Secrets Manager at start-up) and its evidence bucket (EVIDENCE_BUCKET), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/s3evidence"
)

func main() {
	app.Lambda(httpapi.RequestChainEvidenceUploads, app.WithCodeKeys(codekey.FromSecretsManager), app.WithEvidence(s3evidence.Open))
}
