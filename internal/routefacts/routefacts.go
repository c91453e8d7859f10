// Package routefacts is the one table of what tests and tools know of a
// route beyond httpapi.Route, keyed by the route's name: a request body it
// accepts and the query strings it reads. Nothing else about a route is
// kept by hand here: the IAM actions a function needs are what its route's
// calls are seen to need (functions/iam_test.go drives every route through
// a recording DynamoDB client and holds template.yaml's policies to what
// it saw), and the DynamoDB calls a success makes are measured and held to
// the rules of CheckSuccess, never declared per route.
//
// Only tests and tools import it (cmd/bench among them); a function never
// links it (TestFunctionsLinkNoTools).
package routefacts

import (
	"maps"
	"slices"
)

// Facts are a route's examples.
type Facts struct {
	// Example is a request body the route accepts ("" when it takes
	// none). Where the body names a process's code it is k4khb9 and the
	// second factor 12345678A, as the tests' seeded processes have them;
	// an evidence key in it is only its shape (a confirm's test uploads
	// first and sends the key its form gave).
	Example string
	// Queries are query strings the route reads, the first its example
	// (none when it reads none). A listing's name one per listing index,
	// so that driving them reaches every index the function may query.
	Queries []string
}

// The documented example bodies (docs/api.md).
const (
	exampleOTP = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`

	exampleChain = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"IDENTITY_CARD","country":"ES"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"INTERNAL"}}]}`

	exampleCancel   = `{"reason":"customer asked"}`
	exampleExtend   = `{"expires_in":"P20D"}`
	exampleValidate = `{"code":"k4khb9","two_factor":"12345678A"}`
	exampleAgent    = `{"agent":"Agent Smith","evidence_metadata":"{\"call_id\":\"c-1\"}"}`
	exampleUploads  = `{"files":[{"kind":"DOCUMENT_FRONT","content_type":"image/jpeg"},{"kind":"DOCUMENT_BACK","content_type":"image/png"}]}`
	exampleConfirm  = `{"kind":"DOCUMENT_FRONT","key":"orgs/acme/otp/0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81/DOCUMENT_FRONT/0c4d-example.jpg"}`
	exampleDecision = `{"decision":"APPROVED"}`

	// The webhook routes' (docs/webhooks.md). The URL's host is a public
	// address, not a name: a registration resolves a name, and the tests
	// run without DNS.
	exampleWebhook       = `{"url":"https://93.184.215.14/idadmin/hooks","events":["*"],"description":"Back office"}`
	exampleWebhookChange = `{"events":["identification.completed","identification.failed"],"description":"The ends only"}`

	// The settings' (docs/settings.md): the whole document, sent with the
	// If-Match of the read it was made from.
	exampleSettings = `{"display_name":"Acme Bank","default_language":"ES","code":{"length":8,"ttl_minutes":10},"channels":["SMS","EMAIL"],` +
		`"messages":{"SMS":{"ES":"{org}: tu código es {code}. Caduca en {minutes} min."}}}`
)

// deliveriesQueries are the deliveries log's queries: a page size, then a
// page size and a cursor (of a delivery that need not exist: it is read
// only as a place in the log).
var deliveriesQueries = []string{
	"limit=5",
	"limit=5&cursor=ZDE6bXNnXzFhMWZkOGM3Yzg4azdxM20yeHY1cDRyNnQyd3ozYTduYnE0",
}

// listQueries are the listings' queries: the example (a person's
// processes in two statuses, on the e-mail index), then one for each
// other listing index: the month's, the status's, the phone's and the
// document's.
var listQueries = []string{
	"status=CREATED,IN_PROGRESS&email=example@email.com&limit=2",
	"limit=2",
	"status=CREATED&limit=2",
	"phone=%2B346123456789",
	"document_number=12345678A",
}

// table holds the routes that take a body or read a query; a route that
// takes neither needs no entry.
var table = map[string]Facts{
	"create-otp":                     {Example: exampleOTP},
	"cancel-otp":                     {Example: exampleCancel},
	"extend-otp":                     {Example: exampleExtend},
	"delete-otp":                     {Queries: []string{"", "force=true"}},
	"create-chain":                   {Example: exampleChain},
	"cancel-chain":                   {Example: exampleCancel},
	"extend-chain":                   {Example: exampleExtend},
	"validate-otp":                   {Example: exampleValidate},
	"validate-chain-otp":             {Example: exampleValidate},
	"validate-chain-agent":           {Example: exampleAgent},
	"request-otp-evidence-uploads":   {Example: exampleUploads},
	"confirm-otp-evidence":           {Example: exampleConfirm},
	"request-chain-evidence-uploads": {Example: exampleUploads},
	"confirm-chain-evidence":         {Example: exampleConfirm},
	"decide-chain-document":          {Example: exampleDecision},
	"list-otp":                       {Queries: listQueries},
	"list-chain":                     {Queries: listQueries},
	"create-webhook":                 {Example: exampleWebhook},
	"update-webhook":                 {Example: exampleWebhookChange},
	"list-webhook-deliveries":        {Queries: deliveriesQueries},
	"put-settings":                   {Example: exampleSettings},
	"get-settings-history":           {Queries: []string{"limit=5"}},
	"get-guard-events":               {Queries: []string{"limit=5"}},
	"get-stats":                      {Queries: []string{"group_by=channel"}},
}

// Of returns the facts of the route called name (none for a route that
// takes no body and reads no query).
func Of(name string) Facts {
	f := table[name]
	f.Queries = slices.Clone(f.Queries)
	return f
}

// Example is a request body the route called name accepts ("" for none).
func Example(name string) string { return table[name].Example }

// Query is the example query string of the route called name ("" for
// none).
func Query(name string) string {
	if q := table[name].Queries; len(q) > 0 {
		return q[0]
	}
	return ""
}

// Names are the routes the table has an entry for, sorted.
func Names() []string { return slices.Sorted(maps.Keys(table)) }
