// Package sns delivers codes by SMS through Amazon SNS: one Publish to the
// actor's E.164 number, sent as a transactional message (docs/api.md,
// "channel").
package sns

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/identification"
)

// NewClient creates an SNS client for region, signing with creds (the
// function's own, which the composition root, shared/app, read once). Like
// the DynamoDB client it builds aws.Config by hand, to keep the config
// loader and its SSO, STS and IMDS clients out of the binary. A non-empty
// endpoint is used as the base endpoint (an emulator in tests and the dev
// server); nil creds are placeholder ones, for such an engine.
func NewClient(region, endpoint string, creds aws.CredentialsProvider, optFns ...func(*sns.Options)) *sns.Client {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	return sns.NewFromConfig(cfg, append([]func(*sns.Options){func(o *sns.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}}, optFns...)...)
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
		return "", awserr.Classify("sns publish", err, undeliverable)
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
