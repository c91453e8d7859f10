// Package docs holds the API's published documentation, its users'
// contract (README.md is the index): the OpenAPI description
// (openapi.yaml), which the dev server serves and the tests hold the API to,
// the error reference (errors.md) every error's ref links to, and the
// lifecycle (lifecycle.md), whose picture is generated from
// identification.Lifecycle. The tests of this package fail when that picture
// is stale and when any file of the repository refers to a document outside
// it.
package docs

//go:generate go run ./internal/genlifecycle lifecycle.md

import _ "embed"

// OpenAPI is the OpenAPI 3.0 description of every route of the admin API.
// It is embedded so the dev server and the tests use the very file that is
// published, not a copy.
//
//go:embed openapi.yaml
var OpenAPI []byte
