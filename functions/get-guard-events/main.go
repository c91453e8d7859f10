// Command get-guard-events is the Lambda function that reads a page of the refusals and would-be refusals of an organisation's sending guard:
// GET /v1/orgs/{org_id}/guard/events.
// Everything but the route name is shared wiring in package app: the
// settings service on the table's DynamoDB store.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.GetGuardEvents, app.WithSettings())
}
