package s3evidence_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/s3evidence"
)

// lambdaCreds are credentials like a Lambda function's, with a session token.
var lambdaCreds = aws.Credentials{
	AccessKeyID:     "ASIAEXAMPLEKEY000001",
	SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	SessionToken:    "IQoJb3JpZ2luX2VjEXAMPLE//token+with/odd=chars",
}

var signedAt = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func newBucket(t *testing.T, endpoint string, creds aws.Credentials) *s3evidence.Bucket {
	t.Helper()
	b, err := s3evidence.New(s3evidence.Config{
		Bucket: "acme-evidence", Region: "eu-west-1", BaseEndpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPresignPostPolicy decodes the policy PresignPost signs and checks
// every condition, that every form field is bound by one (S3 refuses a
// field no condition names), and that the signature recomputes.
func TestPresignPostPolicy(t *testing.T) {
	t.Parallel()
	key := "orgs/acme/identifications/0193a000-0000-7000-8000-000000000001/front.jpg"
	for _, c := range []struct {
		name, endpoint, url string
	}{
		{"AWS", "", "https://acme-evidence.s3.eu-west-1.amazonaws.com/"},
		{"local", "http://127.0.0.1:4566/", "http://127.0.0.1:4566/acme-evidence"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := newBucket(t, c.endpoint, lambdaCreds).PresignPost(context.Background(), key, s3evidence.JPEG, signedAt)
			if err != nil {
				t.Fatal(err)
			}
			if f.URL != c.url {
				t.Errorf("URL %q, want %q", f.URL, c.url)
			}
			if want := signedAt.Add(5 * time.Minute); !f.Expires.Equal(want) {
				t.Errorf("Expires %v, want %v", f.Expires, want)
			}
			wantFields := map[string]string{
				"key":                  key,
				"Content-Type":         "image/jpeg",
				"x-amz-algorithm":      "AWS4-HMAC-SHA256",
				"x-amz-credential":     "ASIAEXAMPLEKEY000001/20261121/eu-west-1/s3/aws4_request",
				"x-amz-date":           "20261121T100000Z",
				"x-amz-security-token": lambdaCreds.SessionToken,
			}
			for k, v := range wantFields {
				if f.Fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, f.Fields[k], v)
				}
			}
			if len(f.Fields) != len(wantFields)+2 || f.Fields["policy"] == "" || f.Fields["x-amz-signature"] == "" {
				t.Errorf("fields %v: want those above, policy and x-amz-signature", f.Fields)
			}

			p, err := s3evidence.DecodePolicy(f.Fields)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Expiration.Equal(signedAt.Add(5*time.Minute)) || !p.Expiration.After(signedAt) {
				t.Errorf("expiration %v, want 5 minutes after %v", p.Expiration, signedAt)
			}
			if min, max, ok := p.LengthRange(); !ok || min != 1 || max != 5*1024*1024 {
				t.Errorf("content-length-range [%d, %d] (%v), want [1, 5242880]", min, max, ok)
			}
			if v, ok := p.Eq("bucket"); !ok || v != "acme-evidence" {
				t.Errorf("bucket condition %q (%v)", v, ok)
			}
			for name, want := range wantFields {
				if v, ok := p.Eq(name); !ok || v != want {
					t.Errorf("condition on %s: %q (%v), want eq %q", name, v, ok, want)
				}
			}
			// The conditions are those and no others: the bucket, the 6
			// fields and the length range.
			if len(p.Conditions) != 8 {
				t.Errorf("%d conditions, want 8: %+v", len(p.Conditions), p.Conditions)
			}
			for _, cond := range p.Conditions {
				if cond.Op == "starts-with" {
					t.Errorf("a starts-with condition: %+v", cond)
				}
			}
			for name := range f.Fields {
				if name == "policy" || name == "x-amz-signature" {
					continue
				}
				if _, ok := p.Eq(name); !ok {
					t.Errorf("form field %s has no eq condition", name)
				}
			}
			if got, want := f.Fields["x-amz-signature"], postSignature(f.Fields, lambdaCreds.SecretAccessKey, "eu-west-1"); got != want {
				t.Errorf("x-amz-signature %s, recomputed %s", got, want)
			}
			if postSignature(f.Fields, "another-secret", "eu-west-1") == f.Fields["x-amz-signature"] {
				t.Error("the signature does not depend on the secret")
			}
		})
	}
}

// TestPresignPostPNGWithoutSessionToken: long-term credentials put no
// token in the form or the policy, and PNG is bound as exactly image/png.
func TestPresignPostPNGWithoutSessionToken(t *testing.T) {
	t.Parallel()
	creds := lambdaCreds
	creds.SessionToken = ""
	f, err := newBucket(t, "", creds).PresignPost(context.Background(), "a/back.png", s3evidence.PNG, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Fields["x-amz-security-token"]; ok {
		t.Error("a security token field without a session token")
	}
	p, err := s3evidence.DecodePolicy(f.Fields)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Eq("x-amz-security-token"); ok || len(p.Conditions) != 7 {
		t.Errorf("conditions %+v: want 7, no token", p.Conditions)
	}
	if v, ok := p.Eq("Content-Type"); !ok || v != "image/png" {
		t.Errorf("Content-Type condition %q (%v)", v, ok)
	}
	if got, want := f.Fields["x-amz-signature"], postSignature(f.Fields, creds.SecretAccessKey, "eu-west-1"); got != want {
		t.Errorf("x-amz-signature %s, recomputed %s", got, want)
	}
}

// TestPresignPostRefuses keys that are not ValidKey and content types
// other than JPEG and PNG, before anything is signed.
func TestPresignPostRefuses(t *testing.T) {
	t.Parallel()
	b := newBucket(t, "", lambdaCreds)
	for _, ct := range []string{"", "image/gif", "IMAGE/PNG", "image/png; charset=x", "text/html", "image/"} {
		if _, err := b.PresignPost(context.Background(), "a/b.png", ct, signedAt); !errors.Is(err, s3evidence.ErrUnsupportedContentType) {
			t.Errorf("content type %q: %v, want ErrUnsupportedContentType", ct, err)
		}
	}
	for _, key := range invalidKeys {
		if _, err := b.PresignPost(context.Background(), key, s3evidence.PNG, signedAt); !errors.Is(err, s3evidence.ErrInvalidKey) {
			t.Errorf("key %q: %v, want ErrInvalidKey", key, err)
		}
	}
}

var invalidKeys = []string{"", "/a", "a/", "a//b", "a/./b", "a/../b", "..", "a b", "a+b", "a%2Fb", "a?b", "a#b", "ü.png", "a\x00b", strings.Repeat("k", 1025)}

func TestValidKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"a", "a/b.png", "orgs/acme/0193a000-0000-7000-8000-000000000001/front_1~v2.JPG", strings.Repeat("k", 1024)} {
		if !s3evidence.ValidKey(key) {
			t.Errorf("%q refused", key)
		}
	}
	for _, key := range invalidKeys {
		if s3evidence.ValidKey(key) {
			t.Errorf("%q accepted", key)
		}
	}
}

// TestDecodePolicyRefusesMalformed documents: not base64, not JSON, a bad
// expiration, an unknown operator, a condition of the wrong shape.
func TestDecodePolicyRefusesMalformed(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`{"expiration":"tomorrow","conditions":[]}`,
		`{"expiration":"2026-11-21T10:05:00.000Z","conditions":[["in","$key","a"]]}`,
		`{"expiration":"2026-11-21T10:05:00.000Z","conditions":[["eq","key","a"]]}`,
		`{"expiration":"2026-11-21T10:05:00.000Z","conditions":[{"a":"1","b":"2"}]}`,
		`{"expiration":"2026-11-21T10:05:00.000Z","conditions":[["content-length-range","1",2]]}`,
		`not json`,
	} {
		if _, err := s3evidence.DecodePolicy(map[string]string{"policy": b64(doc)}); err == nil {
			t.Errorf("%s decoded", doc)
		}
	}
	if _, err := s3evidence.DecodePolicy(map[string]string{"policy": "%%%"}); err == nil {
		t.Error("non-base64 decoded")
	}
}

func TestNewRefusesConfig(t *testing.T) {
	t.Parallel()
	ok := s3evidence.Config{Bucket: "acme-evidence", Region: "eu-west-1"}
	for name, mutate := range map[string]func(*s3evidence.Config){
		"short bucket":     func(c *s3evidence.Config) { c.Bucket = "ab" },
		"dotted bucket":    func(c *s3evidence.Config) { c.Bucket = "acme.evidence" },
		"upper bucket":     func(c *s3evidence.Config) { c.Bucket = "Acme-evidence" },
		"hyphen end":       func(c *s3evidence.Config) { c.Bucket = "acme-" },
		"no region":        func(c *s3evidence.Config) { c.Region = "" },
		"region with path": func(c *s3evidence.Config) { c.Region = "eu-west-1/x" },
		"endpoint path":    func(c *s3evidence.Config) { c.BaseEndpoint = "http://127.0.0.1:5000/bucket" },
		"endpoint scheme":  func(c *s3evidence.Config) { c.BaseEndpoint = "ftp://127.0.0.1" },
		"endpoint no host": func(c *s3evidence.Config) { c.BaseEndpoint = "http://" },
	} {
		cfg := ok
		mutate(&cfg)
		if _, err := s3evidence.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := s3evidence.New(ok); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}
