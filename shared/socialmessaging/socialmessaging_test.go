package socialmessaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/identification"
)

var (
	testCreds = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", SessionToken: "session"}
	testNow   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// recorder is a local stand-in for the service: it keeps each request and
// answers with status and body.
type recorder struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	status int
	header http.Header
	answer string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.bodies = append(rec.bodies, body)
	status, answer, header := rec.status, rec.answer, rec.header
	rec.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	fmt.Fprint(w, answer)
}

func newTestSender(t *testing.T, rec *recorder, cfg Config) *Sender {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	cfg.Endpoint = srv.URL
	cfg.HTTPClient = srv.Client()
	if cfg.Region == "" {
		cfg.Region = "eu-west-1"
	}
	if cfg.OriginationPhoneNumberID == "" {
		cfg.OriginationPhoneNumberID = "phone-number-id-0123456789abcdef0123456789abcdef"
	}
	if cfg.TemplateName == "" {
		cfg.TemplateName = "idadmin_code"
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.StaticCredentialsProvider{Value: testCreds}
	}
	s := New(cfg)
	s.client.Now = func() time.Time { return testNow }
	return s
}

func testMessage() identification.Message {
	return identification.Message{
		Channel:          "WHATSAPP",
		To:               "+34600111222",
		Language:         "ES",
		Org:              "acme",
		Code:             "k4khb9",
		ValidUntil:       time.Date(2026, 12, 1, 10, 10, 0, 0, time.FixedZone("CET", 3600)),
		IdentificationID: "0193a000-0000-7000-8000-000000000001",
	}
}

// sent is the recorded request body, its message decoded.
type sent struct {
	OriginationPhoneNumberID string `json:"originationPhoneNumberId"`
	MetaAPIVersion           string `json:"metaApiVersion"`
	Message                  waMessage
}

func decodeSent(t *testing.T, body []byte) sent {
	t.Helper()
	var raw struct {
		OriginationPhoneNumberID string `json:"originationPhoneNumberId"`
		Message                  string `json:"message"`
		MetaAPIVersion           string `json:"metaApiVersion"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("request body %s: %v", body, err)
	}
	msg, err := base64.StdEncoding.DecodeString(raw.Message)
	if err != nil {
		t.Fatalf("message is not base64: %v", err)
	}
	out := sent{OriginationPhoneNumberID: raw.OriginationPhoneNumberID, MetaAPIVersion: raw.MetaAPIVersion}
	dec = json.NewDecoder(bytes.NewReader(msg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out.Message); err != nil {
		t.Fatalf("WhatsApp message %s: %v", msg, err)
	}
	return out
}

// TestSendIsTheDocumentedCall records a send with an authentication
// template: POST /v1/whatsapp/send, JSON, the members of the service model,
// the Meta template message in base64 with the code in the body and in the
// copy-code button, and a SigV4 signature for social-messaging in the
// region with the session token.
func TestSendIsTheDocumentedCall(t *testing.T) {
	rec := &recorder{answer: `{"messageId":"wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI"}`}
	s := newTestSender(t, rec, Config{})
	id, err := s.Send(context.Background(), testMessage())
	if err != nil {
		t.Fatal(err)
	}
	if id != "wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI" {
		t.Errorf("message id %q", id)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(rec.reqs))
	}
	r, body := rec.reqs[0], rec.bodies[0]
	if r.Method != http.MethodPost || r.URL.Path != "/v1/whatsapp/send" || r.URL.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	got := decodeSent(t, body)
	if got.OriginationPhoneNumberID != "phone-number-id-0123456789abcdef0123456789abcdef" || got.MetaAPIVersion != "v20.0" {
		t.Errorf("originationPhoneNumberId %q, metaApiVersion %q", got.OriginationPhoneNumberID, got.MetaAPIVersion)
	}
	m := got.Message
	if m.MessagingProduct != "whatsapp" || m.Type != "template" || m.To != "+34600111222" || m.RecipientType != "individual" {
		t.Errorf("message %+v", m)
	}
	if m.Template.Name != "idadmin_code" || m.Template.Language.Code != "es" {
		t.Errorf("template %q language %q", m.Template.Name, m.Template.Language.Code)
	}
	want := []waComponent{
		{Type: "body", Parameters: []waParameter{{Type: "text", Text: "k4khb9"}}},
		{Type: "button", SubType: "url", Index: "0", Parameters: []waParameter{{Type: "text", Text: "k4khb9"}}},
	}
	if fmt.Sprint(m.Template.Components) != fmt.Sprint(want) {
		t.Errorf("components %+v, want %+v", m.Template.Components, want)
	}

	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/eu-west-1/social-messaging/aws4_request, ") {
		t.Errorf("Authorization %q", auth)
	}
	for _, h := range []string{"content-type", "host", "x-amz-date", "x-amz-security-token"} {
		if !strings.Contains(signedHeaders(auth), h) {
			t.Errorf("%s is not signed: %q", h, auth)
		}
	}
	if r.Header.Get("X-Amz-Date") != "20261201T100000Z" || r.Header.Get("X-Amz-Security-Token") != "session" {
		t.Errorf("X-Amz-Date %q, X-Amz-Security-Token %q", r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Security-Token"))
	}
	// The signature is over this very body: signing what the recorder
	// received again gives the same Authorization.
	if again := resign(t, r, body); again != auth {
		t.Errorf("the signature does not match the request received:\n got %s\nwant %s", auth, again)
	}
}

func signedHeaders(auth string) string {
	_, after, _ := strings.Cut(auth, "SignedHeaders=")
	list, _, _ := strings.Cut(after, ",")
	return list
}

// resign signs a copy of the received request holding only the headers the
// client signed, with the test credentials and clock.
func resign(t *testing.T, r *http.Request, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range strings.Split(signedHeaders(r.Header.Get("Authorization")), ";") {
		switch h {
		case "host", "x-amz-date", "x-amz-security-token", "content-length":
		default:
			req.Header.Set(h, r.Header.Get(h))
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, req, hex.EncodeToString(sum[:]), "social-messaging", "eu-west-1", testNow); err != nil {
		t.Fatal(err)
	}
	return req.Header.Get("Authorization")
}

// TestUtilityTemplateParameters checks the three body parameters of a
// utility template: the organisation, the code, and the time it is valid
// until, in UTC.
func TestUtilityTemplateParameters(t *testing.T) {
	rec := &recorder{answer: `{"messageId":"m-1"}`}
	s := newTestSender(t, rec, Config{Category: Utility, TemplateName: "idadmin_code_utility", MetaAPIVersion: "v21.0"})
	m := testMessage()
	m.Language = "DE"
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := decodeSent(t, rec.bodies[0])
	if got.MetaAPIVersion != "v21.0" || got.Message.Template.Name != "idadmin_code_utility" || got.Message.Template.Language.Code != "de" {
		t.Errorf("version %q template %q language %q", got.MetaAPIVersion, got.Message.Template.Name, got.Message.Template.Language.Code)
	}
	want := []waComponent{{Type: "body", Parameters: []waParameter{
		{Type: "text", Text: "acme"}, {Type: "text", Text: "k4khb9"}, {Type: "text", Text: "2026-12-01 09:10 UTC"},
	}}}
	if fmt.Sprint(got.Message.Template.Components) != fmt.Sprint(want) {
		t.Errorf("components %+v, want %+v", got.Message.Template.Components, want)
	}
}

// TestLanguages maps every API language to a WhatsApp template language:
// Basque and Galician, which WhatsApp has no templates in, to Spanish; an
// empty or unknown one to English; Config.Languages overrides entries.
func TestLanguages(t *testing.T) {
	want := map[string]string{"ES": "es", "EN": "en", "EU": "es", "GL": "es", "CA": "ca", "DE": "de", "": "en", "XX": "en", "ca": "ca"}
	s := New(Config{Region: "eu-west-1"})
	for lang, code := range want {
		if got := s.language(lang); got != code {
			t.Errorf("%q: %q, want %q", lang, got, code)
		}
	}
	for _, lang := range identification.Languages {
		if _, ok := Languages[lang]; !ok {
			t.Errorf("API language %s has no WhatsApp language", lang)
		}
	}
	o := New(Config{Region: "eu-west-1", Languages: map[string]string{"EN": "en_US"}})
	if o.language("EN") != "en_US" || o.language("") != "en_US" || o.language("ES") != "es" {
		t.Errorf("override: EN %q, none %q, ES %q", o.language("EN"), o.language(""), o.language("ES"))
	}
	if Languages["EN"] != "en" {
		t.Error("an override changed the package's map")
	}
}

// TestErrors maps the service's refusals: invalid messages and an unknown
// origination number are undeliverable; throttling, the service's failures
// and access denied may pass on a retry. No error shows the destination,
// the code or the service's message.
func TestErrors(t *testing.T) {
	cases := []struct {
		status        int
		header        string
		body          string
		kind          string
		undeliverable bool
	}{
		{400, "ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/", `{"message":"invalid +34600111222 k4khb9"}`, "ValidationException", true},
		{400, "", `{"__type":"com.amazonaws.socialmessaging#InvalidParametersException","message":"to +34600111222"}`, "InvalidParametersException", true},
		{404, "ResourceNotFoundException", `{"message":"no such phone number"}`, "ResourceNotFoundException", true},
		{403, "AccessDeniedException", `{"message":"not authorized"}`, "AccessDeniedException", false},
		{429, "ThrottledRequestException", `{"message":"slow down"}`, "ThrottledRequestException", false},
		{500, "InternalServiceException", `{}`, "InternalServiceException", false},
		{502, "", `{"code":"DependencyException","message":"Meta said +34600111222"}`, "DependencyException", false},
		{503, "", `<html>Service Unavailable +34600111222</html>`, "", false},
	}
	for _, c := range cases {
		rec := &recorder{status: c.status, answer: c.body}
		if c.header != "" {
			rec.header = http.Header{"X-Amzn-Errortype": {c.header}}
		}
		s := newTestSender(t, rec, Config{})
		id, err := s.Send(context.Background(), testMessage())
		if err == nil || id != "" {
			t.Errorf("%d %s: id %q, err %v", c.status, c.kind, id, err)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != c.status || e.Kind != c.kind {
			t.Errorf("%d %s: %#v", c.status, c.kind, err)
		}
		if got := errors.Is(err, identification.ErrUndeliverable); got != c.undeliverable {
			t.Errorf("%d %s: undeliverable %v, want %v", c.status, c.kind, got, c.undeliverable)
		}
		for _, secret := range []string{"+34600111222", "34600111222", "k4khb9", "slow down", "not authorized"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%d %s: the error %q shows %q", c.status, c.kind, err, secret)
			}
		}
	}
}

// TestRefusedBeforeSending covers what is not sent at all: an unset sender,
// a destination that is not E.164, another channel, an answer without a
// message id, and a service that cannot be reached.
func TestRefusedBeforeSending(t *testing.T) {
	rec := &recorder{answer: `{"messageId":"m-1"}`}
	s := newTestSender(t, rec, Config{})
	m := testMessage()
	m.To = "600111222"
	if _, err := s.Send(context.Background(), m); !errors.Is(err, identification.ErrUndeliverable) || strings.Contains(err.Error(), "600111222") {
		t.Errorf("a number without +: %v", err)
	}
	m = testMessage()
	m.Channel = "SMS"
	if _, err := s.Send(context.Background(), m); !errors.Is(err, identification.ErrUndeliverable) {
		t.Errorf("an SMS: %v", err)
	}
	unset := New(Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:1"})
	if _, err := unset.Send(context.Background(), testMessage()); err == nil || errors.Is(err, identification.ErrUndeliverable) {
		t.Errorf("no phone number id or template: %v", err)
	}
	for name, creds := range map[string]aws.CredentialsProvider{
		"no credentials":    nil,
		"empty credentials": credentials.StaticCredentialsProvider{},
	} {
		unsigned := New(Config{Region: "eu-west-1", Endpoint: s.endpoint, HTTPClient: s.cfg.HTTPClient,
			OriginationPhoneNumberID: "p", TemplateName: "t", Credentials: creds})
		if _, err := unsigned.Send(context.Background(), testMessage()); err == nil || errors.Is(err, identification.ErrUndeliverable) ||
			!strings.Contains(err.Error(), "credentials") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(rec.reqs) != 0 {
		t.Errorf("%d requests sent for refused messages", len(rec.reqs))
	}

	empty := &recorder{answer: `{}`}
	if _, err := newTestSender(t, empty, Config{}).Send(context.Background(), testMessage()); err == nil || errors.Is(err, identification.ErrUndeliverable) {
		t.Errorf("an answer without a message id: %v", err)
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	down := New(Config{Region: "eu-west-1", Endpoint: url, OriginationPhoneNumberID: "p", TemplateName: "t",
		Credentials: credentials.StaticCredentialsProvider{Value: testCreds}})
	_, err := down.Send(context.Background(), testMessage())
	if err == nil || errors.Is(err, identification.ErrUndeliverable) || strings.Contains(err.Error(), "34600111222") || strings.Contains(err.Error(), "k4khb9") {
		t.Errorf("a service that cannot be reached: %v", err)
	}
}

// TestDefaults checks the region's endpoint and the credentials, asked for
// at each send.
func TestDefaults(t *testing.T) {
	s := New(Config{Region: "eu-central-1"})
	if s.endpoint != "https://social-messaging.eu-central-1.amazonaws.com" || s.client.Region != "eu-central-1" || s.client.Service != "social-messaging" {
		t.Errorf("endpoint %q region %q service %q", s.endpoint, s.client.Region, s.client.Service)
	}
	if s.cfg.MetaAPIVersion != "v20.0" || s.cfg.Category != Authentication {
		t.Errorf("version %q category %q", s.cfg.MetaAPIVersion, s.cfg.Category)
	}
	rec := &recorder{answer: `{"messageId":"m-1"}`}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	token := "envsession"
	s = New(Config{Region: "eu-central-1", Endpoint: srv.URL + "/", OriginationPhoneNumberID: "p", TemplateName: "t",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDENV", SecretAccessKey: "envsecret", SessionToken: token}, nil
		})})
	token = "rotated"
	if _, err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	r := rec.reqs[0]
	if r.URL.Path != "/v1/whatsapp/send" || !strings.Contains(r.Header.Get("Authorization"), "Credential=AKIDENV/") ||
		!strings.Contains(r.Header.Get("Authorization"), "/eu-central-1/social-messaging/aws4_request") ||
		r.Header.Get("X-Amz-Security-Token") != "rotated" {
		t.Errorf("path %q, Authorization %q, token %q", r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token"))
	}
}
