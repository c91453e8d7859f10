// The middleware every route runs through (endpoint): the org, the caller,
// the id in the path, the User-Agent, the device headers and the
// Idempotency-Key; and the reading of a request's body.

package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// call is what every endpoint has once the common checks passed.
type call struct {
	org       string
	principal auth.Principal
	ref       identification.Ref
	userAgent string
	by        identification.Caller
	// once is the request's Idempotency-Key, on the routes that take one.
	once *onceKey
}

// ValidOrg reports whether s is an organisation name of docs/api.md: 1 to 64
// of A-Z a-z 0-9 _ . -, starting with a letter or digit.
func ValidOrg(s string) bool {
	if len(s) == 0 || len(s) > 64 || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// validUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex
// form (either case).
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// endpoint runs the checks every route shares, in this order: the org in
// the path, the caller (401), the id in the path, the User-Agent of chain
// routes; then the route's own work.
func (h *Handler) endpoint(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org_id")
		if !ValidOrg(org) {
			h.writeError(w, r, paramError("org_id: must be 1 to 64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit"))
			return
		}
		p, err := h.authn(r)
		if err != nil {
			h.writeError(w, r, unauthorized("%s", strings.TrimPrefix(err.Error(), auth.ErrUnauthenticated.Error()+": ")))
			return
		}
		noteSubject(r, p.Subject)
		if !p.HasOrg(org) {
			h.writeError(w, r, unauthorized("the token is not valid for the organisation in the path"))
			return
		}
		kind := identification.CallerKind("")
		var also []identification.CallerKind
		for _, s := range rt.Scopes {
			switch {
			case !p.HasScope(s):
			case kind == "":
				kind = callerKinds[s]
			default:
				also = append(also, callerKinds[s])
			}
		}
		if kind == "" {
			h.writeError(w, r, unauthorized("the token lacks the %s scope", strings.Join(rt.Scopes, " or ")))
			return
		}
		c := &call{org: org, principal: p, ref: identification.Ref{Org: org, Type: rt.typ},
			by: identification.Caller{Kind: kind, Also: also, Sub: p.Subject, RequestID: requestIDFrom(r.Context())}}
		if rt.idParam != "" {
			id := r.PathValue(rt.idParam)
			if !validUUID(id) {
				h.writeError(w, r, paramError("%s: must be a UUID such as 0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", rt.idParam))
				return
			}
			c.ref.ID = strings.ToLower(id)
			noteIdentification(r, c.ref.ID)
		}
		if rt.UserAgent {
			c.userAgent = strings.TrimSpace(r.Header.Get("User-Agent"))
			if c.userAgent == "" {
				h.writeError(w, r, paramError("User-Agent: header is required on this endpoint"))
				return
			}
			if len(c.userAgent) > 512 {
				c.userAgent = c.userAgent[:512]
			}
			c.by.UserAgent = c.userAgent
		}
		if rt.Device && kind == identification.CallerActor {
			d, err := h.device(r)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			d.UserAgent = c.userAgent
			c.by.Device = d
		}
		if rt.Idempotent {
			k, err := idempotencyKey(r, org, c.by)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			c.once = k
		}
		rt.serve(h, w, r, c)
	})
}

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

// readBody reads at most MaxBodyBytes; a larger body is a KindInvalid error.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, bodyTooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, identification.Invalid([]identification.FieldError{{Path: "body", Message: "could not be read"}})
	}
	if len(body) > MaxBodyBytes {
		return nil, bodyTooLarge()
	}
	return body, nil
}

func bodyTooLarge() error {
	return identification.Invalid([]identification.FieldError{{Path: "body", Message: fmt.Sprintf("must be at most %d bytes (64 KiB)", MaxBodyBytes)}})
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
