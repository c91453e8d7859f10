package s3evidence_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/s3evidence"
)

func TestMain(m *testing.M) { mototest.Main(m) }

const region = "eu-west-1"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// motoBucket creates a bucket of the test's own on moto_server and returns
// the Bucket reaching it, with s3local's Lambda-like credentials, and the
// endpoint.
func motoBucket(t *testing.T) (*s3evidence.Bucket, string) {
	t.Helper()
	endpoint := mototest.Start(t)
	return s3local.NewBucket(t, endpoint, region), endpoint
}

// upload presigns a form for key and contentType and posts content
// through it as a browser would; moto must take it (it takes every POST).
func upload(t *testing.T, b *s3evidence.Bucket, key, contentType string, content []byte) {
	t.Helper()
	f, err := b.PresignPost(context.Background(), key, contentType, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := s3local.Upload(t, f.URL, f.Fields, "photo", contentType, content); status != http.StatusNoContent {
		t.Fatalf("upload: HTTP %d %s", status, body)
	}
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for x := 0; x < 8; x++ {
		for y := 0; y < 6; y++ {
			img.Set(x, y, color.RGBA{uint8(30 * x), uint8(40 * y), 200, 255})
		}
	}
	return img
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUploadAndInspect uploads a real PNG and a real JPEG through presigned
// forms, posted as a browser posts them, and inspects them: each is found
// with its type and size.
func TestUploadAndInspect(t *testing.T) {
	t.Parallel()
	b, _ := motoBucket(t)
	for _, c := range []struct {
		key, contentType string
		content          []byte
	}{
		{"acme/id-1/front.png", s3evidence.PNG, pngBytes(t)},
		{"acme/id-1/back.jpg", s3evidence.JPEG, jpegBytes(t)},
	} {
		upload(t, b, c.key, c.contentType, c.content)
		obj, err := b.Inspect(context.Background(), c.key, c.contentType)
		if err != nil {
			t.Fatalf("%s: %v", c.contentType, err)
		}
		if age := time.Since(obj.LastModified); age < -time.Minute || age > time.Minute {
			t.Errorf("%s: last modified %v, want about now", c.contentType, obj.LastModified)
		}
		if obj.VersionID == "" {
			t.Errorf("%s: no version id from a versioned bucket", c.contentType)
		}
		obj.LastModified, obj.VersionID = time.Time{}, ""
		want := s3evidence.Object{Size: int64(len(c.content)), ContentType: c.contentType, StoredContentType: c.contentType}
		if obj != want {
			t.Errorf("%s: %+v, want %+v", c.contentType, obj, want)
		}
	}
}

// TestInspectRefuses what no evidence may be, each with its own error:
// bytes of no image, an image of the other type, a stored type other than
// the one expected, an empty object, an object over 5 MiB (which moto
// took through the form, as it takes every POST), and a missing one.
func TestInspectRefuses(t *testing.T) {
	t.Parallel()
	b, endpoint := motoBucket(t)
	ctx := context.Background()
	over := append(pngBytes(t), make([]byte, s3evidence.MaxSize)...)
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff")
	html := []byte("<html><script>alert(1)</script></html>")
	almost := []byte("\x89PNG\r\n\x1a") // one magic byte short

	upload(t, b, "gif.png", s3evidence.PNG, gif)
	upload(t, b, "html.png", s3evidence.PNG, html)
	upload(t, b, "almost.png", s3evidence.PNG, almost)
	upload(t, b, "jpeg.png", s3evidence.PNG, jpegBytes(t))
	upload(t, b, "png.jpg", s3evidence.JPEG, pngBytes(t))
	s3local.PutObject(t, endpoint, region, b.Name(), "stored-html.png", "text/html", pngBytes(t))
	upload(t, b, "empty.png", s3evidence.PNG, nil)
	upload(t, b, "over.png", s3evidence.PNG, over)

	for _, c := range []struct {
		key, want string
		err       error
		size      int64
	}{
		{"gif.png", s3evidence.PNG, s3evidence.ErrNotImage, int64(len(gif))},
		{"html.png", s3evidence.PNG, s3evidence.ErrNotImage, int64(len(html))},
		{"almost.png", s3evidence.PNG, s3evidence.ErrNotImage, int64(len(almost))},
		{"jpeg.png", s3evidence.PNG, s3evidence.ErrContentTypeMismatch, int64(len(jpegBytes(t)))},
		{"png.jpg", s3evidence.JPEG, s3evidence.ErrContentTypeMismatch, int64(len(pngBytes(t)))},
		{"stored-html.png", s3evidence.PNG, s3evidence.ErrContentTypeMismatch, int64(len(pngBytes(t)))},
		{"empty.png", s3evidence.PNG, s3evidence.ErrEmpty, 0},
		{"over.png", s3evidence.PNG, s3evidence.ErrTooLarge, int64(len(over))},
		{"never-uploaded.png", s3evidence.PNG, s3evidence.ErrNotUploaded, 0},
	} {
		obj, err := b.Inspect(ctx, c.key, c.want)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.key, err, c.err)
			continue
		}
		if obj.Size != c.size {
			t.Errorf("%s: size %d, want %d", c.key, obj.Size, c.size)
		}
		if strings.Contains(err.Error(), c.key) {
			t.Errorf("%s: the error names the key: %v", c.key, err)
		}
		for _, other := range []error{s3evidence.ErrNotImage, s3evidence.ErrContentTypeMismatch, s3evidence.ErrEmpty, s3evidence.ErrTooLarge, s3evidence.ErrNotUploaded} {
			if other != c.err && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", c.key, err, other)
			}
		}
	}
}

// TestInspectAcceptsExactlyMaxSize: 5 MiB is allowed, one byte more is not
// (TestInspectRefuses).
func TestInspectAcceptsExactlyMaxSize(t *testing.T) {
	t.Parallel()
	b, endpoint := motoBucket(t)
	content := append(pngBytes(t), make([]byte, s3evidence.MaxSize)...)[:s3evidence.MaxSize]
	s3local.PutObject(t, endpoint, region, b.Name(), "max.png", s3evidence.PNG, content)
	obj, err := b.Inspect(context.Background(), "max.png", s3evidence.PNG)
	if err != nil || obj.Size != s3evidence.MaxSize {
		t.Fatalf("%+v, %v", obj, err)
	}
}

// TestInspectMissingBucket is S3's NoSuchBucket, told by its code: a
// misconfiguration, not an upload missing.
func TestInspectMissingBucket(t *testing.T) {
	t.Parallel()
	endpoint := mototest.Start(t)
	b, err := s3evidence.New(s3evidence.Config{Bucket: "no-such-evidence-bucket", Region: region, BaseEndpoint: endpoint,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Inspect(context.Background(), "a.png", s3evidence.PNG)
	var pe *awserr.ProviderError
	if !errors.As(err, &pe) || pe.Code != "NoSuchBucket" || pe.StatusCode != http.StatusNotFound || errors.Is(err, s3evidence.ErrNotUploaded) {
		t.Fatalf("%v, want a NoSuchBucket ProviderError", err)
	}
}

// TestInspectRefusesArguments: an invalid key or an unsupported type is
// refused before any request.
func TestInspectRefusesArguments(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	b := newBucket(t, srv.URL, lambdaCreds)
	if _, err := b.Inspect(context.Background(), "a//b", s3evidence.PNG); !errors.Is(err, s3evidence.ErrInvalidKey) {
		t.Errorf("%v, want ErrInvalidKey", err)
	}
	if _, err := b.Inspect(context.Background(), "a.gif", "image/gif"); !errors.Is(err, s3evidence.ErrUnsupportedContentType) {
		t.Errorf("%v, want ErrUnsupportedContentType", err)
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests", calls.Load())
	}
}

// TestInspectIsOneSignedRangedGET records what Inspect asks: one GET of
// the object, path-style, for its first 16 bytes, with the range and the
// session token signed.
func TestInspectIsOneSignedRangedGET(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		reqs []*http.Request
	)
	content := pngBytes(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.Clone(context.Background()))
		mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-15/%d", len(content)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(content[:16])
	}))
	defer srv.Close()
	obj, err := newBucket(t, srv.URL, lambdaCreds).Inspect(context.Background(), "acme/id-1/front.png", s3evidence.PNG)
	if err != nil || obj.Size != int64(len(content)) || obj.ContentType != s3evidence.PNG {
		t.Fatalf("%+v, %v", obj, err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodGet || r.URL.Path != "/acme-evidence/acme/id-1/front.png" || r.URL.RawQuery != "" {
		t.Errorf("%s %s", r.Method, r.URL)
	}
	if r.Header.Get("Range") != "bytes=0-15" {
		t.Errorf("Range %q", r.Header.Get("Range"))
	}
	if r.Header.Get("X-Amz-Security-Token") != lambdaCreds.SessionToken {
		t.Errorf("X-Amz-Security-Token %q", r.Header.Get("X-Amz-Security-Token"))
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+lambdaCreds.AccessKeyID+"/") ||
		!strings.Contains(auth, "/eu-west-1/s3/aws4_request") {
		t.Errorf("Authorization %q", auth)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	for _, h := range []string{"host", "range", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"} {
		if !strings.Contains(";"+signed+";", ";"+h+";") {
			t.Errorf("%s not signed: SignedHeaders=%s", h, signed)
		}
	}
}

// TestInspectAnswers drives Inspect through the answers an S3 engine may
// give: a range ignored (200), S3's 416 for an empty object, an access
// refused, a Content-Range without a size.
func TestInspectAnswers(t *testing.T) {
	t.Parallel()
	jpg := jpegBytes(t)
	for _, c := range []struct {
		name    string
		status  int
		header  map[string]string
		body    []byte
		wantErr error
		code    string
		size    int64
	}{
		{"range ignored", 200, map[string]string{"Content-Type": "image/jpeg"}, jpg, nil, "", int64(len(jpg))},
		{"empty", 416, map[string]string{"Content-Type": "application/xml"}, []byte("<Error><Code>InvalidRange</Code></Error>"), s3evidence.ErrEmpty, "", 0},
		{"empty, bytes 0-0/0", 206, map[string]string{"Content-Type": "image/jpeg", "Content-Range": "bytes 0-0/0"}, nil, s3evidence.ErrEmpty, "", 0},
		{"access denied", 403, nil, []byte("<Error><Code>AccessDenied</Code><Message>about the key</Message></Error>"), nil, "AccessDenied", 0},
		{"server error", 503, nil, []byte("<Error><Code>SlowDown</Code></Error>"), nil, "SlowDown", 0},
		{"no total", 206, map[string]string{"Content-Range": "bytes 0-15/*"}, jpg[:16], nil, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range c.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("X-Amz-Request-Id", "req-1")
				w.WriteHeader(c.status)
				w.Write(c.body)
			}))
			defer srv.Close()
			obj, err := newBucket(t, srv.URL, lambdaCreds).Inspect(context.Background(), "k.jpg", s3evidence.JPEG)
			switch {
			case c.code != "":
				var pe *awserr.ProviderError
				if !errors.As(err, &pe) || pe.Code != c.code || pe.StatusCode != c.status || pe.RequestID != "req-1" {
					t.Fatalf("%v, want a ProviderError %s", err, c.code)
				}
				if strings.Contains(err.Error(), "about the key") {
					t.Errorf("the error quotes S3's message: %v", err)
				}
			case c.name == "no total":
				if err == nil {
					t.Fatal("no error")
				}
			case !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil):
				t.Fatalf("%v, want %v", err, c.wantErr)
			}
			if obj.Size != c.size {
				t.Errorf("size %d, want %d", obj.Size, c.size)
			}
		})
	}
}
