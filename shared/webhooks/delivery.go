package webhooks

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// DeliveryStatus is where one event's delivery to one endpoint stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	// DeliveryPending is queued or waiting for its next attempt.
	DeliveryPending DeliveryStatus = "PENDING"
	// DeliveryDelivered was answered with a 2xx.
	DeliveryDelivered DeliveryStatus = "DELIVERED"
	// DeliveryFailed was given up after GiveUpAfter of failures.
	DeliveryFailed DeliveryStatus = "FAILED"
)

// Attempt bounds: an attempt succeeds on a 2xx answered within
// AttemptTimeout, of which at most MaxResponseBytes are read and none kept.
const (
	AttemptTimeout   = 10 * time.Second
	MaxResponseBytes = 64 << 10
)

// GiveUpAfter is how long a delivery is tried before it is FAILED, and how
// long an endpoint may answer only failures before it is DISABLED.
const GiveUpAfter = 72 * time.Hour

// backoff is the wait after the n-th failed attempt (n from 1), before
// jitter: 5 s, 1 min, 10 min, 1 h, 3 h, then every 6 h.
var backoff = []time.Duration{5 * time.Second, time.Minute, 10 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour}

// NextAttempt is when the attempt after the n-th failed one (n from 1)
// runs, failed at at: the back-off of n, plus or minus up to a fifth of it
// (jitter, in [0, 1), picks where: receivers that all failed at once are
// not all tried again at once), and never later than GiveUpAfter from
// first, the first attempt, so that the last attempt is made when the
// three days are up. It returns false once an attempt made GiveUpAfter or
// more after first has failed: the delivery is then FAILED, having been
// tried for at least GiveUpAfter.
func NextAttempt(n int, first, at time.Time, jitter float64) (time.Time, bool) {
	deadline := first.Add(GiveUpAfter)
	if !at.Before(deadline) {
		return time.Time{}, false
	}
	d := backoff[min(max(n, 1), len(backoff))-1]
	d += time.Duration((jitter*2 - 1) * float64(d) / 5)
	next := at.Add(d)
	if next.After(deadline) {
		next = deadline
	}
	return next, true
}

// Jitter is a jitter for NextAttempt.
func Jitter() float64 { return rand.Float64() }

// Delivery is one event's delivery to one endpoint, as its log shows it.
type Delivery struct {
	// ID is the webhook-id: the same on every attempt and replay.
	ID               string
	EndpointID       string
	OrgID            string
	EventType        string
	IdentificationID string
	Version          int64
	Status           DeliveryStatus
	Attempts         int
	LastStatusCode   int
	// LastError is the last failure in our words ("timeout", "status
	// 500"), never the receiver's answer.
	LastError     string
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	// At is when the event happened (its position in the log).
	At time.Time
	// Sandbox is whether the event is a sandbox process's.
	Sandbox bool
}

// idEncoding writes ids in lower-case base32 without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// DeliveryID is the webhook-id of event e's delivery to endpoint: "msg_",
// the event's time (so ids sort as the log does), and a hash of what the
// event is for whom. It is computed, never drawn: a stream record handled
// twice, a retry and a replay all send the same id, so the receiver
// de-duplicates on it.
func DeliveryID(endpoint string, e identification.Event) string {
	h := sha256.Sum256([]byte(endpoint + "\x00" + e.OrgID + "\x00" + string(e.Type) + "\x00" + e.ID + "\x00" +
		strconv.FormatInt(e.Version, 10) + "\x00" + e.DetailType + "\x00" + stepKey(e)))
	return "msg_" + fmt.Sprintf("%011x", e.At.UnixMilli()) + idEncoding.EncodeToString(h[:15])
}

func stepKey(e identification.Event) string {
	s := string(e.Evidence)
	if e.Step != nil {
		s += "\x00" + strconv.Itoa(e.Step.Position)
	}
	if e.Rule != "" {
		// A guard's refusals of one process (a chain's step, refused at
		// each resend) share its id and version: each is its own event.
		s += "\x00" + e.Rule + "\x00" + strconv.FormatInt(e.At.UnixNano(), 10)
	}
	return s
}

// body is what a delivery posts.
type body struct {
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// Body is the JSON a delivery of e posts: its type, its time (RFC 3339)
// and its detail, the event of docs/delivery-and-events.md with sandbox:
// never actor data, since an event holds none.
func Body(e identification.Event, sandbox bool) ([]byte, error) {
	detail, err := json.Marshal(struct {
		identification.Event
		Sandbox bool `json:"sandbox"`
	}{e, sandbox})
	if err != nil {
		return nil, fmt.Errorf("webhooks: body of %s: %w", e.DetailType, err)
	}
	return json.Marshal(body{Type: e.DetailType, Timestamp: e.At.UTC().Format(time.RFC3339), Data: detail})
}
