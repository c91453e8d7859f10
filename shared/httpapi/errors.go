package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// ErrorsResponse is the documented body of every 4xx and 5xx.
type ErrorsResponse struct {
	Errors []ErrorItem `json:"errors"`
}

// ErrorItem is one problem in an ErrorsResponse.
type ErrorItem struct {
	Code    string `json:"code"`
	Title   string `json:"title"`
	Ref     string `json:"ref"`
	Details string `json:"details"`
}

// errorClass is one row of the error table of docs/errors.md.
type errorClass struct {
	Status int
	Code   string
	Title  string
}

// errorTable maps every domain error kind to its documented status, code and
// title. Anything not in it is internal (errInternal).
var errorTable = map[identification.Kind]errorClass{
	identification.KindParameter:      {http.StatusBadRequest, "MDOC_001", "PARAMETER_ERROR"},
	identification.KindInvalid:        {http.StatusBadRequest, "MDOC_002", "INVALID_INPUT"},
	identification.KindUnauthorized:   {http.StatusUnauthorized, "MDOC_003", "UNAUTHORIZED"},
	identification.KindForbidden:      {http.StatusForbidden, "MDOC_003", "UNAUTHORIZED"},
	identification.KindNotFound:       {http.StatusNotFound, "MDOC_004", "RESOURCE_NOT_FOUND"},
	identification.KindExpired:        {http.StatusConflict, "MDOC_005", "RESOURCE_IS_NO_LONGER_AVAILABLE"},
	identification.KindConflict:       {http.StatusConflict, "MDOC_006", "CONFLICT"},
	identification.KindUnavailable:    {http.StatusServiceUnavailable, "MDOC_000", "INTERNAL_SERVER_ERROR"},
	identification.KindMismatch:       {http.StatusUnprocessableEntity, "MDOC_007", "UNPROCESSABLE_ENTITY"},
	identification.KindTooSoon:        {http.StatusTooManyRequests, "MDOC_008", "TOO_MANY_REQUESTS"},
	identification.KindPrecondition:   {http.StatusPreconditionFailed, "MDOC_010", "PRECONDITION_FAILED"},
	identification.KindSendingBlocked: {http.StatusUnprocessableEntity, "MDOC_009", "SENDING_BLOCKED"},
}

var errInternal = errorClass{http.StatusInternalServerError, "MDOC_000", "INTERNAL_SERVER_ERROR"}

// retryAfterSeconds is what a 503 tells the client to wait.
const retryAfterSeconds = "2"

// writeError renders err as an ErrorsResponse. Domain errors show their
// client-safe message; anything else is logged with detail and shown as a
// generic message.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var de *identification.Error
	class := errInternal
	if errors.As(err, &de) {
		if c, ok := errorTable[de.Kind]; ok {
			class = c
		}
	}
	resp := ErrorsResponse{}
	switch {
	case de == nil || class == errInternal:
		h.log(r).ErrorContext(r.Context(), "internal error", slog.String("error", err.Error()))
		resp.Errors = []ErrorItem{h.item(class, "an unexpected error occurred; quote the request id "+requestIDFrom(r.Context())+" when reporting it")}
	case de.Kind == identification.KindUnavailable:
		h.log(r).WarnContext(r.Context(), "store unavailable", slog.String("error", err.Error()))
		w.Header().Set("Retry-After", retryAfterSeconds)
		resp.Errors = []ErrorItem{h.item(class, "the service is temporarily unavailable; retry after "+retryAfterSeconds+" seconds")}
	case len(de.Fields) > 0:
		for _, f := range de.Fields {
			resp.Errors = append(resp.Errors, h.item(class, f.String()))
		}
	default:
		if de.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((de.RetryAfter+time.Second-1)/time.Second)))
		}
		resp.Errors = []ErrorItem{h.item(class, de.Message)}
	}
	writeJSON(w, class.Status, resp)
}

// WriteError writes the domain error err as the ErrorsResponse its kind
// takes in the one error table (docs/errors.md), for the few answers made
// outside the handler tree (the dev server's own routes); details are
// err's client-safe message. A kind not in the table is a 500.
func WriteError(w http.ResponseWriter, docsURL string, err *identification.Error) {
	class, ok := errorTable[err.Kind]
	if !ok {
		class = errInternal
	}
	if err.Kind == identification.KindUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeJSON(w, class.Status, ErrorsResponse{Errors: []ErrorItem{itemOf(class, docsURL, err.Message)}})
}

// WriteMethodNotAllowed writes the 405 of a path that answers only allow.
func WriteMethodNotAllowed(w http.ResponseWriter, docsURL, method string, allow ...string) {
	for _, m := range allow {
		w.Header().Add("Allow", m)
	}
	writeJSON(w, http.StatusMethodNotAllowed, ErrorsResponse{Errors: []ErrorItem{
		itemOf(errMethod, docsURL, "method "+method+" is not allowed on this path")}})
}

// errMethod is the class of a 405: a parameter error, the method.
var errMethod = errorClass{http.StatusMethodNotAllowed, "MDOC_001", "PARAMETER_ERROR"}

func itemOf(c errorClass, docsURL, details string) ErrorItem {
	return ErrorItem{Code: c.Code, Title: c.Title, Ref: docsURL + "#" + c.Code, Details: details}
}

func (h *Handler) item(c errorClass, details string) ErrorItem {
	return ErrorItem{Code: c.Code, Title: c.Title, Ref: h.docsURL + "#" + c.Code, Details: details}
}

func paramError(format string, args ...any) error {
	return identification.Errorf(identification.KindParameter, format, args...)
}

func unauthorized(format string, args ...any) error {
	return identification.Errorf(identification.KindUnauthorized, format, args...)
}
