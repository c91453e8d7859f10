// Package genclient is a Go client of the API generated from
// docs/openapi.yaml by oapi-codegen, pinned by the tool directive of go.mod,
// with its default options (types and client only). It exists to prove that
// the document is one generators take: its tests check that client.gen.go is
// what the pinned generator makes of the committed document, and run a whole
// flow with it against the dev server's handler tree on the local engines.
//
// Regenerate it after changing the document with:
//
//	go generate ./internal/genclient
package genclient

//go:generate go tool oapi-codegen -generate types,client -package genclient -o client.gen.go ../../docs/openapi.yaml
