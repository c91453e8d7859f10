// Package docs holds the API's published documentation: the OpenAPI
// description (openapi.yaml), which the dev server serves and the tests hold
// the API to, and the error reference (errors.md) every error's ref links to.
package docs

import _ "embed"

// OpenAPI is the OpenAPI 3.0 description of every route of the admin API.
// It is embedded so the dev server and the tests use the very file that is
// published, not a copy.
//
//go:embed openapi.yaml
var OpenAPI []byte
