// Package functions holds the deployed Lambda functions, one directory per
// function of docs/api.md, each a main package that only names its route and
// calls app.Lambda. The package itself has no code: its tests prove that
// template.yaml, events/*.json and the route table of package httpapi
// describe the same functions, and drive every sample event through its
// function's handler against real DynamoDB engines.
package functions
