// Command create-otp is the Lambda function that creates an OTP identification:
// POST /v1/orgs/{org_id}/identifications/otp.
// Everything but the route name is shared wiring in package app.
package main

import "github.com/idadmin/api/shared/app"

func main() {
	app.Lambda("create-otp")
}
