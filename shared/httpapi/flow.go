package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// maxDeviceHeader bounds x-installation_id and x-fingerprint.
const maxDeviceHeader = 128

// device reads the actor's device headers: x-installation_id and
// x-fingerprint (1..128 printable ASCII), the optional x-location
// ("lat,long" in range); the IP is the caller's as the platform saw it
// (Config.SourceIP), never a header the client sends.
func (h *Handler) device(r *http.Request) (*identification.Device, error) {
	d := &identification.Device{}
	for _, hd := range []struct {
		name string
		dst  *string
	}{{"x-installation_id", &d.InstallationID}, {"x-fingerprint", &d.Fingerprint}} {
		// API Gateway joins repeated headers with commas, and the Lambda
		// adapter splits them again: the value is read back joined.
		v := headerValue(r, hd.name)
		if !printableASCII(v, maxDeviceHeader) {
			return nil, paramError("%s: header is required, 1 to %d printable ASCII characters%s", hd.name, maxDeviceHeader, misspeltHeader(r, v, hd.name))
		}
		*hd.dst = v
	}
	if loc := headerValue(r, "x-location"); loc != "" {
		if !validLocation(loc) {
			return nil, paramError("x-location: must be lat,long in decimal degrees (-90..90, -180..180)")
		}
		d.Location = loc
	}
	if h.sourceIP != nil {
		d.IP = h.sourceIP(r)
	}
	return d, nil
}

// misspeltHeader is the hint for a device header that is missing (v is
// empty) while one was sent whose name differs from name only in "-" for
// "_" or the reverse (x-installation-id for x-installation_id): "" otherwise.
func misspeltHeader(r *http.Request, v, name string) string {
	if v != "" {
		return ""
	}
	want := strings.ReplaceAll(name, "_", "-")
	for sent := range r.Header {
		if strings.EqualFold(strings.ReplaceAll(sent, "_", "-"), want) && !strings.EqualFold(sent, name) {
			return "; a header " + strings.ToLower(sent) + " was sent: the name is " + name
		}
	}
	return ""
}

// headerValue is a header's values joined as one comma-separated value.
func headerValue(r *http.Request, name string) string {
	return strings.Join(r.Header.Values(name), ",")
}

func printableASCII(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validLocation(s string) bool {
	if len(s) > 64 {
		return false
	}
	lat, long, ok := strings.Cut(s, ",")
	if !ok {
		return false
	}
	in := func(v string, limit float64) bool {
		if v == "" || strings.ContainsAny(v, "eExXnNiI_ ") {
			return false
		}
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && f >= -limit && f <= limit
	}
	return in(lat, 90) && in(long, 180)
}

// etag is the ETag of a version: every 2xx that writes or reads a process
// says which version it saw.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// noContent answers 204 with the ETag of the version written.
func noContent(w http.ResponseWriter, i *identification.Identification) {
	if i != nil {
		w.Header().Set("ETag", etag(i.Version))
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) validate(w http.ResponseWriter, r *http.Request, c *call) {
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := identification.ParseValidation(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Validate(r.Context(), c.ref, in, c.by); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// resendView is a resend's answer when the organisation delivers the code.
type resendView struct {
	OTPCode       string    `json:"otp_code"`
	CodeExpiresAt time.Time `json:"code_expires_at"`
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request, c *call) {
	if err := emptyBody(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	var out identification.Resent
	var err error
	if c.once != nil {
		var replayed bool
		out, replayed, err = h.svc.ResendOnce(r.Context(), c.ref, c.by, c.record(0, nil, c.ref.ID))
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
	} else {
		out, err = h.svc.Resend(r.Context(), c.ref, c.by)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if out.External {
		writeJSON(w, http.StatusOK, resendView{OTPCode: out.Code, CodeExpiresAt: out.ExpiresAt})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) startChain(w http.ResponseWriter, r *http.Request, c *call) {
	if err := emptyBody(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.StartChain(r.Context(), c.ref, c.by); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) completeAgent(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, identification.ParseAgentResult); ok {
		h.noContent(w, r, h.svc.CompleteAgent(r.Context(), c.ref, in, c.by))
	}
}

// emptyBody refuses a body on a route that takes none (whitespace and an
// empty JSON object are accepted).
func emptyBody(r *http.Request) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if t := strings.TrimSpace(string(body)); t != "" && t != "{}" {
		return identification.Invalid([]identification.FieldError{{Path: "body", Message: "must be empty: this endpoint takes no body"}})
	}
	return nil
}

func (h *Handler) history(w http.ResponseWriter, r *http.Request, c *call) {
	i, err := h.svc.History(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, historyViewOf(i))
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *call) {
	// r.URL.Query drops pairs it cannot decode ("email=%zz"), which would
	// widen the listing to processes the filter was meant to leave out.
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, paramError("query: is malformed: percent-encode its values (%%2B for +, %%40 for @)"))
		return
	}
	q, err := identification.ParseListQuery(vals)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, err := h.svc.List(r.Context(), c.org, c.ref.Type, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listViewOf(page))
}

func (h *Handler) requestUploads(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, identification.ParseUploadRequest)
	if !ok {
		return
	}
	ups, err := h.svc.RequestUploads(r.Context(), c.ref, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, uploadsViewOf(ups))
}

func (h *Handler) confirmEvidence(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, identification.ParseEvidenceConfirm); ok {
		h.noContent(w, r, h.svc.ConfirmEvidence(r.Context(), c.ref, in, c.by))
	}
}

func (h *Handler) evidenceLinks(w http.ResponseWriter, r *http.Request, c *call) {
	links, err := h.svc.EvidenceLinks(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, evidenceListViewOf(links))
}

func (h *Handler) decideDocument(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, identification.ParseDecision); ok {
		h.noContent(w, r, h.svc.DecideDocument(r.Context(), c.ref, in, c.by))
	}
}

// decoded is the request's body as parse reads it; when it cannot be read
// or parsed, the error is answered and ok is false.
func decoded[T any](h *Handler, w http.ResponseWriter, r *http.Request, parse func([]byte) (T, error)) (in T, ok bool) {
	body, err := readBody(r)
	if err == nil {
		in, err = parse(body)
	}
	if err != nil {
		h.writeError(w, r, err)
		return in, false
	}
	return in, true
}

// noContent answers 204 after an action that returned err, or the error.
func (h *Handler) noContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
