// The webhook routes (docs/webhooks.md): an organisation's endpoints, their
// secrets, the test event, the deliveries log and replays, under the
// identifications/settings scope.

package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
	"github.com/idadmin/api/shared/wirejson"
)

const (
	webhooksPath = "/v1/orgs/{org_id}/webhooks"
	webhookID    = "webhook_id"
	deliveryID   = "delivery_id"
)

var (
	settingsScope  = []string{auth.ScopeSettings}
	webhooksNeeded = []Need{NeedWebhooks}
)

// The webhook routes.
var (
	CreateWebhook = Route{Name: "create-webhook", Method: http.MethodPost, Path: webhooksPath, Success: http.StatusCreated, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).createWebhook}
	ListWebhooks = Route{Name: "list-webhooks", Method: http.MethodGet, Path: webhooksPath, Success: http.StatusOK, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).listWebhooks}
	GetWebhook = Route{Name: "get-webhook", Method: http.MethodGet, Path: webhooksPath + "/{" + webhookID + "}", Success: http.StatusOK, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).getWebhook}
	UpdateWebhook = Route{Name: "update-webhook", Method: http.MethodPatch, Path: webhooksPath + "/{" + webhookID + "}", Success: http.StatusOK, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).updateWebhook}
	RotateWebhookSecret = Route{Name: "rotate-webhook-secret", Method: http.MethodPost, Path: webhooksPath + "/{" + webhookID + "}/rotate-secret", Success: http.StatusOK,
		Scopes: settingsScope, Needs: webhooksNeeded, serve: (*Handler).rotateWebhookSecret}
	DeleteWebhook = Route{Name: "delete-webhook", Method: http.MethodDelete, Path: webhooksPath + "/{" + webhookID + "}", Success: http.StatusNoContent, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).deleteWebhook}
	TestWebhook = Route{Name: "test-webhook", Method: http.MethodPost, Path: webhooksPath + "/{" + webhookID + "}/test", Success: http.StatusAccepted, Scopes: settingsScope,
		Needs: webhooksNeeded, serve: (*Handler).testWebhook}
	ListWebhookDeliveries = Route{Name: "list-webhook-deliveries", Method: http.MethodGet, Path: webhooksPath + "/{" + webhookID + "}/deliveries", Success: http.StatusOK,
		Scopes: settingsScope, Needs: webhooksNeeded, serve: (*Handler).listWebhookDeliveries}
	ReplayWebhookDelivery = Route{Name: "replay-webhook-delivery", Method: http.MethodPost, Path: webhooksPath + "/{" + webhookID + "}/deliveries/{" + deliveryID + "}/replay",
		Success: http.StatusAccepted, Scopes: settingsScope, Needs: webhooksNeeded, serve: (*Handler).replayWebhookDelivery}
)

// validWebhookID reports whether s is an endpoint id: "wh_" and 32
// lower-case hex digits. (Checked by hand: package regexp would be linked
// into every function of the route table.)
func validWebhookID(s string) bool {
	rest, ok := strings.CutPrefix(s, "wh_")
	return ok && len(rest) == 32 && all(rest, isLowerHex)
}

// validDeliveryID reports whether s is a delivery id as webhooks.DeliveryID
// makes them: "msg_", 11 lower-case hex digits, 24 of base32's a-z 2-7.
func validDeliveryID(s string) bool {
	rest, ok := strings.CutPrefix(s, "msg_")
	return ok && len(rest) == 35 && all(rest[:11], isLowerHex) &&
		all(rest[11:], func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '2' && c <= '7' })
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// endpointID reads and checks the webhook id in the path.
func (h *Handler) endpointID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue(webhookID)
	if !validWebhookID(id) {
		h.writeError(w, r, paramError("webhook_id: must be wh_ and 32 lower-case hex digits"))
		return "", false
	}
	return id, true
}

// webhookView is an endpoint as the API shows it: never its secret.
type webhookView struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	Events         []string  `json:"events"`
	Description    string    `json:"description"`
	Status         string    `json:"status"`
	DisabledReason *string   `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
	// Secret is shown only by the registration and the rotation.
	Secret string `json:"secret,omitempty"`
}

func webhookViewOf(e *webhooks.Endpoint, secret string) webhookView {
	v := webhookView{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Status: string(e.Status),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), Version: e.Version, Secret: secret}
	if v.Events == nil {
		v.Events = []string{}
	}
	if e.DisabledReason != "" {
		reason := e.DisabledReason
		v.DisabledReason = &reason
	}
	return v
}

// parseWebhookInput decodes a registration (create) or a change.
func parseWebhookInput(body []byte, create bool) (webhooks.Input, error) {
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return webhooks.Input{}, p.Err()
	}
	allowed := []string{"url", "events", "description", "status"}
	if create {
		allowed = allowed[:3]
	}
	m, ok := wirejson.Object(p, "", v, allowed...)
	if !ok {
		return webhooks.Input{}, p.Err()
	}
	var in webhooks.Input
	if _, ok := wirejson.Present(p, m, "", "url"); ok {
		u := wirejson.String(p, m, "", "url")
		in.URL = &u
	}
	if _, ok := wirejson.Present(p, m, "", "description"); ok {
		d := wirejson.String(p, m, "", "description")
		in.Description = &d
	}
	if _, ok := wirejson.Present(p, m, "", "status"); ok {
		st := webhooks.Status(wirejson.String(p, m, "", "status"))
		in.Status = &st
	}
	if raw, ok := wirejson.Present(p, m, "", "events"); ok {
		list, isList := raw.([]any)
		if !isList {
			p.Fail("events", "must be a list of event types, got %s", wirejson.Kind(raw))
		} else {
			in.HasEvents, in.Events = true, make([]string, 0, len(list))
			for n, e := range list {
				s, isStr := e.(string)
				if !isStr {
					p.Fail("events["+strconv.Itoa(n)+"]", "must be a string, got %s", wirejson.Kind(e))
					continue
				}
				in.Events = append(in.Events, s)
			}
		}
	}
	// The rules of a registration or a change are the service's, checked
	// on a body read without a problem.
	return in, p.Err()
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, func(b []byte) (webhooks.Input, error) { return parseWebhookInput(b, true) })
	if !ok {
		return
	}
	e, secret, err := h.webhooks.Register(r.Context(), c.org, in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", h.basePathOf(r)+"/v1/orgs/"+c.org+"/webhooks/"+e.ID)
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusCreated, webhookViewOf(e, secret))
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) {
	if r.URL.RawQuery != "" {
		h.writeError(w, r, paramError("query: this endpoint takes no parameters"))
		return
	}
	eps, err := h.webhooks.List(r.Context(), c.org)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Items []webhookView `json:"items"`
	}{Items: make([]webhookView, 0, len(eps))}
	for _, e := range eps {
		out.Items = append(out.Items, webhookViewOf(e, ""))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok {
		return
	}
	e, err := h.webhooks.Get(r.Context(), c.org, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, webhookViewOf(e, ""))
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok {
		return
	}
	in, ok := decoded(h, w, r, func(b []byte) (webhooks.Input, error) { return parseWebhookInput(b, false) })
	if !ok {
		return
	}
	e, err := h.webhooks.Change(r.Context(), c.org, id, in)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, webhookViewOf(e, ""))
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok || !h.emptyBody(w, r) {
		return
	}
	e, secret, err := h.webhooks.Rotate(r.Context(), c.org, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(e.Version))
	writeJSON(w, http.StatusOK, webhookViewOf(e, secret))
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok {
		return
	}
	if err := h.webhooks.Delete(r.Context(), c.org, id); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// acceptedView is the answer of a route that queues a delivery.
type acceptedView struct {
	DeliveryID string `json:"delivery_id"`
}

func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok || !h.emptyBody(w, r) {
		return
	}
	did, err := h.webhooks.Test(r.Context(), c.org, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, acceptedView{DeliveryID: did})
}

// webhookDeliveryView is one entry of an endpoint's deliveries log.
type webhookDeliveryView struct {
	ID               string     `json:"id"`
	EventType        string     `json:"event_type"`
	IdentificationID string     `json:"identification_id"`
	Version          int64      `json:"version"`
	Status           string     `json:"status"`
	Attempts         int        `json:"attempts"`
	LastStatusCode   *int       `json:"last_status_code"`
	LastError        *string    `json:"last_error"`
	NextAttemptAt    *time.Time `json:"next_attempt_at"`
	DeliveredAt      *time.Time `json:"delivered_at"`
}

func webhookDeliveryViewOf(d webhooks.Delivery) webhookDeliveryView {
	v := webhookDeliveryView{ID: d.ID, EventType: d.EventType, IdentificationID: d.IdentificationID, Version: d.Version,
		Status: string(d.Status), Attempts: d.Attempts, NextAttemptAt: utcOrNil(d.NextAttemptAt), DeliveredAt: utcOrNil(d.DeliveredAt)}
	if d.LastStatusCode != 0 {
		code := d.LastStatusCode
		v.LastStatusCode = &code
	}
	if d.LastError != "" {
		e := d.LastError
		v.LastError = &e
	}
	return v
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	// To the second, as every time the API shows (a retry's time is
	// jittered to the nanosecond).
	u := t.UTC().Truncate(time.Second)
	return &u
}

// deliveriesCursor is the cursor after the delivery id: opaque to
// clients, and read back only as an id of the documented shape.
func deliveriesCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("d1:" + id))
}

func (h *Handler) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok {
		return
	}
	limit, raw, err := pageQuery(r, identification.DefaultListLimit, identification.MaxListLimit, "cursor")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	after := ""
	if raw != "" {
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || len(b) <= 3 || string(b[:3]) != "d1:" || !validDeliveryID(string(b[3:])) {
			h.writeError(w, r, paramError("cursor: is not a cursor this endpoint gave; pass next_cursor back unchanged"))
			return
		}
		after = string(b[3:])
	}
	page, err := h.webhooks.Deliveries(r.Context(), c.org, id, limit, after)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Items      []webhookDeliveryView `json:"items"`
		NextCursor *string               `json:"next_cursor"`
	}{Items: make([]webhookDeliveryView, 0, len(page.Items))}
	for _, d := range page.Items {
		out.Items = append(out.Items, webhookDeliveryViewOf(d))
	}
	if page.Next != "" {
		next := deliveriesCursor(page.Next)
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) replayWebhookDelivery(w http.ResponseWriter, r *http.Request, c *call) {
	id, ok := h.endpointID(w, r)
	if !ok {
		return
	}
	did := r.PathValue(deliveryID)
	if !validDeliveryID(did) {
		h.writeError(w, r, paramError("delivery_id: must be a delivery id as the deliveries log shows it (msg_…)"))
		return
	}
	if !h.emptyBody(w, r) {
		return
	}
	if err := h.webhooks.Replay(r.Context(), c.org, id, did); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, acceptedView{DeliveryID: did})
}

// emptyBody accepts a route's body only if it is empty or an empty JSON
// object (the routes that take none): not null, which encoding/json
// decodes into a map as no map at all.
func (h *Handler) emptyBody(w http.ResponseWriter, r *http.Request) bool {
	body, err := readBody(r)
	if err == nil && len(body) > 0 {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || m == nil || len(m) > 0 {
			err = identification.Invalid([]identification.FieldError{{Path: "body", Message: "must be empty or {}: this endpoint takes no fields"}})
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return false
	}
	return true
}
