package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// Route is one row of the route table of docs/api.md. Name is the Lambda
// function that serves it; template.yaml and events/*.json must agree with
// this table (a test proves it).
type Route struct {
	Name   string
	Method string
	Path   string
	// Scopes are the scopes every call needs (a forced delete also needs
	// auth.ScopeForceDelete).
	Scopes []string

	typ     identification.Type
	idParam string
	chain   bool
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request, c *call)
}

const (
	otpPath   = "/v1/orgs/{org_id}/identifications/otp"
	chainPath = "/v1/orgs/{org_id}/identifications/chain"
	otpID     = "admin_identification_id"
	chainID   = "identification_chain_id"
)

var adminScopes = []string{auth.ScopeAdmin}

var routes = []Route{
	{Name: "create-otp", Method: http.MethodPost, Path: otpPath, typ: identification.TypeOTP, serve: (*Handler).createOTP},
	{Name: "cancel-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/cancel", typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).cancel},
	{Name: "close-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/close", typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).close},
	{Name: "delete-otp", Method: http.MethodDelete, Path: otpPath + "/{" + otpID + "}", typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).delete},
	{Name: "create-chain", Method: http.MethodPost, Path: chainPath, typ: identification.TypeChain, chain: true, serve: (*Handler).createChain},
	{Name: "cancel-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/cancel", typ: identification.TypeChain, idParam: chainID, chain: true, serve: (*Handler).cancel},
	{Name: "close-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/close", typ: identification.TypeChain, idParam: chainID, chain: true, serve: (*Handler).close},
	{Name: "get-otp", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}", typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).get},
	{Name: "get-chain", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}", typ: identification.TypeChain, idParam: chainID, chain: true, serve: (*Handler).get},
}

// Routes returns the route table.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, rt := range routes {
		rt.Scopes = adminScopes
		out[i] = rt
	}
	return out
}

func selectRoutes(names []string) ([]Route, error) {
	all := Routes()
	if len(names) == 0 {
		return all, nil
	}
	var out []Route
	for _, n := range names {
		found := false
		for _, rt := range all {
			if rt.Name == n {
				out = append(out, rt)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("httpapi: unknown route %q", n)
		}
	}
	return out, nil
}

// call is what every endpoint has once the common checks passed.
type call struct {
	org       string
	principal auth.Principal
	ref       identification.Ref
	userAgent string
}

// validOrg reports whether s is an organisation name of docs/api.md: 1 to 64
// of A-Z a-z 0-9 _ . -, starting with a letter or digit.
func validOrg(s string) bool {
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
		if !validOrg(org) {
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
		for _, s := range rt.Scopes {
			if !p.HasScope(s) {
				h.writeError(w, r, unauthorized("the token lacks the %s scope", s))
				return
			}
		}
		c := &call{org: org, principal: p, ref: identification.Ref{Org: org, Type: rt.typ}}
		if rt.idParam != "" {
			id := r.PathValue(rt.idParam)
			if !validUUID(id) {
				h.writeError(w, r, paramError("%s: must be a UUID such as 0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a", rt.idParam))
				return
			}
			c.ref.ID = strings.ToLower(id)
			noteIdentification(r, c.ref.ID)
		}
		if rt.chain {
			c.userAgent = strings.TrimSpace(r.Header.Get("User-Agent"))
			if c.userAgent == "" {
				h.writeError(w, r, paramError("User-Agent: header is required on chain endpoints"))
				return
			}
			if len(c.userAgent) > 512 {
				c.userAgent = c.userAgent[:512]
			}
		}
		rt.serve(h, w, r, c)
	})
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

func (h *Handler) createOTP(w http.ResponseWriter, r *http.Request, c *call) {
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := identification.ParseCreateOTP(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	i, err := h.svc.CreateOTP(r.Context(), c.org, in, c.userAgent)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, i)
}

func (h *Handler) createChain(w http.ResponseWriter, r *http.Request, c *call) {
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := identification.ParseCreateChain(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	i, err := h.svc.CreateChain(r.Context(), c.org, in, c.userAgent)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, i)
}

// created answers a create: the identification, and a Location that works
// where the client is (behind the base path the request came through).
func (h *Handler) created(w http.ResponseWriter, r *http.Request, i *identification.Identification) {
	noteIdentification(r, i.ID)
	kind := "otp"
	if i.Type == identification.TypeChain {
		kind = "chain"
	}
	w.Header().Set("Location", h.basePathOf(r)+"/v1/orgs/"+i.OrgID+"/identifications/"+kind+"/"+i.ID)
	writeJSON(w, http.StatusCreated, view(i))
}

// basePathOf is the base path of r (Config.BasePath), or "" when there is
// none or it is not a plain path: "/" followed by non-empty segments of
// A-Z a-z 0-9 . _ ~ - ("/dev", "/api/v2"), never "//host" or anything a
// header could not carry.
func (h *Handler) basePathOf(r *http.Request) string {
	if h.basePath == nil {
		return ""
	}
	p := h.basePath(r)
	if p == "" || p[0] != '/' || len(p) > 256 {
		return ""
	}
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "" || seg == "." || seg == ".." {
			return ""
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '~' && c != '-' {
				return ""
			}
		}
	}
	return p
}

// identificationView is an identification as the API returns it: a
// cancelled process always carries cancel_reason (empty when a chain was
// cancelled without one), any other never does. Embedding keeps it one
// encoding pass.
type identificationView struct {
	*identification.Identification
	CancelReason *string `json:"cancel_reason,omitempty"`
}

func view(i *identification.Identification) identificationView {
	v := identificationView{Identification: i}
	if i.Status == identification.StatusCancelled {
		v.CancelReason = &i.CancelReason
	}
	return v
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, c *call) {
	i, err := h.svc.Get(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view(i))
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, c *call) {
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	reason, err := identification.ParseCancel(body, c.ref.Type == identification.TypeOTP)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.svc.Cancel(r.Context(), c.ref, reason, c.userAgent); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) close(w http.ResponseWriter, r *http.Request, c *call) {
	if err := h.svc.Close(r.Context(), c.ref, c.userAgent); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, c *call) {
	// r.URL.Query drops pairs it cannot decode ("force=tr%ue"), which would
	// turn a malformed force into an absent one.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, paramError("force: the query string is malformed; send force=true or force=false"))
		return
	}
	force := false
	if vs, ok := q["force"]; ok {
		if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
			h.writeError(w, r, paramError("force: must be true or false"))
			return
		}
		force = vs[0] == "true"
	}
	if force && !c.principal.HasScope(auth.ScopeForceDelete) {
		h.writeError(w, r, identification.Errorf(identification.KindForbidden, "force=true needs the %s scope", auth.ScopeForceDelete))
		return
	}
	if err := h.svc.Delete(r.Context(), c.ref, force); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
