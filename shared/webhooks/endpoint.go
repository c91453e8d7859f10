package webhooks

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idadmin/api/shared/identification"
)

// Limits of an organisation's endpoints and of their fields.
const (
	// MaxEndpoints is how many endpoints one organisation may have.
	MaxEndpoints = 10
	// MaxURL is the longest URL, in bytes.
	MaxURL = 2048
	// MaxDescription is the longest description, in characters.
	MaxDescription = 500
	// MaxEvents is the most event types one endpoint lists.
	MaxEvents = 50
	// RotationGrace is how long a rotated secret keeps signing beside the
	// new one.
	RotationGrace = 24 * time.Hour
)

// Status is whether an endpoint receives deliveries.
type Status string

// The statuses of an endpoint.
const (
	// StatusEnabled receives its events.
	StatusEnabled Status = "ENABLED"
	// StatusDisabled receives nothing: its organisation disabled it, or
	// it answered only failures for GiveUpAfter (DisabledReason says).
	StatusDisabled Status = "DISABLED"
)

// AllEvents, as an endpoint's only event type, subscribes it to every one.
const AllEvents = "*"

// TestEvent is the type of the event the test route sends.
const TestEvent = "webhook.test"

// EventTypes are the event types an endpoint may subscribe to, as the
// stream processor publishes them (docs/delivery-and-events.md), and the
// test event.
func EventTypes() []string {
	var out []string
	for _, st := range identification.Statuses {
		out = append(out, "identification."+strings.ToLower(string(st)))
	}
	for _, st := range []string{identification.StepCurrent, identification.StepCompleted, identification.StepFailed} {
		out = append(out, "identification.step."+strings.ToLower(st))
	}
	out = append(out, "identification.extended", "identification.code.sent", "identification.delivery.failed",
		"identification.delivery.blocked", "identification.delivery.flagged",
		"identification.evidence.received", "identification.document.approved", "identification.document.rejected", TestEvent)
	return out
}

// Endpoint is one URL an organisation receives its events at. Its signing
// secrets are not here: they rest sealed in the store and are read only to
// sign (Secrets).
type Endpoint struct {
	ID, OrgID   string
	URL         string
	Events      []string
	Description string
	Status      Status
	// DisabledReason says why the endpoint is DISABLED ("" otherwise).
	DisabledReason string
	// FailingSince is when the endpoint's current run of failures began
	// (nil while its last attempt succeeded).
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Version      int64
}

// Wants reports whether e receives events of type t: enabled, and
// subscribed to t or to every type. The test event goes to any endpoint
// that asks for it by its route, enabled or not.
func (e *Endpoint) Wants(t string) bool {
	if e.Status != StatusEnabled {
		return false
	}
	return slices.Contains(e.Events, AllEvents) || slices.Contains(e.Events, t)
}

// Input is a registration (every field but Status) or a change (any
// field) of an endpoint, as decoded: a nil field was absent.
type Input struct {
	URL         *string
	Events      []string
	HasEvents   bool
	Description *string
	Status      *Status
}

// CheckCreate records the rules a registration breaks in p: url and
// events required, status not accepted.
func (in *Input) CheckCreate(p *identification.Problems) {
	if in.URL == nil && !p.Bad("url") {
		p.Add("url", "is required")
	}
	if !in.HasEvents && !p.Bad("events") {
		p.Add("events", "is required")
	}
	if in.Status != nil && !p.Bad("status") {
		p.Add("status", "is not accepted when registering; an endpoint starts ENABLED")
	}
	in.check(p)
}

// CheckChange records the rules a change breaks in p: at least one field.
func (in *Input) CheckChange(p *identification.Problems) {
	if in.URL == nil && !in.HasEvents && in.Description == nil && in.Status == nil && !p.AnyBad() {
		p.Add("", "must change at least one of url, events, description, status")
	}
	in.check(p)
}

func (in *Input) check(p *identification.Problems) {
	if in.URL != nil && !p.Bad("url") {
		if msg := checkURLText(*in.URL); msg != "" {
			p.Add("url", "%s", msg)
		}
	}
	if in.HasEvents && !p.Bad("events") {
		checkEvents(p, in.Events)
	}
	if in.Description != nil && !p.Bad("description") {
		if d := *in.Description; !utf8.ValidString(d) || utf8.RuneCountInString(d) > MaxDescription || strings.ContainsAny(d, "\x00\r\n") {
			p.Add("description", "must be one line of at most %d characters", MaxDescription)
		}
	}
	if in.Status != nil && !p.Bad("status") && *in.Status != StatusEnabled && *in.Status != StatusDisabled {
		p.Add("status", "must be ENABLED or DISABLED")
	}
}

// checkURLText is the part of a URL's rules that needs no resolver: its
// length and scheme. The rest (a host that resolves only to public
// addresses) is the egress check, which the service runs on registration
// and the sender on every attempt.
func checkURLText(u string) string {
	switch {
	case u == "":
		return "must not be empty"
	case len(u) > MaxURL:
		return "must be at most 2048 characters"
	case !strings.HasPrefix(strings.ToLower(u), "https://") && !strings.HasPrefix(strings.ToLower(u), "http://"):
		return "must be an https URL"
	}
	return ""
}

func checkEvents(p *identification.Problems, events []string) {
	if len(events) == 0 {
		p.Add("events", "must list at least one event type, or \"*\" for all")
		return
	}
	if len(events) > MaxEvents {
		p.Add("events", "must list at most %d event types", MaxEvents)
		return
	}
	known := EventTypes()
	seen := map[string]bool{}
	for n, t := range events {
		path := "events[" + strconv.Itoa(n) + "]"
		switch {
		case t == AllEvents && len(events) > 1:
			p.Add(path, "\"*\" must be the only event type")
		case t != AllEvents && !slices.Contains(known, t):
			p.Add(path, "must be a known event type (docs/webhooks.md)")
		case seen[t]:
			p.Add(path, "is listed twice")
		}
		seen[t] = true
	}
}
