package httpapi

import (
	"net/http"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// Route is one row of the route table (docs/api.md). Name is the Lambda
// function that serves it; template.yaml and events/*.json must agree with
// this table, and tests read every fact of a route from here, never from
// its name. What only tests and tools need (example bodies and queries)
// is in internal/routefacts; a function's IAM grants and the DynamoDB
// calls a success makes are measured by the tests, never declared here.
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
	// Needs are what the route's service must be wired with.
	Needs []Need
	// Idempotent: an Idempotency-Key header makes a retry of the request
	// replay its first answer (docs/api.md, "Idempotency-Key").
	Idempotent bool

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
	// NeedWebhooks: the route manages webhook endpoints (Config.Webhooks).
	NeedWebhooks Need = "webhooks"
	// NeedSettings: the route reads or changes the organisation's
	// settings (Config.Settings).
	NeedSettings Need = "settings"
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
	codeKeys   = []Need{NeedCodeKeys}
)

// The routes, one exported literal each.
var (
	CreateOTP = Route{Idempotent: true, Name: "create-otp", Method: http.MethodPost, Path: otpPath, Success: http.StatusCreated, Scopes: admin,
		Needs: codeKeys, typ: identification.TypeOTP, serve: (*Handler).createOTP}
	CancelOTP = Route{Idempotent: true, Name: "cancel-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/cancel", Success: http.StatusNoContent, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).cancel}
	CloseOTP = Route{Idempotent: true, Name: "close-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/close", Success: http.StatusNoContent, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).close}
	ExtendOTP = Route{Idempotent: true, Name: "extend-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/extend", Success: http.StatusNoContent, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).extend}
	DeleteOTP = Route{Name: "delete-otp", Method: http.MethodDelete, Path: otpPath + "/{" + otpID + "}", Success: http.StatusNoContent, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).delete}
	CreateChain = Route{Idempotent: true, Name: "create-chain", Method: http.MethodPost, Path: chainPath, Success: http.StatusCreated, Scopes: admin, UserAgent: true,
		Needs: codeKeys, typ: identification.TypeChain, serve: (*Handler).createChain}
	CancelChain = Route{Idempotent: true, Name: "cancel-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/cancel", Success: http.StatusNoContent, Scopes: admin, UserAgent: true,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).cancel}
	CloseChain = Route{Idempotent: true, Name: "close-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/close", Success: http.StatusNoContent, Scopes: admin, UserAgent: true,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).close}
	ExtendChain = Route{Idempotent: true, Name: "extend-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/extend", Success: http.StatusNoContent, Scopes: admin, UserAgent: true,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).extend}
	GetOTP = Route{Name: "get-otp", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}", Success: http.StatusOK, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).get}
	GetChain = Route{Name: "get-chain", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}", Success: http.StatusOK, Scopes: admin, UserAgent: true,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).get}
	GetOTPHistory = Route{Name: "get-otp-history", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}/history", Success: http.StatusOK, Scopes: admin,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).history}
	GetChainHistory = Route{Name: "get-chain-history", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}/history", Success: http.StatusOK, Scopes: admin, UserAgent: true,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).history}
	ValidateOTP = Route{Name: "validate-otp", Method: http.MethodPut, Path: otpPath + "/{" + otpID + "}/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Needs: codeKeys, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).validate}
	ResendOTP = Route{Idempotent: true, Name: "resend-otp", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/resend", Success: http.StatusNoContent, Scopes: actorAdmin, UserAgent: true, Device: true,
		Needs: codeKeys, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).resend}
	ValidateChain = Route{Name: "validate-chain", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).startChain}
	ValidateChainOTP = Route{Name: "validate-chain-otp", Method: http.MethodPut, Path: chainPath + "/{" + chainID + "}/otp/validate", Success: http.StatusNoContent, Scopes: actor, UserAgent: true, Device: true,
		Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).validate}
	ResendChainOTP = Route{Idempotent: true, Name: "resend-chain-otp", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/otp/resend", Success: http.StatusNoContent, Scopes: actorAdmin, UserAgent: true, Device: true,
		Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).resend}
	ValidateChainAgent = Route{Name: "validate-chain-agent", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/agent/validate", Success: http.StatusNoContent, Scopes: agent, UserAgent: true,
		Needs: codeKeys, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).completeAgent}
	RequestOTPEvidenceUploads = Route{Name: "request-otp-evidence-uploads", Method: http.MethodPost, Path: otpPath + "/{" + otpID + "}/evidence/uploads", Success: http.StatusOK,
		Scopes: actor, UserAgent: true, Device: true, Needs: keysAndS3,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).requestUploads}
	ConfirmOTPEvidence = Route{Name: "confirm-otp-evidence", Method: http.MethodPut, Path: otpPath + "/{" + otpID + "}/evidence", Success: http.StatusNoContent,
		Scopes: actor, UserAgent: true, Device: true, Needs: keysAndS3,
		typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).confirmEvidence}
	GetOTPEvidence = Route{Name: "get-otp-evidence", Method: http.MethodGet, Path: otpPath + "/{" + otpID + "}/evidence", Success: http.StatusOK,
		Scopes: admin, Needs: evidenceS3, typ: identification.TypeOTP, idParam: otpID, serve: (*Handler).evidenceLinks}
	RequestChainEvidenceUploads = Route{Name: "request-chain-evidence-uploads", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/evidence/uploads", Success: http.StatusOK,
		Scopes: actorAgent, UserAgent: true, Device: true, Needs: keysAndS3,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).requestUploads}
	ConfirmChainEvidence = Route{Name: "confirm-chain-evidence", Method: http.MethodPut, Path: chainPath + "/{" + chainID + "}/evidence", Success: http.StatusNoContent,
		Scopes: actorAgent, UserAgent: true, Device: true, Needs: keysAndS3,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).confirmEvidence}
	GetChainEvidence = Route{Name: "get-chain-evidence", Method: http.MethodGet, Path: chainPath + "/{" + chainID + "}/evidence", Success: http.StatusOK,
		Scopes: admin, UserAgent: true, Needs: evidenceS3, typ: identification.TypeChain, idParam: chainID, serve: (*Handler).evidenceLinks}
	DecideChainDocument = Route{Name: "decide-chain-document", Method: http.MethodPost, Path: chainPath + "/{" + chainID + "}/document/decision", Success: http.StatusNoContent,
		Scopes: decider, UserAgent: true, Needs: codeKeys,
		typ: identification.TypeChain, idParam: chainID, serve: (*Handler).decideDocument}
	ListOTP = Route{Name: "list-otp", Method: http.MethodGet, Path: otpPath, Success: http.StatusOK, Scopes: admin,
		Needs: codeKeys, typ: identification.TypeOTP, serve: (*Handler).list}
	ListChain = Route{Name: "list-chain", Method: http.MethodGet, Path: chainPath, Success: http.StatusOK, Scopes: admin, UserAgent: true,
		Needs: codeKeys, typ: identification.TypeChain, serve: (*Handler).list}
)

var routes = []Route{CreateOTP, CancelOTP, CloseOTP, ExtendOTP, DeleteOTP, CreateChain, CancelChain, CloseChain, ExtendChain, GetOTP, GetChain,
	ValidateOTP, ResendOTP, ValidateChain, ValidateChainOTP, ResendChainOTP, ValidateChainAgent, GetOTPHistory, GetChainHistory,
	ListOTP, ListChain, RequestOTPEvidenceUploads, ConfirmOTPEvidence, GetOTPEvidence,
	RequestChainEvidenceUploads, ConfirmChainEvidence, GetChainEvidence, DecideChainDocument,
	CreateWebhook, ListWebhooks, GetWebhook, UpdateWebhook, RotateWebhookSecret, DeleteWebhook,
	TestWebhook, ListWebhookDeliveries, ReplayWebhookDelivery,
	GetSettings, PutSettings, GetSettingsHistory, GetGuardEvents, GetStats}

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
	// An organisation's settings are an admin's to change.
	auth.ScopeSettings: identification.CallerAdmin,
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
