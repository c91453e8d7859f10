// Command get-settings is the Lambda function that reads an organisation's settings:
// GET /v1/orgs/{org_id}/settings.
// Everything but the route name is shared wiring in package app: the
// settings service on the table's DynamoDB store.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.GetSettings, app.WithSettings())
}
