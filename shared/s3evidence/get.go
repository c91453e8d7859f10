package s3evidence

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxGetTTL is the longest a presigned GET may be valid: SigV4's limit.
const MaxGetTTL = 7 * 24 * time.Hour

// PresignGet returns a URL that downloads the object under key (a
// ValidKey) with a plain GET, signed at now and valid for ttl (a whole
// number of seconds, 1 s to MaxGetTTL): an admin's download link. With a
// versionID it downloads that version (the one Inspect checked) and no
// other, whatever was stored under the key since; the signer then needs
// s3:GetObjectVersion. It carries the credentials' session token when they
// have one, and is good only while they are (a Lambda's expire within
// hours).
func (b *Bucket) PresignGet(ctx context.Context, key, versionID string, ttl time.Duration, now time.Time) (string, error) {
	if !ValidKey(key) {
		return "", fmt.Errorf("s3evidence presign get: %w", ErrInvalidKey)
	}
	if !validVersionID(versionID) {
		return "", fmt.Errorf("s3evidence presign get: %w", ErrInvalidVersion)
	}
	if ttl < time.Second || ttl > MaxGetTTL || ttl%time.Second != 0 {
		return "", fmt.Errorf("s3evidence presign get: the validity must be a whole number of seconds from 1 s to %v", MaxGetTTL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.objectURL(key), nil)
	if err != nil {
		return "", fmt.Errorf("s3evidence presign get: %w", err)
	}
	q := url.Values{"X-Amz-Expires": {strconv.FormatInt(int64(ttl/time.Second), 10)}}
	if versionID != "" {
		q.Set("versionId", versionID)
	}
	req.URL.RawQuery = q.Encode()
	signed, err := b.s3.Presign(req, now)
	if err != nil {
		return "", fmt.Errorf("s3evidence presign get: %w", err)
	}
	return signed, nil
}
