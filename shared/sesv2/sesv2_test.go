package sesv2_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/idadmin/api/shared/awserr"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssesv2 "github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sesv2"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// seq gives every test its own addresses on the shared moto_server.
var seq atomic.Int64

func newAddress(who string) string { return fmt.Sprintf("%s-%d@example.org", who, seq.Add(1)) }

func message(to, lang string) identification.Message {
	return identification.Message{
		Channel: "EMAIL", To: to, Language: lang, Org: "acme", Code: "k4khb9",
		ValidUntil:       time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC),
		IdentificationID: "0193a000-0000-7000-8000-000000000001",
	}
}

// verifiedSender creates an e-mail identity in moto, which then counts as
// verified: SES v2 sends only from one.
func verifiedSender(t *testing.T, client *awssesv2.Client) string {
	t.Helper()
	from := newAddress("no-reply")
	if _, err := client.CreateEmailIdentity(context.Background(), &awssesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
		t.Fatalf("create the sender identity: %v", err)
	}
	return from
}

// TestSendReachesMoto e-mails a German message through moto_server, an
// AWS API emulator, and reads it back: to the address, from the sender,
// with the subject and the text, under the message id Send returned.
func TestSendReachesMoto(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	client := sesv2.NewClient("eu-west-1", endpoint, nil)
	from := verifiedSender(t, client)
	to := newAddress("actor")
	m := message(to, "DE")
	id, err := sesv2.New(client, from).Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("no message id")
	}
	got := mototest.Data(t, endpoint).MailTo(to)
	if len(got) != 1 {
		t.Fatalf("%d e-mails to the address, want 1", len(got))
	}
	mail := got[0]
	subject, text := identification.RenderMessage(m)
	if mail.Subject != subject || mail.Subject != "Ihr Identifizierungscode für acme" {
		t.Errorf("subject %q, want %q", mail.Subject, subject)
	}
	if mail.Body != text || !strings.Contains(mail.Body, "k4khb9") || !strings.Contains(mail.Body, "acme") || !strings.Contains(mail.Body, "Gültig bis") {
		t.Errorf("body %q, want %q", mail.Body, text)
	}
	if len(mail.Destinations.ToAddresses) != 1 || mail.Destinations.ToAddresses[0] != to ||
		len(mail.Destinations.CcAddresses)+len(mail.Destinations.BccAddresses) != 0 {
		t.Errorf("destinations %+v", mail.Destinations)
	}
	if mail.Source != from || mail.ID != id {
		t.Errorf("from %q id %q, want %q and %q", mail.Source, mail.ID, from, id)
	}
}

// TestSendFromAnUnverifiedSender: SES rejects a sender identity it does
// not know, for good; the error shows neither address nor the code.
func TestSendFromAnUnverifiedSender(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	client := sesv2.NewClient("eu-west-1", endpoint, nil)
	from, to := newAddress("unverified"), newAddress("actor")
	_, err := sesv2.New(client, from).Send(context.Background(), message(to, "DE"))
	if !errors.Is(err, identification.ErrUndeliverable) {
		t.Fatalf("%v, want ErrUndeliverable", err)
	}
	var pe *awserr.ProviderError
	if !errors.As(err, &pe) || pe.Code != "MessageRejected" || pe.StatusCode != http.StatusBadRequest {
		t.Errorf("%#v", pe)
	}
	for _, secret := range []string{from, to, "k4khb9", "example.org"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows %q: %v", secret, err)
		}
	}
	if n := len(mototest.Data(t, endpoint).MailTo(to)); n != 0 {
		t.Errorf("%d e-mails sent", n)
	}
}

// TestSendToAnInvalidAddress: what cannot be an address is refused before
// the request; one SES refuses is undeliverable too.
func TestSendToAnInvalidAddress(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	client := sesv2.NewClient("eu-west-1", endpoint, nil)
	s := sesv2.New(client, verifiedSender(t, client))
	for _, to := range []string{"", "actor.example.org", "a@example.org\r\nBcc: b@example.org", "a@example.org, b@example.org", "Actor <a@example.org>", "actor@"} {
		_, err := s.Send(context.Background(), message(to, "ES"))
		if !errors.Is(err, identification.ErrUndeliverable) {
			t.Errorf("%q: %v, want ErrUndeliverable", to, err)
			continue
		}
		if to != "" && strings.Contains(err.Error(), to) {
			t.Errorf("%q: the error shows the address: %v", to, err)
		}
	}
}

// TestSendEmailRequest records what Send asks SES: the sender, the one
// recipient, Simple content with a UTF-8 subject and text body.
func TestSendEmailRequest(t *testing.T) {
	t.Parallel()
	var path string
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.Method + " " + r.URL.Path
		raw, _ := io.ReadAll(r.Body)
		json.Unmarshal(raw, &body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"MessageId":"m-1"}`)
	}))
	defer srv.Close()
	m := message("actor@example.org", "GL")
	id, err := sesv2.New(sesv2.NewClient("eu-west-1", srv.URL, nil), "Acme <no-reply@example.com>").Send(context.Background(), m)
	if err != nil || id != "m-1" {
		t.Fatalf("id %q, %v", id, err)
	}
	if path != "POST /v2/email/outbound-emails" {
		t.Errorf("request %s", path)
	}
	subject, text := identification.RenderMessage(m)
	want := map[string]any{
		"FromEmailAddress": "Acme <no-reply@example.com>",
		"Destination":      map[string]any{"ToAddresses": []any{"actor@example.org"}},
		"Content": map[string]any{"Simple": map[string]any{
			"Subject": map[string]any{"Data": subject, "Charset": "UTF-8"},
			"Body":    map[string]any{"Text": map[string]any{"Data": text, "Charset": "UTF-8"}},
		}},
	}
	gotJSON, _ := json.Marshal(body)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("body\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

// TestSendErrors answers SendEmail with SES's errors: a rejected message,
// an unverified MAIL FROM domain, a suspended account and a bad request are
// undeliverable; throttling, limits and server errors are not. No error
// repeats SES's message, which here quotes the address and the code.
func TestSendErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status        int
		code          string
		undeliverable bool
	}{
		{400, "MessageRejected", true},
		{400, "MailFromDomainNotVerifiedException", true},
		{400, "AccountSuspendedException", true},
		{400, "BadRequestException", true},
		{400, "SendingPausedException", false},
		{429, "TooManyRequestsException", false},
		{400, "LimitExceededException", false},
		{404, "NotFoundException", false},
		{500, "InternalServiceErrorException", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Amzn-Errortype", c.code)
			w.Header().Set("X-Amzn-Requestid", "req-"+c.code)
			w.WriteHeader(c.status)
			fmt.Fprint(w, `{"message":"Email address is not verified: actor@example.org (k4khb9)"}`)
		}))
		client := sesv2.NewClient("eu-west-1", srv.URL, nil, func(o *awssesv2.Options) { o.RetryMaxAttempts = 1 })
		_, err := sesv2.New(client, "no-reply@example.com").Send(context.Background(), message("actor@example.org", "ES"))
		srv.Close()
		if err == nil {
			t.Errorf("%s: no error", c.code)
			continue
		}
		if got := errors.Is(err, identification.ErrUndeliverable); got != c.undeliverable {
			t.Errorf("%s: undeliverable %v, want %v (%v)", c.code, got, c.undeliverable, err)
		}
		var pe *awserr.ProviderError
		if !errors.As(err, &pe) || pe.Code != c.code || pe.StatusCode != c.status || pe.RequestID != "req-"+c.code {
			t.Errorf("%s: %#v", c.code, pe)
		}
		if msg := err.Error(); strings.Contains(msg, "example") || strings.Contains(msg, "k4khb9") || !strings.Contains(msg, c.code) {
			t.Errorf("%s: error %q", c.code, msg)
		}
	}
}

// TestSendNetworkFailureIsRetryable: no answer at all is a plain error that
// keeps its cause.
func TestSendNetworkFailureIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL
	srv.Close()
	client := sesv2.NewClient("eu-west-1", endpoint, nil, func(o *awssesv2.Options) { o.RetryMaxAttempts = 1 })
	_, err := sesv2.New(client, "no-reply@example.com").Send(context.Background(), message("actor@example.org", "ES"))
	if err == nil || errors.Is(err, identification.ErrUndeliverable) {
		t.Fatalf("%v, want a plain error", err)
	}
	if strings.Contains(err.Error(), "example") {
		t.Errorf("the error shows an address: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sesv2.New(client, "no-reply@example.com").Send(ctx, message("actor@example.org", "ES")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
