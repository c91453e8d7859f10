// Package identification is the domain of the admin API: OTP and chain
// identification processes, the rules their creation bodies must follow, the
// lifecycle that moves them between statuses, the errors the API reports and
// the Store interface the domain needs from persistence.
//
// It imports only the standard library and small, well-kept helpers (uuid,
// Unicode normalisation from golang.org/x/text); HTTP and DynamoDB live in
// other packages, and so does the API's wire format: shared/httpapi decodes
// requests into this package's inputs (each with its Check and Validate)
// and renders its types as views. Only an Event knows its JSON.
package identification
