// Package sigv4 signs and sends the AWS requests the functions make without
// a service client: Secrets Manager's GetSecretValue (shared/codekey), End
// User Messaging Social's SendWhatsAppMessage (shared/socialmessaging) and
// the evidence bucket's S3 requests (shared/s3evidence).
//
// Those calls are made by hand to keep the Lambda binaries small: each
// service's SDK client would be linked into every function that makes one
// of them (the Secrets Manager client adds about 260 KB to each function
// that reads the code keys, for one call at cold start; the S3 client
// megabytes), and no function needs more of those services than a call or
// two. The signature itself is the core SDK's SigV4 signer
// (github.com/aws/aws-sdk-go-v2/aws/signer/v4), which every function links
// already with its DynamoDB client. This package is what the call sites
// used to repeat around it, once: the payload's hash, the credentials (from
// the one provider shared/app builds, app.Config.CredentialsFor), the
// clock, the send, and the reading of an error answer in the shape the
// SDK's clients return, so that shared/awserr classifies both alike.
//
// It must not import a service's SDK module: that would undo its reason to
// be (internal/lambdabaseline's size test is the tripwire).
package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ContentSHA256Header carries the hex SHA-256 of a request's payload: S3
// requires it, and every request Do sends has it, signed.
const ContentSHA256Header = "X-Amz-Content-Sha256"

// UnsignedPayload is the payload hash of a presigned URL.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// Client signs requests for one service in one region and sends them. Its
// fields are set once; it is then safe for concurrent use.
type Client struct {
	// Service is the signing name: "s3", "secretsmanager",
	// "social-messaging". S3 is signed over the path as sent; every other
	// service over its escaped form, as AWS's SigV4 asks.
	Service string
	// Region is the region the request is signed for.
	Region string
	// Credentials sign every request, retrieved at each one. Nil, or empty
	// ones, are an error before anything is sent.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Now is the signing clock; time.Now when nil.
	Now func() time.Time
}

// UnreachableError is a request that got no answer at all: the connection
// was refused or reset, or it timed out.
type UnreachableError struct {
	// Service is the signing name of the service not reached.
	Service string
	Err     error
}

func (e *UnreachableError) Error() string { return e.Service + " unreachable: " + e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// PayloadHash is the hex SHA-256 of payload, as SigV4 signs it.
func PayloadHash(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// Retrieve returns the credentials to sign with now, or an error when
// there are none: the provider failed, or the access key id or the secret
// access key is empty (a request signed so is refused anyway).
func (c *Client) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if c.Credentials == nil {
		return aws.Credentials{}, errors.New("no credentials: none were configured")
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("retrieve credentials: %w", err)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return aws.Credentials{}, errors.New("no credentials: the access key id or the secret access key is empty")
	}
	return creds, nil
}

// Do sends req with payload as its body (it replaces req.Body), signed
// with SigV4 for the client's service and region at the client's clock,
// and with the payload's hash in X-Amz-Content-Sha256. req's context bounds
// the exchange; the caller reads and closes the answer's body.
//
// An error before sending (no credentials, a request that cannot be
// signed) is returned as it is; a request sent without an answer is an
// *UnreachableError. An answer, whatever its status, is no error: read an
// error answer with ErrorCode or ResponseError.
func (c *Client) Do(req *http.Request, payload []byte) (*http.Response, error) {
	ctx := req.Context()
	creds, err := c.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	setBody(req, payload)
	hash := PayloadHash(payload)
	req.Header.Set(ContentSHA256Header, hash)
	if err := c.signer().SignHTTP(ctx, creds, req, hash, c.Service, c.Region, c.now()); err != nil {
		return nil, fmt.Errorf("sign the request: %w", err)
	}
	client := c.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &UnreachableError{Service: c.Service, Err: err}
	}
	return resp, nil
}

// Presign returns req's URL with a SigV4 signature in its query, signed at
// at (the link is valid from then for the X-Amz-Expires seconds the query
// asks) over an unsigned payload: a download link.
func (c *Client) Presign(req *http.Request, at time.Time) (string, error) {
	creds, err := c.Retrieve(req.Context())
	if err != nil {
		return "", err
	}
	signed, _, err := c.signer().PresignHTTP(req.Context(), creds, req, UnsignedPayload, c.Service, c.Region, at)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signed, nil
}

func (c *Client) signer() *v4.Signer {
	// S3 takes the path as sent: it must not be escaped a second time.
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = c.Service == "s3" })
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// setBody makes payload req's body, with its length (none for an empty
// payload), so that what is sent is what was hashed.
func setBody(req *http.Request, payload []byte) {
	if len(payload) == 0 {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }, 0
		return
	}
	req.ContentLength = int64(len(payload))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil }
	req.Body, _ = req.GetBody()
}
