package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/idadmin/api/shared/identification"
)

// throttlingCodes are the DynamoDB error codes that mean "slow down".
var throttlingCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"LimitExceededException":                 true,
}

// classify turns an SDK error that survived the SDK's retries into a domain
// error: throttling, 5xx, network failures and deadlines are KindUnavailable
// (the client may retry later); anything else stays internal. The cause is
// kept for the logs.
func classify(op string, err error) error {
	wrapped := fmt.Errorf("%s: %w", op, err)
	if unavailable(err) {
		return &identification.Error{Kind: identification.KindUnavailable, Message: "the store is unavailable; retry later", Err: wrapped}
	}
	return wrapped
}

func unavailable(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && throttlingCodes[apiErr.ErrorCode()] {
		return true
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return true
	}
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		return true
	}
	var maxAttempts *retry.MaxAttemptsError
	if errors.As(err, &maxAttempts) {
		return true
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// A deadline, or a client that went away, is not the store's fault
	// either way, but it is no internal error to alert on.
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
