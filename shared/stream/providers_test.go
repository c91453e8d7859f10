package stream_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssesv2 "github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sesv2"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/sns"
)

var codeIn = regexp.MustCompile(`\b(?:es|lautet) ([0-9a-z]{6})\b`)

// TestCodesReachTheProviders sends through the real SDK adapters, to
// moto_server: an SMS in Spanish and an e-mail in German reach the actor's
// number and address, differ, say nothing of the actor, and carry a code
// that validates.
func TestCodesReachTheProviders(t *testing.T) {
	endpoint := mototest.Start(t)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		const from = "codes@idadmin.example"
		sesClient := sesv2.NewClient("us-east-1", endpoint, nil)
		if _, err := sesClient.CreateEmailIdentity(context.Background(), &awssesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
			t.Fatal(err)
		}
		r.proc.Senders = map[string]identification.Sender{"SMS": sns.New(sns.NewClient("us-east-1", endpoint, nil)), "EMAIL": sesv2.New(sesClient, from)}
		// A number and an address of each engine's own: the engines' runs
		// share one moto.
		phone, mail := map[string]string{"dynoxide": "611111111", "dynamodb-local": "622222222"}[e.Name], e.Name+"@example.com"
		smsOTP := r.createOTPTo(t, "SMS", "ES", phone, mail)
		mailOTP := r.createOTPTo(t, "EMAIL", "DE", phone, mail)
		r.drain(t)
		data := mototest.Data(t, endpoint)
		texts := data.SMSTo("+34" + phone)
		mails := data.MailTo(mail)
		if len(texts) != 1 || len(mails) != 1 {
			t.Fatalf("moto holds %d SMS to the number and %d e-mails to the address, want 1 each", len(texts), len(mails))
		}
		sms, email := texts[0].Message, mails[0].Subject+"\n"+mails[0].Body
		if sms == mails[0].Body {
			t.Error("the Spanish and the German texts are the same")
		}
		for _, c := range []struct {
			what, text string
			i          *identification.Identification
		}{{"SMS", sms, smsOTP}, {"e-mail", email, mailOTP}} {
			for _, pii := range []string{"Zacar", "Distinctname", "98765432Z"} {
				if strings.Contains(c.text, pii) {
					t.Errorf("the %s carries actor data: %q", c.what, c.text)
				}
			}
			m := codeIn.FindStringSubmatch(c.text)
			if m == nil || !strings.Contains(c.text, "acme") {
				t.Fatalf("the %s %q names no code or no organisation", c.what, c.text)
			}
			if err := r.svc.Validate(t.Context(), c.i.Ref(), identification.Validation{Code: m[1]}, actor); err != nil {
				t.Errorf("the %s's code does not validate: %v", c.what, err)
			}
		}
		if got, _ := r.svc.Get(t.Context(), smsOTP.Ref()); got.OTP.Delivery.Status != identification.DeliverySent {
			t.Errorf("SMS delivery %+v, want SENT", got.OTP.Delivery)
		}
	})
}

func (r *rig) createOTPTo(t *testing.T, channel, language, phone, mail string) *identification.Identification {
	t.Helper()
	in := identification.CreateOTP{
		Actor: &identification.Actor{Name: "Zacarías Distinctname", Email: mail, Language: language,
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "98765432Z", DocumentType: "NIF"},
			MSISDN:           &identification.MSISDN{PhoneNumber: phone, CountryCode: "34"}},
		Channel: &identification.Channel{Type: channel}, ExpiresIn: "P1D",
	}
	created, err := r.svc.CreateOTP(t.Context(), "acme", in, admin)
	if err != nil {
		t.Fatal(err)
	}
	return created.Identification
}

// TestOwnTextsReachTheProviders: an organisation's own SMS and e-mail
// texts reach moto's SNS and SES as filled, with its name, its codes'
// length and lifetime, and the e-mail's line breaks; the code they carry
// validates.
func TestOwnTextsReachTheProviders(t *testing.T) {
	endpoint := mototest.Start(t)
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		svc := r.withSettings(t)
		const from = "codes@idadmin.example"
		sesClient := sesv2.NewClient("us-east-1", endpoint, nil)
		if _, err := sesClient.CreateEmailIdentity(context.Background(), &awssesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(from)}); err != nil {
			t.Fatal(err)
		}
		r.proc.Senders = map[string]identification.Sender{"SMS": sns.New(sns.NewClient("us-east-1", endpoint, nil)), "EMAIL": sesv2.New(sesClient, from)}
		if _, err := svc.Put(t.Context(), "acme", settings.Settings{DisplayName: "Acme Bank", CodeLength: 9, CodeTTLMinutes: 5,
			Messages: map[string]map[string]string{
				"SMS":   {"ES": "{org}: tu clave es {code}. Caduca en {minutes} min."},
				"EMAIL": {"DE": "Hallo,\n\nIhr Code bei {org}: {code}\nGültig bis {expires_at}."}}}, 0, ops); err != nil {
			t.Fatal(err)
		}
		phone, mail := map[string]string{"dynoxide": "633333333", "dynamodb-local": "644444444"}[e.Name], "own-"+e.Name+"@example.com"
		smsOTP := r.createOTPTo(t, "SMS", "ES", phone, mail)
		mailOTP := r.createOTPTo(t, "EMAIL", "DE", phone, mail)
		r.drain(t)
		data := mototest.Data(t, endpoint)
		texts, mails := data.SMSTo("+34"+phone), data.MailTo(mail)
		if len(texts) != 1 || len(mails) != 1 {
			t.Fatalf("moto holds %d SMS to the number and %d e-mails to the address, want 1 each", len(texts), len(mails))
		}
		sms := regexp.MustCompile(`^Acme Bank: tu clave es ([0-9a-z]{9})\. Caduca en 5 min\.$`).FindStringSubmatch(texts[0].Message)
		if sms == nil {
			t.Fatalf("the SMS %q is not the organisation's text filled", texts[0].Message)
		}
		until := start.Add(5 * time.Minute).Format("2006-01-02 15:04 UTC")
		email := regexp.MustCompile(`^Hallo,\n\nIhr Code bei Acme Bank: ([0-9a-z]{9})\nGültig bis ` + regexp.QuoteMeta(until) + `\.$`).FindStringSubmatch(mails[0].Body)
		if email == nil || !strings.Contains(mails[0].Subject, "Acme Bank") {
			t.Fatalf("the e-mail %q / %q is not the organisation's text filled", mails[0].Subject, mails[0].Body)
		}
		for _, c := range []struct {
			code string
			i    *identification.Identification
		}{{sms[1], smsOTP}, {email[1], mailOTP}} {
			if err := r.svc.Validate(t.Context(), c.i.Ref(), identification.Validation{Code: c.code}, actor); err != nil {
				t.Errorf("the code received for %s does not validate: %v", c.i.ID, err)
			}
		}
	})
}
