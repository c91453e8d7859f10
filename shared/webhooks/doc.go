// Package webhooks is the domain of the endpoints an organisation registers
// to receive its events (docs/webhooks.md): what an endpoint is and which
// inputs are valid, which events it receives, how a delivery is signed
// (the Standard Webhooks scheme: webhook-id, webhook-timestamp,
// webhook-signature), what its body holds (the event's detail, never actor
// data), and when a failed delivery is tried again and when it is given up.
//
// It imports only the standard library and the identification domain; the
// table, the queue and the HTTP client are adapters (dynamostore, sqs,
// egress) wired in app.
package webhooks
