package identification

import (
	"context"
	"errors"
	"time"
)

// ErrUndeliverable marks a send the provider refused for good (a bad
// destination, an unverified sender): retrying it cannot help.
var ErrUndeliverable = errors.New("undeliverable")

// Message is one code on its way to an actor: where it goes and what it
// says, in the actor's language. It holds the code in clear only while it
// is being sent; nothing keeps it.
type Message struct {
	// Channel is SMS, EMAIL or WHATSAPP.
	Channel string
	// To is the E.164 phone number (+<country code><number>) for SMS and
	// WHATSAPP, the e-mail address for EMAIL.
	To string
	// Language is one of Languages; EN when the actor has none.
	Language string
	// Org is the organisation that asks (its id, as in the path), and
	// Name what its settings call it in messages ("": its id).
	Org  string
	Name string
	// Text is the organisation's own text for this channel and language
	// ("": the built-in one), and Minutes the code's lifetime it may say.
	Text    string
	Minutes int
	// Code and ValidUntil are what the message says.
	Code       string
	ValidUntil time.Time
	// IdentificationID is the process the code is for (never shown to the
	// actor; for the dev outbox and the logs' correlation).
	IdentificationID string
}

// MessageTexts are what an organisation's settings say of its messages:
// its name ("": its id), the language for an actor who has none ("":
// English) and its own texts by channel and language.
type MessageTexts struct {
	Name            string
	DefaultLanguage string
	Texts           map[string]map[string]string
}

// TextsSource gives an organisation's MessageTexts (package settings'
// Cache); an error is the store's.
type TextsSource interface {
	MessageTexts(ctx context.Context, org string) (MessageTexts, error)
}

// Sender delivers a message through one channel's provider. It returns the
// provider's message id. An error the provider may not repeat (a refused
// destination) is wrapped in ErrUndeliverable, so that it is not retried.
type Sender interface {
	Send(ctx context.Context, m Message) (messageID string, err error)
}

// StoredItem is an item of the table as a stream record's image shows it,
// in the domain's terms: what the stream processor reads of a change. A
// store's decoder makes it (dynamostore.Store.DecodeItem), so that the
// processor never reads the table's attributes itself.
type StoredItem struct {
	// Ref is the process the item belongs to.
	Ref Ref
	// Process is the process the item holds: nil for any other item (the
	// tombstone a deletion leaves, an idempotency record).
	Process *Identification
	// Code is the process's current code (nil when it has none).
	Code *CodeMaterial
	// Sending reports a code's delivery claimed on the process item and
	// not yet finished, as an earlier version of the store claimed it (a
	// claim is now an item of its own, which no record of the process
	// shows).
	Sending bool
	// Block is the sending guard's record of a send it refused or would
	// have refused (nil for any other item): the stream processor
	// publishes and counts it.
	Block *GuardBlock
}

// GuardBlock is one send the sending guard refused (mode ENFORCE) or let
// through and recorded (MONITOR), as its record shows it: the rule, never
// the destination.
type GuardBlock struct {
	// Key is the record's item key, the store's to read (its published mark).
	Key                          [2]string
	Org                          string
	At                           time.Time
	Rule, Mode, Channel, Country string
	// Type and ID are the process's (the id a refused create would have had).
	Type Type
	ID   string
}

// Event is a change published to the organisation (EventBridge detail): never
// actor data.
type Event struct {
	DetailType string   `json:"-"`
	OrgID      string   `json:"org_id"`
	ID         string   `json:"id"`
	Type       Type     `json:"type"`
	Status     Status   `json:"status,omitempty"`
	Previous   Status   `json:"previous_status,omitempty"`
	Step       *StepRef `json:"step,omitempty"`
	// Evidence is the kind of image received (identification.evidence.received):
	// never its key, its content or a link to it.
	Evidence EvidenceKind `json:"evidence_kind,omitempty"`
	// Rule and Channel are a guard block's (identification.delivery.blocked
	// and .flagged): the rule that refused the send and the channel it was
	// for, never the destination.
	Rule    string    `json:"rule,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Version int64     `json:"version"`
	At      time.Time `json:"at"`
}

// StepRef names a chain step in an event.
type StepRef struct {
	Position int    `json:"position"`
	Type     string `json:"identification_type"`
	Status   string `json:"status"`
}

// EventSource is the source of every event the API publishes.
const EventSource = "idadmin.identifications"

// Publisher publishes events, in the order given.
type Publisher interface {
	Publish(ctx context.Context, events []Event) error
}
