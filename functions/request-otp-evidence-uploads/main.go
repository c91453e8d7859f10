// Command request-otp-evidence-uploads is the Lambda function that hands out presigned upload forms for the document images of an OTP identification:
// POST /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}/evidence/uploads.
// Everything but the route name, its code keys (read from Secrets Manager at start-up) and its evidence bucket (EVIDENCE_BUCKET), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/s3evidence"
)

func main() {
	app.Lambda(httpapi.RequestOTPEvidenceUploads, app.WithCodeKeys(codekey.FromSecretsManager), app.WithEvidence(s3evidence.Open))
}
