// Package s3local drives a local S3 engine (moto_server, see
// internal/mototest) in tests, path-style: it creates buckets and stores
// objects with signed requests, and uploads through a presigned POST form
// the way a browser does.
package s3local

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/sigv4"
)

// Credentials are placeholder credentials a local engine accepts, with a
// session token as a Lambda function's have.
var Credentials = aws.Credentials{
	AccessKeyID:     "ASIALOCALTESTKEY0001",
	SecretAccessKey: "local-secret-access-key",
	SessionToken:    "local-session-token",
	Source:          "s3local",
}

var client = &http.Client{Timeout: 30 * time.Second}

// CreateBucket creates bucket in region on the engine at endpoint, with a
// LocationConstraint outside us-east-1 as S3 asks.
func CreateBucket(tb testing.TB, endpoint, region, bucket string) {
	tb.Helper()
	var body []byte
	if region != "us-east-1" {
		body = []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>` +
			region + `</LocationConstraint></CreateBucketConfiguration>`)
	}
	status, answer := do(tb, http.MethodPut, endpoint+"/"+bucket, region, "", body)
	if status != http.StatusOK {
		tb.Fatalf("s3local: create bucket %s: HTTP %d %s", bucket, status, answer)
	}
}

// PutObject stores body under key (a key that needs no escaping) with
// contentType, by a signed PUT: for objects no presigned form would let
// through.
func PutObject(tb testing.TB, endpoint, region, bucket, key, contentType string, body []byte) {
	tb.Helper()
	status, answer := do(tb, http.MethodPut, endpoint+"/"+bucket+"/"+key, region, contentType, body)
	if status != http.StatusOK {
		tb.Fatalf("s3local: put object: HTTP %d %s", status, answer)
	}
}

// do sends one request signed with Credentials (sigv4.Client.Do, as
// s3evidence signs) and returns the status and the answer's body.
func do(tb testing.TB, method, url, region, contentType string, body []byte) (int, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	s3 := &sigv4.Client{Service: "s3", Region: region, HTTPClient: client,
		Credentials: credentials.StaticCredentialsProvider{Value: Credentials}}
	resp, err := s3.Do(req, body)
	if err != nil {
		tb.Fatalf("s3local: %s: %v", method, err)
	}
	return answer(resp)
}

// Upload posts a presigned form as a browser posts a FormData:
// multipart/form-data with the fields first (in name order) and the file
// last, as the part "file" named filename, of type fileType. It returns the
// status and the answer's body.
func Upload(tb testing.TB, url string, fields map[string]string, filename, fileType string, content []byte) (int, string) {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := w.WriteField(name, fields[name]); err != nil {
			tb.Fatalf("s3local: %v", err)
		}
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", fileType)
	part, err := w.CreatePart(h)
	if err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	part.Write(content)
	if err := w.Close(); err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, url, &buf)
	if err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	return send(tb, req)
}

// Get fetches url with a plain GET and returns the status and the body.
func Get(tb testing.TB, url string) (int, []byte) {
	tb.Helper()
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatalf("s3local: get: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("s3local: get: %v", err)
	}
	return resp.StatusCode, body
}

func send(tb testing.TB, req *http.Request) (int, string) {
	tb.Helper()
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("s3local: %s: %v", req.Method, err)
	}
	return answer(resp)
}

// answer is resp's status and body, which it closes.
func answer(resp *http.Response) (int, string) {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// PNG is a small real PNG image.
func PNG(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, sample()); err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	return buf.Bytes()
}

// JPEG is a small real JPEG image.
func JPEG(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sample(), nil); err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	return buf.Bytes()
}

func sample() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 32, 20))
	for x := range 32 {
		for y := range 20 {
			img.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 12), 128, 255})
		}
	}
	return img
}

// bucketSeq names the buckets NewBucket creates, one per call.
var bucketSeq atomic.Int64

// NewBucket creates a bucket of the caller's own on the S3 engine at
// endpoint (a moto_server shared by parallel tests), versioned as the
// template's is, and returns the evidence Bucket reaching it, signing with
// Credentials.
func NewBucket(tb testing.TB, endpoint, region string) *s3evidence.Bucket {
	tb.Helper()
	return NewBucketWithClient(tb, endpoint, region, nil)
}

// NewBucketWithClient is NewBucket with the Bucket making its requests
// (Inspect's) through client (nil: its default), a recording one, say.
func NewBucketWithClient(tb testing.TB, endpoint, region string, client *http.Client) *s3evidence.Bucket {
	tb.Helper()
	name := fmt.Sprintf("evidence-%d-%d", os.Getpid(), bucketSeq.Add(1))
	CreateBucket(tb, endpoint, region, name)
	b, err := s3evidence.New(s3evidence.Config{Bucket: name, Region: region, BaseEndpoint: endpoint,
		Credentials: credentials.StaticCredentialsProvider{Value: Credentials}, HTTPClient: client})
	if err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	if err := b.EnableVersioning(context.Background()); err != nil {
		tb.Fatalf("s3local: %v", err)
	}
	return b
}
