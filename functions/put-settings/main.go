// Command put-settings is the Lambda function that replaces an organisation's settings:
// PUT /v1/orgs/{org_id}/settings.
// Everything but the route name is shared wiring in package app: the
// settings service on the table's DynamoDB store.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.PutSettings, app.WithSettings())
}
