package sigv4_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/sigv4"
)

var (
	testCreds = aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "example-secret", SessionToken: "example-session"}
	testNow   = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
)

// received is one request as the server saw it.
type received struct {
	r    *http.Request
	body []byte
}

// server records each request and answers with status, header and body.
type server struct {
	mu     sync.Mutex
	got    []received
	status int
	header http.Header
	answer string
	*httptest.Server
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, received{r, body})
		status, header, answer := s.status, s.header, s.answer
		s.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		if status == 0 {
			status = http.StatusOK
		}
		w.WriteHeader(status)
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) client(service string) *sigv4.Client {
	return &sigv4.Client{Service: service, Region: "eu-west-1", HTTPClient: s.Client(),
		Credentials: credentials.StaticCredentialsProvider{Value: testCreds}, Now: func() time.Time { return testNow }}
}

// checkSigned checks that rec is signed as a service checks it: with the
// test credentials, for service in eu-west-1 at the test clock, over the
// body received (X-Amz-Content-Sha256), naming at least the headers want.
func checkSigned(t *testing.T, rec received, service string, want ...string) {
	t.Helper()
	s := parseAuthorization(t, rec.r)
	if s.AccessKeyID != testCreds.AccessKeyID || s.Region != "eu-west-1" || s.Service != service || s.AmzDate != "20261201T100000Z" {
		t.Errorf("signed by %s for %s/%s at %s", s.AccessKeyID, s.Region, s.Service, s.AmzDate)
	}
	sum := sha256.Sum256(rec.body)
	hash := hex.EncodeToString(sum[:])
	if got := rec.r.Header.Get("X-Amz-Content-Sha256"); got != hash {
		t.Errorf("X-Amz-Content-Sha256 %q, want the body's %s", got, hash)
	}
	if got := rec.r.Header.Get("X-Amz-Security-Token"); got != testCreds.SessionToken {
		t.Errorf("X-Amz-Security-Token %q", got)
	}
	for _, h := range append([]string{"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}, want...) {
		if !slices.Contains(s.SignedHeaders, h) {
			t.Errorf("%s is not signed: %v", h, s.SignedHeaders)
		}
	}
	if got := expectedSignature(t, rec.r, s, testCreds.SecretAccessKey, hash); got != s.Signature {
		t.Errorf("the signature does not verify: got %s, want %s", s.Signature, got)
	}
}

// TestDoSignsWhatItSends sends a JSON POST: the server receives the
// payload, its hash and a signature that verifies, independently and by
// the SDK's signer signing again what was received.
func TestDoSignsWhatItSends(t *testing.T) {
	srv := newServer(t)
	c := srv.client("secretsmanager")
	payload := []byte(`{"SecretId":"arn:aws:secretsmanager:eu-west-1:123:secret:code"}`)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/", nil)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	resp, err := c.Do(req, payload)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(srv.got) != 1 {
		t.Fatalf("%d requests, want 1", len(srv.got))
	}
	rec := srv.got[0]
	if string(rec.body) != string(payload) || rec.r.ContentLength != int64(len(payload)) {
		t.Errorf("body %q (length %d), want %q", rec.body, rec.r.ContentLength, payload)
	}
	checkSigned(t, rec, "secretsmanager", "content-type", "x-amz-target", "content-length")

	// The SDK's signer, signing a copy of what was received with the
	// headers the client signed, gives the same Authorization.
	again, _ := http.NewRequest(rec.r.Method, "http://"+rec.r.Host+rec.r.URL.RequestURI(), strings.NewReader(string(rec.body)))
	for _, h := range parseAuthorization(t, rec.r).SignedHeaders {
		switch h {
		case "host", "x-amz-date", "x-amz-security-token", "content-length":
		default:
			again.Header.Set(h, rec.r.Header.Get(h))
		}
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), testCreds, again, sigv4.PayloadHash(rec.body), "secretsmanager", "eu-west-1", testNow); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.r.Header.Get("Authorization"), again.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
}

// TestDoSignsThePathAsEachServiceReadsIt: S3 signs the path as sent, every
// other service its escaped form; an empty payload is sent as none, with
// the empty payload's hash.
func TestDoSignsThePathAsEachServiceReadsIt(t *testing.T) {
	for _, service := range []string{"s3", "social-messaging"} {
		t.Run(service, func(t *testing.T) {
			srv := newServer(t)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/bucket/a:b~c/d%20e?versionId="+url.QueryEscape("v 1/+="), nil)
			req.Header.Set("Range", "bytes=0-15")
			resp, err := srv.client(service).Do(req, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			rec := srv.got[0]
			if len(rec.body) != 0 || rec.r.ContentLength != 0 {
				t.Errorf("a GET sent a body of %d bytes (length %d)", len(rec.body), rec.r.ContentLength)
			}
			if got := rec.r.Header.Get("X-Amz-Content-Sha256"); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
				t.Errorf("X-Amz-Content-Sha256 %q, want the empty payload's", got)
			}
			checkSigned(t, rec, service, "range")
		})
	}
}

// TestPresign signs a download link in its query, at the time given,
// over an unsigned payload.
func TestPresign(t *testing.T) {
	c := &sigv4.Client{Service: "s3", Region: "eu-west-1", Credentials: credentials.StaticCredentialsProvider{Value: testCreds}}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://evidence.s3.eu-west-1.amazonaws.com/org/doc~1.png?X-Amz-Expires=300&versionId=v1", nil)
	link, err := c.Presign(req, testNow)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	got := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	s := parseAuthorization(t, got)
	if s.AmzDate != "20261201T100000Z" || s.Service != "s3" || u.Query().Get("X-Amz-Security-Token") != testCreds.SessionToken {
		t.Errorf("link %s", link)
	}
	if want := expectedSignature(t, got, s, testCreds.SecretAccessKey, sigv4.UnsignedPayload); want != s.Signature {
		t.Errorf("the signature does not verify: got %s, want %s", s.Signature, want)
	}
}

// TestCredentials: they are retrieved at each request; none, empty ones or
// a failing provider are an error before anything is sent.
func TestCredentials(t *testing.T) {
	srv := newServer(t)
	token := "first"
	c := srv.client("s3")
	c.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "ASIAROTATED", SecretAccessKey: "s", SessionToken: token}, nil
	})
	for _, want := range []string{"first", "rotated"} {
		token = want
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/b/k", nil)
		resp, err := c.Do(req, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := srv.got[len(srv.got)-1].r.Header.Get("X-Amz-Security-Token"); got != want {
			t.Errorf("session token %q, want %q", got, want)
		}
	}

	sent := len(srv.got)
	for name, provider := range map[string]aws.CredentialsProvider{
		"none":  nil,
		"empty": credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: "AKID"}},
		"failing": aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("expired")
		}),
	} {
		c.Credentials = provider
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/b/k", nil)
		if _, err := c.Do(req, nil); err == nil || !strings.Contains(err.Error(), "credentials") {
			t.Errorf("%s: %v, want an error about the credentials", name, err)
		}
		if _, err := c.Presign(req, testNow); err == nil {
			t.Errorf("%s: a link signed", name)
		}
	}
	if len(srv.got) != sent {
		t.Errorf("%d requests sent without credentials", len(srv.got)-sent)
	}
}

// TestUnreachable: a request without an answer is an UnreachableError
// naming the service.
func TestUnreachable(t *testing.T) {
	srv := newServer(t)
	c := srv.client("secretsmanager")
	srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/", nil)
	_, err := c.Do(req, []byte(`{}`))
	var ue *sigv4.UnreachableError
	if !errors.As(err, &ue) || ue.Service != "secretsmanager" || !strings.HasPrefix(err.Error(), "secretsmanager unreachable: ") {
		t.Fatalf("%v, want an UnreachableError", err)
	}
}

// TestCallJSON makes a JSON 1.1 call: the action in X-Amz-Target, the
// input as the body, the answer decoded.
func TestCallJSON(t *testing.T) {
	srv := newServer(t)
	srv.answer = `{"SecretString":"s3cr3t","Name":"code"}`
	var out struct{ SecretString, Name string }
	if err := srv.client("secretsmanager").CallJSON(t.Context(), srv.URL+"/", "secretsmanager.GetSecretValue", map[string]string{"SecretId": "code"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.SecretString != "s3cr3t" || out.Name != "code" {
		t.Errorf("answer %+v", out)
	}
	rec := srv.got[0]
	if rec.r.Method != http.MethodPost || rec.r.URL.Path != "/" || rec.r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
		rec.r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || string(rec.body) != `{"SecretId":"code"}` {
		t.Errorf("request %s %s %v %s", rec.r.Method, rec.r.URL.Path, rec.r.Header, rec.body)
	}
	checkSigned(t, rec, "secretsmanager", "content-type", "x-amz-target")

	srv.answer = `not json`
	if err := srv.client("secretsmanager").CallJSON(t.Context(), srv.URL, "secretsmanager.GetSecretValue", map[string]string{}, &out); err == nil || strings.Contains(err.Error(), "not json") {
		t.Errorf("an answer that is not JSON: %v", err)
	}
}

// TestCallJSONErrors: an error answer is told by its code, status and
// request id, as shared/awserr classifies the SDK clients' errors, and
// never by its message.
func TestCallJSONErrors(t *testing.T) {
	cases := []struct {
		status int
		header http.Header
		body   string
		code   string
	}{
		{400, http.Header{"X-Amzn-Requestid": {"req-1"}}, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the secret code-7"}`, "ResourceNotFoundException"},
		{400, http.Header{"X-Amzn-Requestid": {"req-2"}}, `{"__type":"com.amazonaws.secretsmanager#AccessDeniedException","Message":"user arn:aws:iam::123:role/x"}`, "AccessDeniedException"},
		{403, http.Header{"X-Amzn-Errortype": {"UnrecognizedClientException:http://internal.amazon.com/coral/"}, "X-Amzn-Requestid": {"req-3"}}, `{"message":"The security token is invalid"}`, "UnrecognizedClientException"},
		{503, nil, `<html>Service Unavailable for code-7</html>`, "Service Unavailable"},
	}
	for _, c := range cases {
		srv := newServer(t)
		srv.status, srv.header, srv.answer = c.status, c.header, c.body
		err := srv.client("secretsmanager").CallJSON(t.Context(), srv.URL, "secretsmanager.GetSecretValue", map[string]string{"SecretId": "code-7"}, nil)
		var pe *awserr.ProviderError
		if !errors.As(awserr.Classify("GetSecretValue", err, nil), &pe) || pe.Code != c.code || pe.StatusCode != c.status ||
			pe.RequestID != c.header.Get("X-Amzn-Requestid") {
			t.Errorf("%d %s: %v, classified %+v", c.status, c.code, err, pe)
			continue
		}
		for _, secret := range []string{"code-7", "arn:aws:iam", "security token is invalid"} {
			if strings.Contains(pe.Error(), secret) || strings.Contains(err.Error(), secret) {
				t.Errorf("%d %s: the error shows %q: %v", c.status, c.code, secret, err)
			}
		}
	}
}

// TestErrorCode reads the code of each protocol's error answer, without
// namespace or URL, and nothing else.
func TestErrorCode(t *testing.T) {
	cases := []struct {
		header, body, want string
	}{
		{"ValidationException:http://internal.amazon.com/coral/com.amazon.coral.validate/", `{"message":"x"}`, "ValidationException"},
		{"", `{"__type":"com.amazonaws.socialmessaging#InvalidParametersException","message":"+34600111222"}`, "InvalidParametersException"},
		{"", `{"__type":"aws.protocols#ThrottlingException"}`, "ThrottlingException"},
		{"", `{"code":"DependencyException","message":"Meta said"}`, "DependencyException"},
		{"", `<?xml version="1.0"?><Error><Code>NoSuchKey</Code><Message>The key org/doc does not exist</Message></Error>`, "NoSuchKey"},
		{"", `<Error><Code>Not a code: org/doc</Code></Error>`, ""},
		{"", `<html>Service Unavailable +34600111222</html>`, ""},
		{"", `{"__type":"` + strings.Repeat("A", 65) + `"}`, ""},
		{"", ``, ""},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.header != "" {
			h.Set("X-Amzn-ErrorType", c.header)
		}
		if got := sigv4.ErrorCode(h, []byte(c.body)); got != c.want {
			t.Errorf("%q %s: %q, want %q", c.header, c.body, got, c.want)
		}
	}
}

// TestResponseErrorIsClassifiedAsTheSDKs: S3's request id is read too; a
// 5xx is a server fault.
func TestResponseErrorIsClassifiedAsTheSDKs(t *testing.T) {
	resp := &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"X-Amz-Request-Id": {"s3-req"}}}
	var pe *awserr.ProviderError
	if err := awserr.Classify("s3 get object", sigv4.ResponseError(resp, "SlowDown"), nil); !errors.As(err, &pe) ||
		*pe != (awserr.ProviderError{Op: "s3 get object", Code: "SlowDown", StatusCode: 503, RequestID: "s3-req"}) {
		t.Errorf("%v", err)
	}
}
