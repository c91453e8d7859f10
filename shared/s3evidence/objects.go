package s3evidence

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/idadmin/api/shared/awserr"
	"github.com/idadmin/api/shared/identification"
)

// Objects is a Bucket as the identification service uses it: what Inspect
// refuses becomes KindMismatch, saying what is wrong with the upload and
// never what it holds, and a bucket that cannot be reached or asks to
// retry later (Unavailable) becomes KindUnavailable, a 503 with
// Retry-After.
type Objects struct{ *Bucket }

// unavailable is err as KindUnavailable when it is S3 being unavailable.
func unavailable(err error) error {
	if err != nil && Unavailable(err) {
		return &identification.Error{Kind: identification.KindUnavailable, Message: "the evidence bucket is unavailable; retry later", Err: err}
	}
	return err
}

var _ identification.EvidenceObjects = Objects{}

// PresignPost signs an upload form (identification.EvidenceObjects).
func (o Objects) PresignPost(ctx context.Context, key, contentType string, now time.Time) (identification.UploadForm, error) {
	f, err := o.Bucket.PresignPost(ctx, key, contentType, now)
	if err != nil {
		return identification.UploadForm{}, unavailable(err)
	}
	return identification.UploadForm{URL: f.URL, Fields: f.Fields, Expires: f.Expires}, nil
}

// Inspect checks an uploaded image (identification.EvidenceObjects).
func (o Objects) Inspect(ctx context.Context, key, contentType string) (identification.StoredObject, error) {
	obj, err := o.Bucket.Inspect(ctx, key, contentType)
	for _, refusal := range []struct {
		err error
		msg string
	}{
		{ErrNotUploaded, "nothing was uploaded with this form (or its upload was refused)"},
		{ErrEmpty, "the uploaded file is empty"},
		{ErrTooLarge, "the uploaded file is larger than 5 MiB"},
		{ErrNotImage, "the uploaded file is neither a JPEG nor a PNG image"},
		{ErrContentTypeMismatch, "the uploaded file is not of the content type its form was for (" + contentType + ")"},
	} {
		if errors.Is(err, refusal.err) {
			return identification.StoredObject{}, identification.Errorf(identification.KindMismatch, "key: %s; nothing was recorded", refusal.msg)
		}
	}
	// S3 answers a reader that may not list the bucket (no function may)
	// 403 AccessDenied for a key that holds nothing: not uploaded.
	var pe *awserr.ProviderError
	if errors.As(err, &pe) && pe.StatusCode == http.StatusForbidden && pe.Code == "AccessDenied" {
		return identification.StoredObject{}, identification.Errorf(identification.KindMismatch, "key: nothing was uploaded with this form (or its upload was refused); nothing was recorded")
	}
	if err != nil {
		return identification.StoredObject{}, unavailable(err)
	}
	return identification.StoredObject{Size: obj.Size, ContentType: obj.ContentType, StoredAt: obj.LastModified, VersionID: obj.VersionID}, nil
}

// PresignGet signs a download link to one version
// (identification.EvidenceObjects).
func (o Objects) PresignGet(ctx context.Context, key, versionID string, ttl time.Duration, now time.Time) (string, error) {
	link, err := o.Bucket.PresignGet(ctx, key, versionID, ttl, now)
	return link, unavailable(err)
}

// Remove deletes a version and every other version of its key
// (identification.EvidenceObjects).
func (o Objects) Remove(ctx context.Context, key, versionID string) error {
	return unavailable(o.Bucket.RemoveAll(ctx, key, versionID))
}

// Open is the evidence bucket cfg describes as the identification service
// uses it (the composition root, shared/app, fills cfg from the function's
// configuration): the loader a function's main passes to app.WithEvidence.
func Open(_ context.Context, cfg Config) (identification.EvidenceObjects, error) {
	b, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return Objects{b}, nil
}

// CreateLocal creates the bucket on a local engine (the dev server's), with
// versioning on: a bucket in AWS is the template's. One that exists
// already is no error.
func (b *Bucket) CreateLocal(ctx context.Context) error {
	if b.endpoint == "" {
		return errors.New("s3evidence: CreateLocal is for a local engine; in AWS the template creates the bucket")
	}
	var body []byte
	if b.region != "us-east-1" {
		body = []byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>` +
			b.region + `</LocationConstraint></CreateBucketConfiguration>`)
	}
	resp, err := b.send(ctx, http.MethodPut, b.bucketURL(), body, nil)
	if err != nil {
		return fmt.Errorf("create the bucket: %w", err)
	}
	defer resp.Body.Close()
	if code := errorCode(resp); resp.StatusCode != http.StatusOK && code != "BucketAlreadyOwnedByYou" {
		return providerError(resp, code, "s3 create bucket")
	}
	return b.EnableVersioning(ctx)
}
