// Command resend-chain-otp is the Lambda function that issues a new one-time
// code for a chain's OTP step:
// POST /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/otp/resend.
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
	app.Lambda(httpapi.ResendChainOTP, app.WithCodeKeys(codekey.FromSecretsManager), app.WithSendGuard(numbers.Numbers{}))
}
