// Package awserr classifies the errors of AWS services for their adapters
// (shared/sns, shared/sesv2, shared/s3evidence, shared/codekey): an error
// is told by its code, HTTP status and request id, never by the service's
// message, which may quote a destination. The SDK clients' errors and
// those of the calls made through shared/sigv4 (sigv4.ResponseError, in
// the same shape) are classified alike.
package awserr

import (
	"errors"
	"fmt"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/idadmin/api/shared/identification"
)

// Classify turns a failed call of op into the error a Sender returns: an
// answer of the service becomes a ProviderError, undeliverable when its code
// is in undeliverable; anything else (a network failure, a cancelled
// context) keeps its cause for errors.Is.
func Classify(op string, err error, undeliverable map[string]bool) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Errorf("%s: %w", op, err)
	}
	pe := &ProviderError{Op: op, Code: api.ErrorCode(), Undeliverable: undeliverable[api.ErrorCode()]}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		pe.StatusCode, pe.RequestID = re.HTTPStatusCode(), re.ServiceRequestID()
	}
	return pe
}

// ProviderError is an error a service answered, told by its code, HTTP
// status and request id only.
type ProviderError struct {
	Op         string
	Code       string
	StatusCode int
	RequestID  string
	// Undeliverable is set for a refusal another try cannot change; the
	// error then wraps identification.ErrUndeliverable.
	Undeliverable bool
}

func (e *ProviderError) Error() string {
	s := e.Op + ": " + e.Code
	if e.StatusCode != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.RequestID != "" {
		s += ", request id " + e.RequestID
	}
	if e.Undeliverable {
		s += ": " + identification.ErrUndeliverable.Error()
	}
	return s
}

// Unwrap is identification.ErrUndeliverable for an undeliverable message.
func (e *ProviderError) Unwrap() error {
	if e.Undeliverable {
		return identification.ErrUndeliverable
	}
	return nil
}
