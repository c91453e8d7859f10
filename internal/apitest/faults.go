package apitest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Fault is one way a DynamoDB call can fail on the wire.
type Fault int

// The faults Faults can inject.
const (
	// FaultThrottle answers HTTP 400 ProvisionedThroughputExceededException,
	// as DynamoDB does when a partition is over its capacity.
	FaultThrottle Fault = iota + 1
	// FaultServerError answers HTTP 500 InternalServerError.
	FaultServerError
	// FaultConnReset fails the attempt with a connection reset before the
	// request reaches the engine.
	FaultConnReset
	// FaultLostResponse lets the request reach the engine and do its work,
	// then loses the response to a connection reset.
	FaultLostResponse
	// FaultSlow holds the attempt for Rule.Delay (or until its context
	// ends) before sending it.
	FaultSlow
	// FaultSlowResponse sends the attempt, so the engine does its work,
	// then holds the response for Rule.Delay (or until its context ends).
	FaultSlowResponse
)

// String names the fault for test names.
func (f Fault) String() string {
	switch f {
	case FaultThrottle:
		return "throttle"
	case FaultServerError:
		return "server-error"
	case FaultConnReset:
		return "conn-reset"
	case FaultLostResponse:
		return "lost-response"
	case FaultSlow:
		return "slow"
	case FaultSlowResponse:
		return "slow-response"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Rule says which attempts fail and how.
type Rule struct {
	// Op is the operation ("UpdateItem"); empty matches every operation.
	Op    string
	Fault Fault
	// Times is how many matching attempts fail; 0 means all of them.
	Times int
	// Delay is how long FaultSlow holds an attempt.
	Delay time.Duration
}

// Faults injects failures into a DynamoDB client's attempts at the
// transport boundary: its middleware runs after the SDK's retry middleware,
// innermost in the deserialize step, so every injected failure is one
// attempt's outcome, seen and retried (or not) by the SDK exactly as a real
// one would be. Throttling and server errors are fake HTTP responses that
// the SDK's own deserializer turns into typed errors. Safe for concurrent use.
type Faults struct {
	mu       sync.Mutex
	rules    []*Rule
	attempts map[string]int
	injected map[string]int
}

// Set replaces the rules.
func (f *Faults) Set(rules ...Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = f.rules[:0]
	for _, r := range rules {
		f.rules = append(f.rules, &r)
	}
}

// Reset drops the rules and the counts.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
	clear(f.attempts)
	clear(f.injected)
}

// Attempts returns how many attempts of op (every operation when op is
// empty) were made, failed or not.
func (f *Faults) Attempts(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return count(f.attempts, op)
}

// Injected returns how many attempts of op (every operation when op is
// empty) a rule failed.
func (f *Faults) Injected(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return count(f.injected, op)
}

func count(m map[string]int, op string) int {
	if op != "" {
		return m[op]
	}
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// take counts an attempt of op and returns the rule that fails it, if any.
func (f *Faults) take(op string) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempts == nil {
		f.attempts, f.injected = map[string]int{}, map[string]int{}
	}
	f.attempts[op]++
	for i, r := range f.rules {
		if r.Op != "" && r.Op != op {
			continue
		}
		if r.Times > 0 {
			r.Times--
			if r.Times == 0 {
				f.rules = append(f.rules[:i:i], f.rules[i+1:]...)
			}
		}
		f.injected[op]++
		rule := *r
		return &rule
	}
	return nil
}

// ClientOptions installs the fault middleware and a retryer that keeps the
// SDK's standard policy (3 attempts, the same retryable errors and retry
// quota) but backs off for a millisecond instead of up to seconds, so tests
// stay fast.
func (f *Faults) ClientOptions() []func(*dynamodb.Options) {
	return []func(*dynamodb.Options){
		dynamodb.WithAPIOptions(f.addTo),
		func(o *dynamodb.Options) {
			o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
				so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
			})
		},
	}
}

func (f *Faults) addTo(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("apitest.Faults",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			rule := f.take(middleware.GetOperationName(ctx))
			if rule == nil {
				return next.HandleDeserialize(ctx, in)
			}
			switch rule.Fault {
			case FaultThrottle:
				return fakeResponse(http.StatusBadRequest, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"), middleware.Metadata{}, nil
			case FaultServerError:
				return fakeResponse(http.StatusInternalServerError, "com.amazonaws.dynamodb.v20120810#InternalServerError"), middleware.Metadata{}, nil
			case FaultConnReset:
				return middleware.DeserializeOutput{}, middleware.Metadata{}, connReset()
			case FaultLostResponse:
				out, md, err := next.HandleDeserialize(ctx, in)
				if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					return out, md, err
				}
				return middleware.DeserializeOutput{}, md, connReset()
			case FaultSlow:
				if err := hold(ctx, rule.Delay); err != nil {
					return middleware.DeserializeOutput{}, middleware.Metadata{}, err
				}
				return next.HandleDeserialize(ctx, in)
			case FaultSlowResponse:
				out, md, err := next.HandleDeserialize(ctx, in)
				if err != nil {
					return out, md, err
				}
				if err := hold(ctx, rule.Delay); err != nil {
					if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.Body != nil {
						resp.Body.Close()
					}
					return middleware.DeserializeOutput{}, md, err
				}
				return out, md, nil
			}
			return middleware.DeserializeOutput{}, middleware.Metadata{}, fmt.Errorf("apitest: unknown fault %d", rule.Fault)
		}), middleware.After)
}

// hold waits for d or the end of ctx; then it returns what smithy's HTTP
// client handler returns for a request whose context ended.
func hold(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return &smithy.CanceledError{Err: ctx.Err()}
	}
}

// connReset is what smithy's HTTP client handler returns when the
// connection is reset.
func connReset() error {
	return &smithyhttp.RequestSendError{Err: &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}}
}

func fakeResponse(status int, errorType string) middleware.DeserializeOutput {
	body := `{"__type":"` + errorType + `","message":"injected by apitest.Faults"}`
	return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: &http.Response{
		StatusCode:    status,
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"apitest-fault"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
	}}}
}
