// Package sns delivers codes by SMS through Amazon SNS: one Publish to the
// actor's E.164 number, sent as a transactional message (docs/api.md,
// "channel").
package sns

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/idadmin/api/shared/identification"
)

// NewClient creates an SNS client for region. Like the DynamoDB client
// (shared/app), it builds aws.Config by hand, with the function's
// credentials from the environment (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), to keep the config loader and
// its SSO, STS and IMDS clients out of the binary. A non-empty endpoint is
// used as the base endpoint (an emulator in tests and the dev server); with
// it and no credentials in the environment, placeholder ones are used.
func NewClient(region, endpoint string, optFns ...func(*sns.Options)) *sns.Client {
	cfg := aws.Config{Region: region, Credentials: envCredentials(endpoint)}
	return sns.NewFromConfig(cfg, append([]func(*sns.Options){func(o *sns.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}}, optFns...)...)
}

func envCredentials(endpoint string) aws.CredentialsProvider {
	id := os.Getenv("AWS_ACCESS_KEY_ID")
	if id == "" && endpoint != "" {
		return credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	return credentials.NewStaticCredentialsProvider(id, os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
}

// Sender sends SMS messages (identification.Sender).
type Sender struct {
	client *sns.Client
}

// New returns a Sender publishing through client.
func New(client *sns.Client) *Sender { return &Sender{client: client} }

var _ identification.Sender = (*Sender)(nil)

// Send publishes m's text (identification.RenderMessage) to m.To, an E.164
// number, as a transactional SMS, and returns SNS's message id. A
// destination that is not an E.164 number is refused before any request. A
// refusal SNS will repeat (an invalid number, an opted-out one) wraps
// identification.ErrUndeliverable; throttling, a server error or a network
// failure is a plain error, worth another try. No error names the number or
// the code: SNS's own error message, which may, is left out.
func (s *Sender) Send(ctx context.Context, m identification.Message) (string, error) {
	if !isE164(m.To) {
		return "", fmt.Errorf("sns publish: the destination is not an E.164 number: %w", identification.ErrUndeliverable)
	}
	_, text := identification.RenderMessage(m)
	out, err := s.client.Publish(ctx, &sns.PublishInput{
		PhoneNumber: aws.String(m.To),
		Message:     aws.String(text),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"AWS.SNS.SMS.SMSType": {DataType: aws.String("String"), StringValue: aws.String("Transactional")},
		},
	})
	if err != nil {
		return "", classify(err)
	}
	if out.MessageId == nil || *out.MessageId == "" {
		return "", errors.New("sns publish: the answer has no message id")
	}
	return *out.MessageId, nil
}

// isE164 reports whether s is "+" and 2 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// undeliverable are the error codes of a Publish that SNS refused for good
// for this message: the number or the message is invalid, or the number
// opted out of SMS.
var undeliverable = map[string]bool{
	"InvalidParameter":      true, // InvalidParameterException: an invalid phone number among others
	"ParameterValueInvalid": true, // InvalidParameterValueException
	"OptedOut":              true,
	"EndpointDisabled":      true,
	"ValidationException":   true,
}

// classify turns a Publish failure into the error Send returns.
func classify(err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		// A network failure, a cancelled context, a deadline: no text of
		// the provider's in it, and errors.Is still finds the cause.
		return fmt.Errorf("sns publish: %w", err)
	}
	pe := &ProviderError{Code: api.ErrorCode(), Undeliverable: undeliverable[api.ErrorCode()]}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		pe.StatusCode, pe.RequestID = re.HTTPStatusCode(), re.ServiceRequestID()
	}
	return pe
}

// ProviderError is an error SNS answered, told by its code, HTTP status and
// request id only: SNS's message may quote the destination.
type ProviderError struct {
	Code       string
	StatusCode int
	RequestID  string
	// Undeliverable is set for a refusal another try cannot change; the
	// error then wraps identification.ErrUndeliverable.
	Undeliverable bool
}

func (e *ProviderError) Error() string {
	s := "sns publish: " + e.Code
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
