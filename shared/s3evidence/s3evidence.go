// Package s3evidence is the S3 side of document-image evidence: a presigned
// POST form through which the person being identified uploads one image of
// a document straight to the evidence bucket, the check of what was
// uploaded (Inspect), and presigned GET links for the organisation's admins.
//
// Like shared/codekey, it makes its few REST calls itself through
// shared/sigv4 (the core SDK's SigV4 signer) instead of linking the S3
// client, which would add megabytes to each function that needs one of
// them. The POST policy is signed by hand, with the SigV4 signing key
// derived as AWS describes for browser-based uploads.
//
// An upload is one object of 1 byte to 5 MiB (MaxSize), a JPEG or a PNG,
// under a key the API chose. The policy asks S3 to enforce all of that, but
// a form may be posted to an engine that enforces nothing (moto accepts
// every POST), so Inspect checks the object itself before the API accepts
// it as evidence: it is there, not empty, not too large, and its first bytes
// are those of the content type expected.
//
// No error names a key or quotes an object's bytes.
package s3evidence

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/sigv4"
)

// MaxSize is the largest object accepted, in bytes: 5 MiB.
const MaxSize = 5 * 1024 * 1024

// The content types accepted.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
)

// service is S3's SigV4 signing name.
const service = "s3"

// Errors for what a request asks. Each is wrapped with the operation.
var (
	// ErrUnsupportedContentType: the content type is neither JPEG nor PNG.
	ErrUnsupportedContentType = errors.New("the content type is neither image/jpeg nor image/png")
	// ErrInvalidKey: the key is not one ValidKey accepts.
	ErrInvalidKey = errors.New("the object key is not a valid evidence key")
)

// Config says which bucket a Bucket reaches, and how.
type Config struct {
	// Bucket is the evidence bucket's name: 3 to 63 lowercase letters,
	// digits and hyphens, starting and ending with a letter or a digit. Dots
	// are refused: a dotted name's virtual-hosted address is not covered by
	// S3's TLS certificate.
	Bucket string
	// Region is the bucket's region, such as eu-west-1 (the aws partition).
	Region string
	// BaseEndpoint, when set, is a local S3 engine's address, such as
	// http://127.0.0.1:5000 (scheme and host, no path); objects are then
	// addressed path-style, BaseEndpoint/bucket/key. Empty, they are
	// addressed virtual-hosted style at https://bucket.s3.region.amazonaws.com.
	BaseEndpoint string
	// Credentials sign every request and form: the function's own
	// (app.Config.CredentialsFor). Nil: placeholder ones for a local engine
	// (BaseEndpoint set), none for AWS (every request then fails, saying
	// so).
	Credentials aws.CredentialsProvider
	// HTTPClient makes the requests. Nil: a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Bucket is an evidence bucket: it presigns uploads and downloads and
// inspects uploaded objects. It is safe for concurrent use.
type Bucket struct {
	name     string
	region   string
	endpoint string // BaseEndpoint without a trailing "/", or "" for AWS
	s3       *sigv4.Client
}

// New returns the Bucket cfg describes, or an error naming what in cfg is
// invalid.
func New(cfg Config) (*Bucket, error) {
	if !validBucketName(cfg.Bucket) {
		return nil, errors.New("s3evidence: the bucket name must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or a digit")
	}
	if !validRegion(cfg.Region) {
		return nil, errors.New("s3evidence: the region must be a name such as eu-west-1")
	}
	endpoint, err := baseEndpoint(cfg.BaseEndpoint)
	if err != nil {
		return nil, err
	}
	creds := cfg.Credentials
	if creds == nil {
		creds = credentials.StaticCredentialsProvider{}
		if cfg.BaseEndpoint != "" {
			creds = credentials.NewStaticCredentialsProvider("local", "local", "")
		}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Bucket{
		name:     cfg.Bucket,
		region:   cfg.Region,
		endpoint: endpoint,
		s3:       &sigv4.Client{Service: service, Region: cfg.Region, Credentials: creds, HTTPClient: client},
	}, nil
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// ValidKey reports whether key can name an evidence object: 1 to 1024
// bytes of letters, digits and "-", "_", ".", "~", in segments separated by
// single "/" (none empty, none "." or ".."). These are the characters that
// need no escaping anywhere, in a URL path, a form field or a signature,
// and the API chooses the keys, so it needs no others.
func ValidKey(key string) bool {
	if key == "" || len(key) > 1024 {
		return false
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			if !unreserved(seg[i]) {
				return false
			}
		}
	}
	return true
}

// unreserved reports whether c is one of RFC 3986's unreserved characters.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// checkContentType returns ErrUnsupportedContentType unless ct is JPEG or PNG.
func checkContentType(ct string) error {
	if ct != JPEG && ct != PNG {
		return ErrUnsupportedContentType
	}
	return nil
}

// bucketURL is where a presigned POST goes.
func (b *Bucket) bucketURL() string {
	if b.endpoint != "" {
		return b.endpoint + "/" + b.name
	}
	return "https://" + b.name + ".s3." + b.region + ".amazonaws.com/"
}

// objectURL is the address of the object under key, a ValidKey.
func (b *Bucket) objectURL(key string) string {
	if b.endpoint != "" {
		return b.endpoint + "/" + b.name + "/" + key
	}
	return "https://" + b.name + ".s3." + b.region + ".amazonaws.com/" + key
}

func validBucketName(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}

func validRegion(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// baseEndpoint checks a local engine's address and drops a trailing "/".
func baseEndpoint(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("s3evidence: the base endpoint must be a scheme and a host, such as http://127.0.0.1:5000")
	}
	return u.Scheme + "://" + u.Host, nil
}
