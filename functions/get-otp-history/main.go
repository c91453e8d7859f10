// Command get-otp-history is the Lambda function that reads an OTP
// identification's history:
// GET /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}/history.
// Everything but the route is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.GetOTPHistory)
}
