// Command get-otp-evidence is the Lambda function that answers short-lived download links to the images of an OTP identification:
// GET /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}/evidence.
// Everything but the route name, its evidence bucket (EVIDENCE_BUCKET), is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/s3evidence"
)

func main() {
	app.Lambda(httpapi.GetOTPEvidence, app.WithEvidence(s3evidence.Open))
}
