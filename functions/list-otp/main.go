// Command list-otp is the Lambda function that lists and searches OTP identifications:
// GET /v1/orgs/{org_id}/identifications/otp.
// The code keys hash the actor values searched for and sign the cursors.
// Everything but the route name and its code keys (read from Secrets
// Manager at start-up) is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.ListOTP, app.WithCodeKeys(codekey.FromSecretsManager))
}
