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

// Route is one row of the route table (docs/api.md). Name is the Lambda
// function that serves it; template.yaml and events/*.json must agree with
// this table, and tests read every fact of a route from here, never from
// its name.
type Route struct {
	Name   string
	Method string
	Path   string
	// Success is the status of a successful answer.
	Success int
	// Scopes admit a caller holding any one of them, as API Gateway's JWT
	// authorizer does; the first one held names the caller's kind.
	Scopes []string
	// UserAgent: a non-blank User-Agent is required and recorded.
	UserAgent bool
	// Device: an actor's calls carry the device headers (docs/api.md).
	Device bool
	// DynamoDB are the IAM actions the route's store calls need.
	DynamoDB []string
	// S3 are the IAM actions the route needs on the evidence bucket's
	// objects (the presigned forms and links are signed with the
	// function's own credentials, so they need the action they allow).
	S3 []string
	// Calls is how many DynamoDB calls its success takes when more than
	// one: two for a validate (the attempt counted, then the outcome
	// written; or the read that says which step comes next, then the
	// write). StoreCalls reads it.
	Calls int
	// Needs are what the route's service must be wired with.
	Needs []Need
	// Idempotent: an Idempotency-Key header makes a retry of the request
	// replay its first answer (docs/api.md, "Idempotency-Key").
	Idempotent bool
	// Example is a request body the route accepts ("" when it takes none).
	Example string
	// Query is an example query string the route accepts ("" when it
	// reads none).
	Query string

	typ     identification.Type
	idParam string
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request, c *call)
}

// Need is something a route's service must have been built with.
type Need string

// What a route may need.
const (
	// NeedCodeKeys: the route issues or checks one-time codes, hashes
	// actor values or signs cursors and evidence keys.
	NeedCodeKeys Need = "code-keys"
	// NeedEvidence: the route signs upload forms or download links, or
	// inspects uploaded images, in the evidence bucket.
	NeedEvidence Need = "evidence"
)

const (
	otpPath   = "/v1/orgs/{org_id}/identifications/otp"
	chainPath = "/v1/orgs/{org_id}/identifications/chain"
	otpID     = "admin_identification_id"
	chainID   = "identification_chain_id"
)

var (
	admin      = []string{auth.ScopeAdmin}
	actor      = []string{auth.ScopeActor}
	actorAdmin = []string{auth.ScopeActor, auth.ScopeAdmin}
	agent      = []string{auth.ScopeAgent}
	actorAgent = []string{auth.ScopeActor, auth.ScopeAgent}
	decider    = []string{auth.ScopeReview, auth.ScopeProvider}
	keysAndS3  = []Need{NeedCodeKeys, NeedEvidence}
	evidenceS3 = []Need{NeedEvidence}
	s3Put      = []string{"s3:PutObject"}
	s3Get      = []string{"s3:GetObject"}
	codeKeys   = []Need{NeedCodeKeys}
	getItem    = []string{"dynamodb:GetItem"}
	putItem    = []string{"dynamodb:PutItem"}
	updateItem = []string{"dynamodb:UpdateItem"}
	readUpdate = []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}
	// readSettle: a read that writes what a counted attempt left owed
	// (identification.Settlement) when it finds it.
	readSettle = readUpdate
	// updateOnce: the update, and with an Idempotency-Key the key's record,
	// put in the same transaction.
	updateOnce = []string{"dynamodb:PutItem", "dynamodb:UpdateItem"}
	// resendOnce: with an Idempotency-Key, the transaction, then a read.
	resendOnce = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
	// query: a page of a listing, one Query on one of the listing indexes.
	query = []string{"dynamodb:Query"}
)

// s3GetVersion: a download link is to the version a confirm checked.
var s3GetVersion = []string{"s3:GetObjectVersion"}

const exampleOTP = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`
const exampleChain = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"IDENTITY_CARD","country":"ES"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"INTERNAL"}}]}`

// The routes, one exported literal each.
var (
	CreateOTP = Route{Idempotent: true, Name: "create-otp", Method: http.MethodPost, Path: otpPath, Success: http.StatusCreated, Scopes: admin,
		DynamoDB: putItem, Needs: codeKeys, Example: exampleOTP, typ: identification.TypeOTP, serve: (*Handler).createOTP}
	CancelOTP = Route{Idempotent: true, Name: "cancel-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/cancel", Success: http.StatusNoContent, Scopes: admin,
		DynamoDB: updateOnce, Example: `{"reason":"customer asked"}`, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).cancel}
	CloseOTP = Route{Idempotent: true, Name: "close-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/close", Success: http.StatusNoContent, Scopes: admin,
		DynamoDB: updateOnce, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).close}
	DeleteOTP = Route{Name: "delete-otp", Method: http.MethodDelete, Path: otpPath + "/{" + otpID + "}", Success: http.StatusNoContent, Scopes: admin,
		Calls: 2, DynamoDB: readUpdate, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).delete}
	CreateChain = Route{Idempotent: true, Name: "create-chain", Method: http.MethodPost, Path: chainPath, Success: http.StatusCreated, Scopes: admin, UserAgent: true,
		DynamoDB: putItem, Needs: codeKeys, Example: exampleChain, typ: identification.TypeChain, serve: (*Handler).createChain}
	CancelChain = Route{Idempotent: true, Name: "cancel-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/cancel", Success: http.StatusNoContent, Scopes: admin, UserAgent: true,
		DynamoDB: updateOnce, Example: `{"reason":"customer asked"}`, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).cancel}
	CloseChain = Route{Idempotent: true, Name: "close-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/close", Success: http.StatusNoContent, Scopes: admin, UserAgent: true,
		DynamoDB: updateOnce, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).close}
	GetOTP = Route{Name: "get-otp", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}", Success: http.StatusOK, Scopes: admin,
		DynamoDB: readSettle, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).get}
	GetChain = Route{Name: "get-chain", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}", Success: http.StatusOK, Scopes: admin, UserAgent: true,
		DynamoDB: readSettle, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).get}
	GetOTPHistory = Route{Name: "get-otp-history", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}/history", Success: http.StatusOK, Scopes: admin,
		DynamoDB: readSettle, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).history}
	GetChainHistory = Route{Name: "get-chain-history", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}/history", Success: http.StatusOK, Scopes: admin, UserAgent: true,
		DynamoDB: readSettle, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).history}
	ValidateOTP = Route{Name: "validate-otp", Method: http.MethodPut, Path: otpPath + "/{" + otpID + "}/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Calls: 2, DynamoDB: readUpdate, Needs: codeKeys, Example: `{"code":"k4khb9","two_factor":"12345678A"}`, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).validate}
	ResendOTP = Route{Idempotent: true, Name: "resend-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/resend", Success: http.StatusNoContent, Scopes: actorAdmin, UserAgent: true, Device: true,
		DynamoDB: resendOnce, Needs: codeKeys, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).resend}
	ValidateChain = Route{Name: "validate-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Calls: 2, DynamoDB: readUpdate, Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).startChain}
	ValidateChainOTP = Route{Name: "validate-chain-otp", Method: http.MethodPut, Path: chainPath + "/{" + chainID + "}/otp/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Calls: 2, DynamoDB: readUpdate, Needs: codeKeys, Example: `{"code":"k4khb9","two_factor":"12345678A"}`, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).validate}
	ResendChainOTP = Route{Idempotent: true, Name: "resend-chain-otp", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/otp/resend", Success: http.StatusNoContent, Scopes: actorAdmin, UserAgent: true, Device: true,
		DynamoDB: resendOnce, Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).resend}
	ValidateChainAgent = Route{Name: "validate-chain-agent", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/agent/validate", Success: http.StatusNoContent, Scopes: agent, UserAgent: true,
		Calls: 2, DynamoDB: readUpdate, Needs: codeKeys, Example: `{"agent":"Agent Smith","evidence_metadata":"{\"call_id\":\"c-1\"}"}`, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).completeAgent}
	RequestOTPEvidenceUploads = Route{Name: "request-otp-evidence-uploads", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/evidence/uploads", Success: http.StatusOK,
		Scopes: actor, UserAgent: true, Device: true, DynamoDB: getItem, S3: s3Put, Needs: keysAndS3, Example: exampleUploads,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).requestUploads}
	ConfirmOTPEvidence = Route{Name: "confirm-otp-evidence", Method: http.MethodPut, Path: otpPath + "/{" + otpID + "}/evidence", Success: http.StatusNoContent,
		Scopes: actor, UserAgent: true, Device: true, Calls: 2, DynamoDB: readUpdate, S3: s3Get, Needs: keysAndS3, Example: exampleConfirm,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).confirmEvidence}
	GetOTPEvidence = Route{Name: "get-otp-evidence", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}/evidence", Success: http.StatusOK,
		Scopes: admin, DynamoDB: getItem, S3: s3GetVersion, Needs: evidenceS3, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).evidenceLinks}
	RequestChainEvidenceUploads = Route{Name: "request-chain-evidence-uploads", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/evidence/uploads", Success: http.StatusOK,
		Scopes: actorAgent, UserAgent: true, Device: true, DynamoDB: getItem, S3: s3Put, Needs: keysAndS3, Example: exampleUploads,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).requestUploads}
	ConfirmChainEvidence = Route{Name: "confirm-chain-evidence", Method: http.MethodPut, Path: chainPath + "/{" + chainID + "}/evidence", Success: http.StatusNoContent,
		Scopes: actorAgent, UserAgent: true, Device: true, Calls: 2, DynamoDB: readUpdate, S3: s3Get, Needs: keysAndS3, Example: exampleConfirm,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).confirmEvidence}
	GetChainEvidence = Route{Name: "get-chain-evidence", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}/evidence", Success: http.StatusOK,
		Scopes: admin, UserAgent: true, DynamoDB: getItem, S3: s3GetVersion, Needs: evidenceS3, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).evidenceLinks}
	DecideChainDocument = Route{Name: "decide-chain-document", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/document/decision", Success: http.StatusNoContent,
		Scopes: decider, UserAgent: true, Calls: 2, DynamoDB: readUpdate, Needs: codeKeys, Example: `{"decision":"APPROVED"}`,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).decideDocument}
	ListOTP = Route{Name: "list-otp", Method: http.MethodGet, Path: otpPath, Success: http.StatusOK, Scopes: admin,
		DynamoDB: query, Needs: codeKeys, Query: listQuery, typ: identification.TypeOTP, serve: (*Handler).list}
	ListChain = Route{Name: "list-chain", Method: http.MethodGet, Path: chainPath, Success: http.StatusOK, Scopes: admin, UserAgent: true,
		DynamoDB: query, Needs: codeKeys, Query: listQuery, typ: identification.TypeChain, serve: (*Handler).list}
)

const (
	exampleUploads = `{"files":[{"kind":"DOCUMENT_FRONT","content_type":"image/jpeg"},{"kind":"DOCUMENT_BACK","content_type":"image/png"}]}`
	exampleConfirm = `{"kind":"DOCUMENT_FRONT","key":"orgs/acme/otp/0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81/DOCUMENT_FRONT/0c4d-example.jpg"}`
)

// listQuery is an example query of the listings.
const listQuery = "status=CREATED,IN_PROGRESS&email=example@email.com&limit=2"

var routes = []Route{CreateOTP, CancelOTP, CloseOTP, DeleteOTP, CreateChain, CancelChain, CloseChain, GetOTP, GetChain,
	ValidateOTP, ResendOTP, ValidateChain, ValidateChainOTP, ResendChainOTP, ValidateChainAgent, GetOTPHistory, GetChainHistory,
	ListOTP, ListChain, RequestOTPEvidenceUploads, ConfirmOTPEvidence, GetOTPEvidence,
	RequestChainEvidenceUploads, ConfirmChainEvidence, GetChainEvidence, DecideChainDocument}

// StoreCalls is how many DynamoDB calls the route's success takes.
func (r Route) StoreCalls() int { return max(r.Calls, 1) }

// Type is the type of process the route acts on.
func (r Route) Type() identification.Type { return r.typ }

// IDParam names the route's path parameter holding the process id ("" on
// a create).
func (r Route) IDParam() string { return r.idParam }

// Routes returns the route table.
func Routes() []Route { return append([]Route(nil), routes...) }

// callerKinds names the caller a scope makes.
var callerKinds = map[string]identification.CallerKind{
	auth.ScopeAdmin:    identification.CallerAdmin,
	auth.ScopeActor:    identification.CallerActor,
	auth.ScopeAgent:    identification.CallerAgent,
	auth.ScopeReview:   identification.CallerReviewer,
	auth.ScopeProvider: identification.CallerProvider,
}

// RouteNamed returns the route of the function called name.
func RouteNamed(name string) (Route, bool) {
	for _, rt := range Routes() {
		if rt.Name == name {
			return rt, true
		}
	}
	return Route{}, false
}

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
func ValidOrg(s string) bool { return validOrg(s) }

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
	view := func(cr identification.Created, code string) processView {
		v := viewOf(cr.Identification)
		if cr.Code != "" {
			v.OTPCode = code
			exp := identification.CodeExpiry(cr.Identification)
			v.CodeExpiresAt = &exp
		}
		return v
	}
	if c.once != nil {
		var rec identification.Idempotency
		_, replay, err := h.svc.CreateOTPOnce(r.Context(), c.org, in, c.by, func(cr identification.Created) identification.Idempotency {
			rec = c.record(http.StatusCreated, view(cr, identification.CodePlaceholder), cr.ID)
			if cr.Code != "" {
				rec.CodeKey, rec.CodeNonce = cr.KeyID, cr.Nonce
			}
			return rec
		})
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	created, err := h.svc.CreateOTP(r.Context(), c.org, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, created.Identification, view(created, created.Code))
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
	if c.once != nil {
		var rec identification.Idempotency
		_, replay, err := h.svc.CreateChainOnce(r.Context(), c.org, in, c.by, func(cr identification.Created) identification.Idempotency {
			rec = c.record(http.StatusCreated, viewOf(cr.Identification), cr.ID)
			return rec
		})
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.CreateChain(r.Context(), c.org, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, i, viewOf(i))
}

// created answers a create: the identification, and a Location that works
// where the client is (behind the base path the request came through).
func (h *Handler) created(w http.ResponseWriter, r *http.Request, i *identification.Identification, v processView) {
	noteIdentification(r, i.ID)
	kind := "otp"
	if i.Type == identification.TypeChain {
		kind = "chain"
	}
	w.Header().Set("Location", h.basePathOf(r)+"/v1/orgs/"+i.OrgID+"/identifications/"+kind+"/"+i.ID)
	w.Header().Set("ETag", etag(i.Version))
	writeJSON(w, http.StatusCreated, v)
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

func (h *Handler) get(w http.ResponseWriter, r *http.Request, c *call) {
	i, err := h.svc.Get(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(i.Version))
	writeJSON(w, http.StatusOK, viewOf(i))
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
	if c.once != nil {
		rec := c.record(http.StatusNoContent, nil, c.ref.ID)
		replay, err := h.svc.CancelOnce(r.Context(), c.ref, reason, c.by, rec)
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.Cancel(r.Context(), c.ref, reason, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	noContent(w, i)
}

func (h *Handler) close(w http.ResponseWriter, r *http.Request, c *call) {
	if c.once != nil {
		rec := c.record(http.StatusNoContent, nil, c.ref.ID)
		replay, err := h.svc.CloseOnce(r.Context(), c.ref, c.by, rec)
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.Close(r.Context(), c.ref, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	noContent(w, i)
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
	if err := h.svc.Delete(r.Context(), c.ref, force, c.by); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
