// Package sesv2 delivers codes by e-mail through Amazon SES v2: one
// SendEmail from the deployment's sender identity, with a plain-text body
// (docs/api.md, "channel").
package sesv2

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/identification"
)

// NewClient creates an SES v2 client for region, signing with creds (the
// function's own, which the composition root, shared/app, read once). Like
// the DynamoDB client it builds aws.Config by hand, to keep the config
// loader and its SSO, STS and IMDS clients out of the binary. A non-empty
// endpoint is used as the base endpoint (an emulator in tests and the dev
// server); nil creds are placeholder ones, for such an engine.
func NewClient(region, endpoint string, creds aws.CredentialsProvider, optFns ...func(*sesv2.Options)) *sesv2.Client {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	return sesv2.NewFromConfig(cfg, append([]func(*sesv2.Options){func(o *sesv2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}}, optFns...)...)
}

// Sender sends EMAIL messages (identification.Sender).
type Sender struct {
	client *sesv2.Client
	from   string
}

// New returns a Sender sending through client from the sender identity
// from: an address SES has verified, or one of a verified domain, written
// as an address or as "Name <address>".
func New(client *sesv2.Client, from string) *Sender { return &Sender{client: client, from: from} }

var _ identification.Sender = (*Sender)(nil)

// charset is the charset of the subject and the body: the texts are
// Unicode (identification.RenderMessage).
const charset = "UTF-8"

// Send e-mails m (identification.RenderMessage: its subject, and its text
// as a plain-text body) to m.To and returns SES's message id. An empty
// destination, or one that cannot be an address, is refused before any
// request. A refusal SES will repeat (the message rejected, the sender not
// verified, the account suspended, an invalid address) wraps
// identification.ErrUndeliverable; throttling, a server error or a network
// failure is a plain error, worth another try. No error names the address
// or the code: SES's own error message, which may, is left out.
func (s *Sender) Send(ctx context.Context, m identification.Message) (string, error) {
	if m.To == "" || strings.ContainsAny(m.To, "\r\n,;<>") || !strings.Contains(m.To, "@") {
		return "", fmt.Errorf("ses send email: the destination is not an e-mail address: %w", identification.ErrUndeliverable)
	}
	subject, text := identification.RenderMessage(m)
	out, err := s.client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(subject), Charset: aws.String(charset)},
			Body:    &types.Body{Text: &types.Content{Data: aws.String(text), Charset: aws.String(charset)}},
		}},
	})
	if err != nil {
		return "", awserr.Classify("ses send email", err, undeliverable)
	}
	if out.MessageId == nil || *out.MessageId == "" {
		return "", errors.New("ses send email: the answer has no message id")
	}
	return *out.MessageId, nil
}

// undeliverable are the error codes of a SendEmail that SES refused for
// good: another try sends the same message from the same sender to the same
// address, and is refused again until someone changes the account.
var undeliverable = map[string]bool{
	"MessageRejected":                    true, // among others, an unverified sender, or a recipient in the sandbox
	"MailFromDomainNotVerifiedException": true,
	"AccountSuspendedException":          true,
	"BadRequestException":                true, // an invalid address among others
	"InvalidParameterValue":              true, // an invalid address, as SES v1 and emulators name it
}
