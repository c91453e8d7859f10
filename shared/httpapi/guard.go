// The sending guard's route (docs/guard.md): the refusals and would-be
// refusals of an organisation's sending guard, newest first.

package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/identification"
)

// GetGuardEvents lists the organisation's guard events.
var GetGuardEvents = Route{Name: "get-guard-events", Method: http.MethodGet, Path: "/v1/orgs/{org_id}/guard/events", Success: http.StatusOK,
	Scopes: adminOrSettings, Needs: settingsNeeded, serve: (*Handler).getGuardEvents}

// DefaultGuardEventsLimit is a page of guard events unless a limit is
// given; MaxGuardEventsLimit the most one page holds.
const (
	DefaultGuardEventsLimit = 50
	MaxGuardEventsLimit     = 200
)

// guardEventView is one guard event: the rule, never the destination.
type guardEventView struct {
	At                 time.Time `json:"at"`
	Rule               string    `json:"rule"`
	Mode               string    `json:"mode"`
	Action             string    `json:"action"`
	Channel            string    `json:"channel"`
	Country            *string   `json:"country"`
	Prefix             *string   `json:"prefix"`
	IdentificationType string    `json:"identification_type"`
	IdentificationID   string    `json:"identification_id"`
}

type guardEventsView struct {
	Items      []guardEventView `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func (h *Handler) getGuardEvents(w http.ResponseWriter, r *http.Request, c *call) {
	limit, cursor, err := pageQuery(r, DefaultGuardEventsLimit, MaxGuardEventsLimit, "cursor")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	events, next, err := h.settings.GuardEvents(r.Context(), c.org, limit, cursor)
	if errors.Is(err, guard.ErrBadCursor) {
		h.writeError(w, r, paramError("cursor: is not a cursor this endpoint gave; pass next_cursor back unchanged"))
		return
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := guardEventsView{Items: make([]guardEventView, len(events))}
	for n, e := range events {
		action := "REFUSED"
		if e.Mode == identification.GuardMonitor {
			action = "SENT"
		}
		out.Items[n] = guardEventView{At: e.At.UTC().Truncate(time.Millisecond), Rule: e.Rule, Mode: e.Mode, Action: action, Channel: e.Channel,
			Country: nonEmpty(e.Country), Prefix: nonEmpty(e.Prefix), IdentificationType: string(e.Type), IdentificationID: e.ID}
	}
	if next != "" {
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}
