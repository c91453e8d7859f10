// Command extend-chain is the Lambda function that moves the expiry of a chain identification later:
// POST /v1/orgs/{org_id}/identifications/chain/{identification_chain_id}/extend.
// Everything but the route name is shared wiring in package app.
package main

import (
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/httpapi"
)

func main() {
	app.Lambda(httpapi.ExtendChain)
}
