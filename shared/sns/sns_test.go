package sns_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/idadmin/api/shared/awserr"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sns"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// phoneSeq gives every test its own destination on the shared moto_server.
var phoneSeq atomic.Int64

func newPhone() string { return fmt.Sprintf("+3460%07d", 1000000+phoneSeq.Add(1)) }

func message(to, lang string) identification.Message {
	return identification.Message{
		Channel: "SMS", To: to, Language: lang, Org: "acme", Code: "k4khb9",
		ValidUntil:       time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC),
		IdentificationID: "0193a000-0000-7000-8000-000000000001",
	}
}

// TestSendReachesMoto sends an SMS in Spanish through moto_server, an AWS
// API emulator, and reads it back: to the number, the rendered text, under
// the message id Send returned.
func TestSendReachesMoto(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	to := newPhone()
	m := message(to, "ES")
	id, err := sns.New(sns.NewClient("eu-west-1", endpoint, nil)).Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("no message id")
	}
	got := mototest.Data(t, endpoint).SMSTo(to)
	if len(got) != 1 {
		t.Fatalf("%d SMS to the number, want 1", len(got))
	}
	_, want := identification.RenderMessage(m)
	if got[0].Message != want || !strings.Contains(got[0].Message, "k4khb9") || !strings.Contains(got[0].Message, "Caduca a las 10:15") {
		t.Errorf("text %q, want %q", got[0].Message, want)
	}
	if got[0].MessageID != id {
		t.Errorf("moto recorded message id %q, Send returned %q", got[0].MessageID, id)
	}
}

// TestSendRefusesANonE164Destination: a number without "+" or with a
// letter is refused before any request, as undeliverable, and the error
// does not show it.
func TestSendRefusesANonE164Destination(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	s := sns.New(sns.NewClient("eu-west-1", endpoint, nil))
	for _, to := range []string{"", "600111222", "+", "+0600111222", "+34 600111222", "+34600111222x", "+3460011122233344"} {
		_, err := s.Send(context.Background(), message(to, "EN"))
		if !errors.Is(err, identification.ErrUndeliverable) {
			t.Errorf("%q: %v, want ErrUndeliverable", to, err)
			continue
		}
		if to != "" && strings.Contains(err.Error(), to) {
			t.Errorf("%q: the error shows the number: %v", to, err)
		}
		if n := len(mototest.Data(t, endpoint).SMSTo(to)); n != 0 {
			t.Errorf("%q: %d SMS sent", to, n)
		}
	}
}

// TestPublishRequest records what Send asks SNS: Publish to the number,
// with the text and a transactional SMS type.
func TestPublishRequest(t *testing.T) {
	t.Parallel()
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult>`+
			`<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`)
	}))
	defer srv.Close()
	m := message("+34600111222", "DE")
	id, err := sns.New(sns.NewClient("eu-west-1", srv.URL, nil)).Send(context.Background(), m)
	if err != nil || id != "m-1" {
		t.Fatalf("id %q, %v", id, err)
	}
	_, text := identification.RenderMessage(m)
	want := map[string]string{
		"Action":                         "Publish",
		"PhoneNumber":                    "+34600111222",
		"Message":                        text,
		"MessageAttributes.entry.1.Name": "AWS.SNS.SMS.SMSType",
		"MessageAttributes.entry.1.Value.DataType":    "String",
		"MessageAttributes.entry.1.Value.StringValue": "Transactional",
	}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("%s = %q, want %q (form %v)", k, got, v, form)
		}
	}
	for _, k := range []string{"TopicArn", "TargetArn", "Subject", "MessageAttributes.entry.2.Name"} {
		if form.Has(k) {
			t.Errorf("unexpected %s in %v", k, form)
		}
	}
}

// TestSendErrors answers Publish with SNS's errors: a refused number or an
// opted-out one is undeliverable, throttling and server errors are not; no
// error repeats SNS's message, which here quotes the number and the code.
func TestSendErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status        int
		code          string
		undeliverable bool
	}{
		{400, "InvalidParameter", true},
		{400, "ParameterValueInvalid", true},
		{400, "OptedOut", true},
		{400, "EndpointDisabled", true},
		{400, "Throttled", false},
		{400, "KMSThrottling", false},
		{403, "AuthorizationError", false},
		{500, "InternalError", false},
		{503, "ServiceUnavailable", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.Header().Set("X-Amzn-Requestid", "req-"+c.code)
			w.WriteHeader(c.status)
			fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code>`+
				`<Message>Invalid parameter: PhoneNumber +34600111222 (k4khb9)</Message></Error><RequestId>req-%s</RequestId></ErrorResponse>`, c.code, c.code)
		}))
		client := sns.NewClient("eu-west-1", srv.URL, nil, func(o *awssns.Options) { o.RetryMaxAttempts = 1 })
		_, err := sns.New(client).Send(context.Background(), message("+34600111222", "ES"))
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
		if msg := err.Error(); strings.Contains(msg, "600111222") || strings.Contains(msg, "k4khb9") || !strings.Contains(msg, c.code) {
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
	client := sns.NewClient("eu-west-1", endpoint, nil, func(o *awssns.Options) { o.RetryMaxAttempts = 1 })
	_, err := sns.New(client).Send(context.Background(), message("+34600111222", "ES"))
	if err == nil || errors.Is(err, identification.ErrUndeliverable) {
		t.Fatalf("%v, want a plain error", err)
	}
	if strings.Contains(err.Error(), "600111222") {
		t.Errorf("the error shows the number: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sns.New(client).Send(ctx, message("+34600111222", "ES")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
