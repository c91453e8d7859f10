// Command extend-otp is the Lambda function that moves the expiry of an OTP identification later:
// POST /v1/orgs/{org_id}/identifications/otp/{admin_identification_id}/extend.
// Everything but the route name is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.ExtendOTP)
}
