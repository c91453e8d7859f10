// Command get-stats is the Lambda function that reads an organisation's hourly statistics:
// GET /v1/orgs/{org_id}/stats.
// Everything but the route name is shared wiring in package app: the
// settings service on the table's DynamoDB store.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.GetStats, app.WithSettings())
}
