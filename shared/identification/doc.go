// Package identification is the domain of the admin API: OTP and chain
// identification processes, the rules their creation bodies must follow, the
// lifecycle that moves them between statuses, the errors the API reports and
// the Store interface the domain needs from persistence.
//
// It imports only the standard library and small, well-kept helpers (uuid,
// an ISO-8601 duration parser); HTTP and DynamoDB live in other packages.
package identification
