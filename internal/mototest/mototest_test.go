package mototest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// This package has no TestMain: its tests use Start without Main.

// TestStartWithoutMainStopsAfterTheLastUser runs two parallel tests on one
// server, and checks it is gone once both ended.
func TestStartWithoutMainStopsAfterTheLastUser(t *testing.T) {
	var endpoints [2]string
	t.Run("users", func(t *testing.T) {
		for i := range endpoints {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				endpoints[i] = Start(t)
				time.Sleep(200 * time.Millisecond) // overlap the other user
				if resp, err := http.Get(endpoints[i] + "/moto-api/"); err != nil {
					t.Errorf("the server does not answer: %v", err)
				} else {
					resp.Body.Close()
				}
			})
		}
	})
	if endpoints[0] == "" || endpoints[0] != endpoints[1] {
		t.Fatalf("endpoints %q: want one server for both", endpoints)
	}
	if resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(endpoints[0] + "/moto-api/"); err == nil {
		resp.Body.Close()
		t.Errorf("moto_server still answers on %s after its last user ended", endpoints[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if cur != nil || users != 0 {
		t.Errorf("server %v, %d users left", cur, users)
	}
}

// TestDataReadsWhatWasSent sends one SMS and one e-mail with raw requests
// and reads them back.
func TestDataReadsWhatWasSent(t *testing.T) {
	endpoint := Start(t)
	post := func(path, service, contentType, body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, endpoint+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/"+service+"/aws4_request, SignedHeaders=host, Signature=x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d", path, resp.StatusCode)
		}
	}
	post("/", "sns", "application/x-www-form-urlencoded", url.Values{
		"Action": {"Publish"}, "Version": {"2010-03-31"}, "PhoneNumber": {"+34600000001"}, "Message": {"hola k4khb9"}}.Encode())
	post("/v2/email/identities", "ses", "application/json", `{"EmailIdentity":"no-reply@example.com"}`)
	post("/v2/email/outbound-emails", "ses", "application/json", `{"FromEmailAddress":"no-reply@example.com",`+
		`"Destination":{"ToAddresses":["a@example.org"],"BccAddresses":["b@example.org"]},`+
		`"Content":{"Simple":{"Subject":{"Data":"Código"},"Body":{"Text":{"Data":"Gültig k4khb9"}}}}}`)
	d := Data(t, endpoint)
	sms := d.SMSTo("+34600000001")
	if len(sms) != 1 || sms[0].Message != "hola k4khb9" || sms[0].MessageID == "" {
		t.Errorf("SMS %+v", d.SNS.SMS)
	}
	for _, to := range []string{"a@example.org", "b@example.org"} {
		mail := d.MailTo(to)
		if len(mail) != 1 || mail[0].Subject != "Código" || mail[0].Body != "Gültig k4khb9" || mail[0].Source != "no-reply@example.com" || mail[0].ID == "" {
			t.Errorf("%s: mail %+v", to, d.SES.Message)
		}
	}
	if len(d.SMSTo("+34600000002")) != 0 || len(d.MailTo("c@example.org")) != 0 {
		t.Error("messages to others")
	}
}
