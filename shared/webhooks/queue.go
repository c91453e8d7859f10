package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Message is one event's delivery to one endpoint, as queued: the stream
// processor queues one per event and endpoint that wants it (Fanout), the
// test and replay routes one each, and the sender (Sender) takes them.
type Message struct {
	OrgID      string
	EndpointID string
	Event      identification.Event
	Sandbox    bool
	// Replay marks a delivery sent again by its replay route: the same
	// webhook-id, queued anew (Dedup differs).
	Replay string
}

// ID is the message's webhook-id (DeliveryID).
func (m Message) ID() string { return DeliveryID(m.EndpointID, m.Event) }

// Group is the message's group in a FIFO queue: its endpoint and process.
// A group's messages are taken one at a time, in the order queued, the
// next only once the one before is done (delivered, or given up): so one
// endpoint receives one process's events in version order, and a slow or
// failing process holds up no other.
func (m Message) Group() string { return m.OrgID + "/" + m.EndpointID + "/" + m.Event.ID }

// Dedup is the message's de-duplication id: its webhook-id, so that the
// same event queued twice (a stream record handled again) is taken once;
// a replay's is its own.
func (m Message) Dedup() string {
	if m.Replay != "" {
		return m.ID() + "/replay/" + m.Replay
	}
	return m.ID()
}

// wireMessage is a Message as its queue holds it.
type wireMessage struct {
	Org      string               `json:"org"`
	Endpoint string               `json:"endpoint"`
	Type     string               `json:"detail_type"`
	Event    identification.Event `json:"event"`
	Sandbox  bool                 `json:"sandbox,omitempty"`
	Replay   string               `json:"replay,omitempty"`
}

// EncodeMessage is the body a queue holds for m: JSON, with nothing of an
// actor (an event holds none) and no secret.
func EncodeMessage(m Message) ([]byte, error) {
	return json.Marshal(wireMessage{Org: m.OrgID, Endpoint: m.EndpointID, Type: m.Event.DetailType, Event: m.Event, Sandbox: m.Sandbox, Replay: m.Replay})
}

// DecodeMessage reads what EncodeMessage wrote.
func DecodeMessage(body []byte) (Message, error) {
	var w wireMessage
	if err := json.Unmarshal(body, &w); err != nil {
		return Message{}, fmt.Errorf("webhooks: decode message: %w", err)
	}
	if w.Org == "" || w.Endpoint == "" || w.Type == "" || w.Event.ID == "" {
		return Message{}, errors.New("webhooks: decode message: org, endpoint, detail_type and event.id are required")
	}
	w.Event.DetailType = w.Type
	return Message{OrgID: w.Org, EndpointID: w.Endpoint, Event: w.Event, Sandbox: w.Sandbox, Replay: w.Replay}, nil
}

// Queue queues messages, in the order given (the sqs package's FIFO
// queue in AWS; the dev server's in-process queue locally).
type Queue interface {
	Send(ctx context.Context, msgs []Message) error
}

// Received is a message as the sender takes it from its queue: the how
// many-th time it is taken (1 for the first attempt) and when it was first
// taken.
type Received struct {
	Message Message
	Attempt int
	First   time.Time
}

// Outcome is what the sender did with a received message: done with it
// (delivered, given up, or nothing to deliver: the queue deletes it), or
// to be taken again at RetryAt (the queue hides it until then; its group
// waits).
type Outcome struct {
	Done    bool
	RetryAt time.Time
}
