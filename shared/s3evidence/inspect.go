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
	"github.com/idadmin/api/shared/sigv4"
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
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := b.send(ctx, http.MethodGet, b.objectURL(key), nil, map[string]string{"Range": "bytes=0-" + strconv.Itoa(sniffLen-1)})
	if err != nil {
		return Object{}, nil, fmt.Errorf("get the object: %w", err)
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
		if code := errorCode(resp); code != "" && code != "NoSuchKey" {
			return Object{}, nil, providerError(resp, code, "s3 get object")
		}
		return Object{}, nil, ErrNotUploaded
	default:
		return Object{}, nil, providerError(resp, errorCode(resp), "s3 get object")
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

// errorCode is the Code of the S3 error document resp holds (it reads the
// body), or "" for a body with none (sigv4.ErrorCode: a name, or nothing).
func errorCode(resp *http.Response) string {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	return sigv4.ErrorCode(resp.Header, raw)
}

// providerError is S3's answer as an *awserr.ProviderError, told by its
// code (the status's text when empty), status and request id, never by
// its message.
func providerError(resp *http.Response, code, op string) error {
	return awserr.Classify(op, sigv4.ResponseError(resp, code), nil)
}

// truncate keeps an echoed header value short.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
