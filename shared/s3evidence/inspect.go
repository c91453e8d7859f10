package s3evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idadmin/api/shared/awserr"
)

// Errors for what Inspect found. Each is wrapped with the operation.
var (
	// ErrNotUploaded: there is no object under the key (S3 answered 404).
	ErrNotUploaded = errors.New("no object under the key: not uploaded")
	// ErrEmpty: the object has no bytes.
	ErrEmpty = errors.New("the object is empty")
	// ErrTooLarge: the object is larger than MaxSize.
	ErrTooLarge = errors.New("the object is larger than 5 MiB")
	// ErrNotImage: the object starts with neither JPEG's nor PNG's magic bytes.
	ErrNotImage = errors.New("the object is neither a JPEG nor a PNG image")
	// ErrContentTypeMismatch: the object is an image, but its bytes or the
	// Content-Type it is stored with are not of the type expected.
	ErrContentTypeMismatch = errors.New("the object's content type is not the one expected")
)

// Object is what Inspect found of an object.
type Object struct {
	// Size is the object's size in bytes.
	Size int64
	// ContentType is the type its first bytes show, JPEG or PNG; empty when
	// they show neither.
	ContentType string
	// StoredContentType is the Content-Type S3 stored it with.
	StoredContentType string
	// LastModified is when it was stored (its upload completed); zero when
	// the answer does not say.
	LastModified time.Time
	// VersionID is the version of the object read (x-amz-version-id): in
	// a versioned bucket the bytes checked stay readable under it whatever
	// is stored under the key later. Empty when the bucket is not
	// versioned (S3's "null" version).
	VersionID string
}

// magic are the first bytes of each content type accepted.
var magic = []struct {
	contentType string
	prefix      []byte
}{
	{JPEG, []byte{0xFF, 0xD8, 0xFF}},
	{PNG, []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}},
}

// sniffLen is how many first bytes Inspect reads: more than any magic.
const sniffLen = 16

// emptySHA256 is the hex SHA-256 of an empty payload, a GET's.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Inspect checks the object under key, uploaded as want (JPEG or PNG), with
// one signed ranged GET of its first 16 bytes: it must exist
// (ErrNotUploaded), have 1 byte (ErrEmpty) to MaxSize (ErrTooLarge), start
// with an image's magic bytes (ErrNotImage), and both these bytes and its
// stored Content-Type must be want's (ErrContentTypeMismatch). With any of
// these errors but ErrNotUploaded the Object still tells what was found. An
// answer of S3 other than these is an *awserr.ProviderError, told by
// S3's error code (AccessDenied, NoSuchBucket, ...); a 403 may also mean a
// missing object when the caller may not list the bucket.
func (b *Bucket) Inspect(ctx context.Context, key, want string) (Object, error) {
	if !ValidKey(key) {
		return Object{}, fmt.Errorf("s3evidence inspect: %w", ErrInvalidKey)
	}
	if err := checkContentType(want); err != nil {
		return Object{}, fmt.Errorf("s3evidence inspect: %w", err)
	}
	obj, head, err := b.readHead(ctx, key)
	if err != nil {
		return obj, fmt.Errorf("s3evidence inspect: %w", err)
	}
	if err := check(&obj, head, want); err != nil {
		return obj, fmt.Errorf("s3evidence inspect: %w", err)
	}
	return obj, nil
}

// check fills obj.ContentType from head and checks obj against want.
func check(obj *Object, head []byte, want string) error {
	if obj.Size == 0 {
		return ErrEmpty
	}
	if obj.Size > MaxSize {
		return fmt.Errorf("%d bytes: %w", obj.Size, ErrTooLarge)
	}
	obj.ContentType = sniff(head)
	if obj.ContentType == "" {
		return ErrNotImage
	}
	if obj.ContentType != want {
		return fmt.Errorf("its bytes are %s, want %s: %w", obj.ContentType, want, ErrContentTypeMismatch)
	}
	if stored, _, _ := mime.ParseMediaType(obj.StoredContentType); stored != want {
		return fmt.Errorf("its stored Content-Type is not %s: %w", want, ErrContentTypeMismatch)
	}
	return nil
}

// sniff is the content type whose magic bytes head starts with, or "".
func sniff(head []byte) string {
	for _, m := range magic {
		if bytes.HasPrefix(head, m.prefix) {
			return m.contentType
		}
	}
	return ""
}

// readHead GETs the object's first sniffLen bytes and returns them with
// its size and stored content type.
func (b *Bucket) readHead(ctx context.Context, key string) (Object, []byte, error) {
	creds, err := b.credentials(ctx)
	if err != nil {
		return Object{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.objectURL(key), nil)
	if err != nil {
		return Object{}, nil, err
	}
	req.Header.Set("Range", "bytes=0-"+strconv.Itoa(sniffLen-1))
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if err := b.signer.SignHTTP(ctx, creds, req, emptySHA256, service, b.region, time.Now()); err != nil {
		return Object{}, nil, fmt.Errorf("sign the request: %w", err)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return Object{}, nil, fmt.Errorf("get the object: %w", &UnreachableError{Err: err})
	}
	defer resp.Body.Close()
	obj := Object{StoredContentType: resp.Header.Get("Content-Type"), VersionID: versionHeader(resp)}
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		obj.LastModified = t.UTC()
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if obj.Size, err = contentRangeTotal(resp.Header.Get("Content-Range")); err != nil {
			return Object{}, nil, err
		}
	case http.StatusOK: // an engine that ignored the range
		if obj.Size = resp.ContentLength; obj.Size < 0 {
			return Object{}, nil, errors.New("get the object: the answer has no size")
		}
	case http.StatusRequestedRangeNotSatisfiable: // S3's answer for an empty object
		return Object{}, nil, ErrEmpty
	case http.StatusNotFound:
		if code := errorCode(resp.Body); code != "" && code != "NoSuchKey" {
			return Object{}, nil, providerError(resp, code, "s3 get object")
		}
		return Object{}, nil, ErrNotUploaded
	default:
		return Object{}, nil, providerError(resp, errorCode(resp.Body), "s3 get object")
	}
	if obj.Size == 0 {
		// Nothing to read: an engine may still promise a byte it never
		// sends (s3rver answers "bytes 0-0/0" with Content-Length 1).
		return obj, nil, nil
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, sniffLen))
	if err != nil {
		return Object{}, nil, fmt.Errorf("get the object: read its first bytes: %w", err)
	}
	return obj, head, nil
}

// versionHeader is the answer's x-amz-version-id, "" for none or S3's
// "null" version (of an object stored while the bucket was unversioned).
func versionHeader(resp *http.Response) string {
	if v := resp.Header.Get("X-Amz-Version-Id"); v != "null" {
		return v
	}
	return ""
}

// contentRangeTotal is the complete length of "bytes first-last/total".
func contentRangeTotal(v string) (int64, error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	_, total, ok2 := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(total, 10, 64)
	if !ok || !ok2 || err != nil || n < 0 {
		return 0, fmt.Errorf("get the object: no size in Content-Range %q", truncate(v, 64))
	}
	return n, nil
}

// errorCode is the Code of an S3 error document, or "" for a body with
// none. S3's codes are letters and digits only, so the code is read as
// such (without encoding/xml, which would otherwise enter the binary) and
// anything else is ignored.
func errorCode(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, 16<<10))
	_, rest, ok := bytes.Cut(raw, []byte("<Code>"))
	code, _, ok2 := bytes.Cut(rest, []byte("</Code>"))
	if !ok || !ok2 || len(code) == 0 || len(code) > 64 {
		return ""
	}
	for _, c := range code {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return ""
		}
	}
	return string(code)
}

// providerError is S3's answer as an error told by its code, status and
// request id, never by its message.
func providerError(resp *http.Response, code, op string) error {
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	return &awserr.ProviderError{
		Op: op, Code: code, StatusCode: resp.StatusCode,
		RequestID: resp.Header.Get("X-Amz-Request-Id"),
	}
}

// truncate keeps an echoed header value short.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
