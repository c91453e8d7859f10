package s3evidence_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
)

// TestTheCheckedVersionIsWhatTheLinkServes: a form posted again after the
// check stores other bytes under the same key; the link to the version
// Inspect checked still serves the checked bytes, with their content type.
func TestTheCheckedVersionIsWhatTheLinkServes(t *testing.T) {
	t.Parallel()
	b, _ := motoBucket(t)
	ctx := context.Background()
	key := "orgs/acme/otp/id-1/DOCUMENT_FRONT/a.png"
	checked := s3local.PNG(t)
	upload(t, b, key, s3evidence.PNG, checked)
	obj, err := b.Inspect(ctx, key, s3evidence.PNG)
	if err != nil || obj.VersionID == "" {
		t.Fatalf("inspect: %+v, %v; want a version id", obj, err)
	}
	repost(t, b, key, "text/html", []byte("<html><script>alert(1)</script></html>"))
	link, err := b.PresignGet(ctx, key, obj.VersionID, 5*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), checked) || resp.Header.Get("Content-Type") != s3evidence.PNG {
		t.Fatalf("the link serves HTTP %d, %d bytes of %s; want the %d checked bytes of image/png",
			resp.StatusCode, body.Len(), resp.Header.Get("Content-Type"), len(checked))
	}
}

// TestRemoveAllDeletesEveryVersion: the version checked and what the form
// posted after it are all deleted for good: the checked version's link and
// a plain GET of the key find nothing; removing again is no error.
func TestRemoveAllDeletesEveryVersion(t *testing.T) {
	t.Parallel()
	b, _ := motoBucket(t)
	ctx := context.Background()
	key := "orgs/acme/otp/id-2/DOCUMENT_BACK/b.jpg"
	upload(t, b, key, s3evidence.JPEG, s3local.JPEG(t))
	obj, err := b.Inspect(ctx, key, s3evidence.JPEG)
	if err != nil {
		t.Fatal(err)
	}
	upload(t, b, key, s3evidence.JPEG, s3local.JPEG(t))
	repost(t, b, key, "text/html", []byte("<p>other</p>"))
	if err := b.RemoveAll(ctx, key, obj.VersionID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{obj.VersionID, ""} {
		link, err := b.PresignGet(ctx, key, v, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := s3local.Get(t, link); status != http.StatusNotFound && status != http.StatusForbidden {
			t.Errorf("version %q after RemoveAll: HTTP %d, want 404 or 403", v, status)
		}
	}
	if _, err := b.Inspect(ctx, key, s3evidence.JPEG); !errors.Is(err, s3evidence.ErrNotUploaded) {
		t.Errorf("inspect after RemoveAll: %v, want ErrNotUploaded", err)
	}
	if err := b.RemoveAll(ctx, key, obj.VersionID); err != nil {
		t.Errorf("RemoveAll again: %v", err)
	}
}

// TestAnUnavailableBucketIsKindUnavailable: a bucket that refuses
// connections, answers 5xx or asks to slow down is the 503 of an
// unavailable dependency for every call that reaches it, not a 500; a
// refusal is not.
func TestAnUnavailableBucketIsKindUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	key := "orgs/acme/otp/x/DOCUMENT_FRONT/a.png"
	check := func(name string, o s3evidence.Objects, want identification.Kind) {
		t.Helper()
		_, err := o.Inspect(ctx, key, s3evidence.PNG)
		if got := identification.KindOf(err); got != want {
			t.Errorf("%s: inspect: %v (kind %v), want kind %v", name, err, got, want)
		}
		if err := o.Remove(ctx, key, "v1"); identification.KindOf(err) != want {
			t.Errorf("%s: remove: %v, want kind %v", name, err, want)
		}
	}
	check("connection refused", s3evidence.Objects{Bucket: fixture.UnreachableBucket()}, identification.KindUnavailable)
	for _, c := range []struct {
		status int
		code   string
		want   identification.Kind
	}{
		{http.StatusServiceUnavailable, "SlowDown", identification.KindUnavailable},
		{http.StatusInternalServerError, "InternalError", identification.KindUnavailable},
		{http.StatusBadGateway, "", identification.KindUnavailable},
		{http.StatusForbidden, "SignatureDoesNotMatch", 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			if c.code != "" {
				w.Write([]byte("<Error><Code>" + c.code + "</Code></Error>"))
			}
		}))
		b, err := s3evidence.New(s3evidence.Config{Bucket: "evidence", Region: "eu-west-1", BaseEndpoint: srv.URL,
			Credentials: credentials.StaticCredentialsProvider{Value: s3local.Credentials}})
		if err != nil {
			t.Fatal(err)
		}
		check(http.StatusText(c.status)+" "+c.code, s3evidence.Objects{Bucket: b}, c.want)
		srv.Close()
	}
}

// repost posts content through a PNG form for key with its Content-Type
// field changed to contentType: moto stores it (it enforces no policy), as
// it stored the finding's text/html; S3 would store other bytes of the
// form's type at most.
func repost(t *testing.T, b *s3evidence.Bucket, key, contentType string, content []byte) {
	t.Helper()
	f, err := b.PresignPost(context.Background(), key, s3evidence.PNG, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.Fields["Content-Type"] = contentType
	if status, body := s3local.Upload(t, f.URL, f.Fields, "page", contentType, content); status != http.StatusNoContent {
		t.Fatalf("upload: HTTP %d %s", status, body)
	}
}
