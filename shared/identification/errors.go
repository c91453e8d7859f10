package identification

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies a domain error. Each kind maps to exactly one documented
// HTTP status and error code (see the table in package httpapi); anything
// that is not an *Error is internal.
type Kind int

// The error kinds, one per documented outcome of docs/errors.md.
const (
	// KindParameter is a bad path, query or header parameter (MDOC_001).
	KindParameter Kind = iota + 1
	// KindInvalid is a body that is not JSON, has wrong types or unknown
	// fields, or breaks a rule (MDOC_002). Fields holds one entry per field.
	KindInvalid
	// KindUnauthorized is a missing or bad token, or one not valid for the
	// organisation or the operation (401, MDOC_003).
	KindUnauthorized
	// KindForbidden is a delete refused by the lifecycle or by missing
	// force-delete permission (403, MDOC_003).
	KindForbidden
	// KindNotFound is no such identification in this organisation (MDOC_004).
	KindNotFound
	// KindExpired is an action on a process whose expiry has passed (MDOC_005).
	KindExpired
	// KindConflict is an action not allowed from the current status (MDOC_006).
	KindConflict
	// KindUnavailable is a store that is throttling or unreachable (503).
	KindUnavailable
	// KindMismatch is a code or two-factor value that does not match
	// (422, MDOC_007); Remaining says how many attempts are left.
	KindMismatch
	// KindTooSoon is a new code asked for too soon (429, MDOC_008);
	// RetryAfter says when to ask again.
	KindTooSoon
	// KindPrecondition is a change made from a version of a document that
	// is no longer the current one (412, MDOC_010: If-Match).
	KindPrecondition
	// KindSendingBlocked is a code the organisation's sending guard
	// refused to send (422, MDOC_009): Message names the rule, never the
	// destination.
	KindSendingBlocked
)

// Kinds lists every kind: the error table, the error documentation and the
// OpenAPI document each have an entry for every one (a test proves it).
var Kinds = []Kind{KindParameter, KindInvalid, KindUnauthorized, KindForbidden, KindNotFound,
	KindExpired, KindConflict, KindUnavailable, KindMismatch, KindTooSoon, KindPrecondition, KindSendingBlocked}

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindParameter:
		return "parameter"
	case KindInvalid:
		return "invalid"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindNotFound:
		return "not_found"
	case KindExpired:
		return "expired"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	case KindMismatch:
		return "mismatch"
	case KindTooSoon:
		return "too_soon"
	case KindSendingBlocked:
		return "sending_blocked"
	case KindPrecondition:
		return "precondition"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FieldError is one problem with one field of a request, named by its JSON
// path ("actor.msisdn.phone_number", "sequence[1].otp_step").
type FieldError struct {
	Path    string
	Message string
}

// String renders the error as the API reports it: the path first.
func (f FieldError) String() string {
	if f.Path == "" {
		return f.Message
	}
	return f.Path + ": " + f.Message
}

// Error is the one error type of the domain. Message is safe to show to the
// client: it never carries actor data or internal detail. Err, when set, is
// the underlying cause and is only logged.
type Error struct {
	Kind    Kind
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, when set, is how long the client should wait before
	// trying again (429 and 503 answers carry it as Retry-After).
	RetryAfter time.Duration
	// Remaining is how many attempts are left (422 answers say it).
	Remaining int
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for _, f := range e.Fields {
		b.WriteString("; ")
		b.WriteString(f.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind with a client-safe message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid builds a KindInvalid error holding every field problem.
func Invalid(fields []FieldError) *Error {
	return &Error{Kind: KindInvalid, Message: "the request body is invalid", Fields: fields}
}

// KindOf returns the kind of the first *Error in err's chain, or 0 when err
// is not a domain error (and therefore internal).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
