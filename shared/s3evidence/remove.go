package s3evidence

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/sigv4"
)

// ErrInvalidVersion: a version id that cannot be one of S3's.
var ErrInvalidVersion = errors.New("the object version id is not valid")

// MaxVersions is how many versions of one key RemoveAll deletes before it
// gives up: a form works five minutes, so a key holds a handful.
const MaxVersions = 100

// UnreachableError is a request that got no answer from S3 at all: the
// connection was refused or reset, or it timed out (sigv4.Client.Do's
// error, with Service "s3").
type UnreachableError = sigv4.UnreachableError

// Unavailable reports whether err is S3 being unavailable rather than
// refusing the request: no answer (UnreachableError, a deadline), or an
// answer that asks to retry later (5xx, SlowDown, 429).
func Unavailable(err error) bool {
	var ue *UnreachableError
	if errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pe *awserr.ProviderError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout":
			return true
		}
		return pe.StatusCode >= 500 || pe.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// validVersionID: "" (none) or up to 1024 printable ASCII characters.
func validVersionID(v string) bool {
	if len(v) > 1024 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7F {
			return false
		}
	}
	return true
}

// RemoveAll deletes for good the version versionID of the object under key
// (when versionID is not empty), then every other version the key holds,
// newest first (what a form posted after the check, a delete marker), until
// the key holds nothing. Each is a DELETE of a version id
// (s3:DeleteObjectVersion), found by a ranged GET of the key's current
// version (s3:GetObject): no listing. A key that holds nothing, or never
// did, is no error. It stops with an error after MaxVersions versions.
func (b *Bucket) RemoveAll(ctx context.Context, key, versionID string) error {
	if !ValidKey(key) {
		return fmt.Errorf("s3evidence remove: %w", ErrInvalidKey)
	}
	if !validVersionID(versionID) {
		return fmt.Errorf("s3evidence remove: %w", ErrInvalidVersion)
	}
	if versionID != "" {
		if err := b.deleteVersion(ctx, key, versionID); err != nil {
			return fmt.Errorf("s3evidence remove: %w", err)
		}
	}
	for range MaxVersions {
		v, found, err := b.currentVersion(ctx, key)
		if err != nil {
			return fmt.Errorf("s3evidence remove: %w", err)
		}
		if !found {
			return nil
		}
		if err := b.deleteVersion(ctx, key, v); err != nil {
			return fmt.Errorf("s3evidence remove: %w", err)
		}
	}
	return fmt.Errorf("s3evidence remove: the key still holds versions after %d deletes", MaxVersions)
}

// currentVersion is the version id of what a GET of key reads now (or of
// the delete marker that hides older versions), "null" for an object
// stored unversioned, and whether there is one.
func (b *Bucket) currentVersion(ctx context.Context, key string) (string, bool, error) {
	resp, err := b.send(ctx, http.MethodGet, b.objectURL(key), nil, map[string]string{"Range": "bytes=0-0"})
	if err != nil {
		return "", false, fmt.Errorf("get the object's version: %w", err)
	}
	defer resp.Body.Close()
	v := resp.Header.Get("X-Amz-Version-Id")
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusPartialContent ||
		resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		if v == "" {
			v = "null"
		}
		return v, true, nil
	case resp.StatusCode == http.StatusNotFound && resp.Header.Get("X-Amz-Delete-Marker") == "true" && v != "":
		return v, true, nil
	}
	code := errorCode(resp)
	if resp.StatusCode == http.StatusNotFound && (code == "" || code == "NoSuchKey") ||
		// A reader that may not list the bucket is told 403 for a key that
		// holds nothing.
		resp.StatusCode == http.StatusForbidden && code == "AccessDenied" {
		return "", false, nil
	}
	return "", false, providerError(resp, code, "s3 get object")
}

// deleteVersion deletes one version of key for good.
func (b *Bucket) deleteVersion(ctx context.Context, key, versionID string) error {
	u := b.objectURL(key) + "?" + url.Values{"versionId": {versionID}}.Encode()
	resp, err := b.send(ctx, http.MethodDelete, u, nil, nil)
	if err != nil {
		return fmt.Errorf("delete a version: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	}
	code := errorCode(resp)
	if resp.StatusCode == http.StatusNotFound && (code == "NoSuchKey" || code == "NoSuchVersion") {
		return nil // gone already
	}
	return providerError(resp, code, "s3 delete object version")
}

// EnableVersioning turns the bucket's versioning on (a local engine's:
// in AWS the template does), so that a checked image keeps its version.
func (b *Bucket) EnableVersioning(ctx context.Context) error {
	body := []byte(`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`)
	sum := md5.Sum(body)
	resp, err := b.send(ctx, http.MethodPut, b.bucketURL()+"?versioning", body,
		map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])})
	if err != nil {
		return fmt.Errorf("s3evidence enable versioning: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return providerError(resp, errorCode(resp), "s3 put bucket versioning")
	}
	return nil
}

// send makes one request with body and headers, signed with the bucket's
// credentials (sigv4.Client.Do), within the HTTP client's timeout (10 s
// by default); the caller reads and closes the answer's body. A request
// that gets no answer is an *UnreachableError.
func (b *Bucket) send(ctx context.Context, method, u string, body []byte, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return b.s3.Do(req, body)
}
