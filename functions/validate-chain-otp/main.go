// Command validate-chain-otp is the Lambda function that checks the actor's
// one-time code of a chain's OTP step:
// PUT /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/otp/validate.
// Everything but the route name and its code keys (read from Secrets
// Manager at start-up) is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.ValidateChainOTP, app.WithCodeKeys(codekey.FromSecretsManager))
}
