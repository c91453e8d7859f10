package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// The dev server's stand-ins for the providers and the event bus: what the
// stream processor would send reaches the outbox, what it would publish the
// event log, both in memory and readable by an admin of the organisation
// at /dev/orgs/{org_id}/outbox and /dev/orgs/{org_id}/events
// (docs/delivery-and-events.md). No Lambda has these routes.

// outboxEntry is one message as it would have reached the actor.
type outboxEntry struct {
	Channel          string    `json:"channel"`
	To               string    `json:"to"`
	Language         string    `json:"language"`
	Subject          string    `json:"subject,omitempty"`
	Text             string    `json:"text"`
	IdentificationID string    `json:"identification_id"`
	At               time.Time `json:"at"`
}

// outbox is the Sender of every channel in the dev server.
type outbox struct {
	mu    sync.Mutex
	byOrg map[string][]outboxEntry
	now   func() time.Time
}

func newOutbox() *outbox { return &outbox{byOrg: map[string][]outboxEntry{}, now: time.Now} }

func (o *outbox) Send(_ context.Context, m identification.Message) (string, error) {
	subject, text := identification.RenderMessage(m)
	lang := m.Language
	if lang == "" {
		lang = "EN"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	e := outboxEntry{Channel: m.Channel, To: m.To, Language: lang, Text: text, IdentificationID: m.IdentificationID, At: o.now().UTC()}
	if m.Channel == "EMAIL" {
		e.Subject = subject
	}
	o.byOrg[m.Org] = append(o.byOrg[m.Org], e)
	return "dev-" + m.IdentificationID + "-" + time.Now().UTC().Format("150405.000000"), nil
}

func (o *outbox) of(org string) []outboxEntry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]outboxEntry{}, o.byOrg[org]...)
}

// busEntry is an event as it would reach EventBridge.
type busEntry struct {
	Source     string               `json:"source"`
	DetailType string               `json:"detail-type"`
	Time       time.Time            `json:"time"`
	Detail     identification.Event `json:"detail"`
}

// eventLog is the Publisher of the dev server.
type eventLog struct {
	mu    sync.Mutex
	byOrg map[string][]busEntry
}

func newEventLog() *eventLog { return &eventLog{byOrg: map[string][]busEntry{}} }

func (l *eventLog) Publish(_ context.Context, evs []identification.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range evs {
		l.byOrg[e.OrgID] = append(l.byOrg[e.OrgID], busEntry{Source: identification.EventSource, DetailType: e.DetailType, Time: e.At, Detail: e})
	}
	return nil
}

func (l *eventLog) of(org string) []busEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]busEntry{}, l.byOrg[org]...)
}

// devRoutes answers GET /dev/orgs/{org_id}/outbox and …/events for a
// token of that organisation holding the admin scope.
func devRoutes(authn func(*http.Request) (auth.Principal, error), box *outbox, log *eventLog, docsURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/dev/orgs/"), "/")
		if len(parts) != 2 || (parts[1] != "outbox" && parts[1] != "events") || parts[0] == "" {
			httpapi.WriteError(w, docsURL, identification.Errorf(identification.KindNotFound, "no such route"))
			return
		}
		if r.Method != http.MethodGet {
			httpapi.WriteMethodNotAllowed(w, docsURL, r.Method, "GET")
			return
		}
		org := parts[0]
		p, err := authn(r)
		if err != nil || !p.HasOrg(org) || !p.HasScope(auth.ScopeAdmin) {
			httpapi.WriteError(w, docsURL, identification.Errorf(identification.KindUnauthorized, "an admin token of the organisation in the path is required"))
			return
		}
		var body any = log.of(org)
		if parts[1] == "outbox" {
			body = box.of(org)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		json.NewEncoder(w).Encode(body)
	})
}
