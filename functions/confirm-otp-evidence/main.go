// Command confirm-otp-evidence is the Lambda function that records an uploaded document image of an OTP identification, after checking it:
// PUT /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}/evidence.
// Everything but the route name, its code keys (read from Secrets Manager at start-up) and its evidence bucket (EVIDENCE_BUCKET), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/s3evidence"
)

func main() {
	app.Lambda(httpapi.ConfirmOTPEvidence, app.WithCodeKeys(codekey.FromSecretsManager), app.WithEvidence(s3evidence.Open))
}
