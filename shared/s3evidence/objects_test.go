package s3evidence_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
)

// TestObjectsReadsARefusedReadAsNotUploaded: S3 answers 403 AccessDenied
// for a missing key to a reader that may not list the bucket; the service
// gets the 422 of an upload that is not there, not an internal error. Any
// other refusal stays an error of the bucket.
func TestObjectsReadsARefusedReadAsNotUploaded(t *testing.T) {
	for _, c := range []struct {
		status   int
		code     string
		mismatch bool
	}{{http.StatusForbidden, "AccessDenied", true}, {http.StatusForbidden, "SignatureDoesNotMatch", false}, {http.StatusServiceUnavailable, "SlowDown", false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(c.status)
			w.Write([]byte("<Error><Code>" + c.code + "</Code><Message>m</Message></Error>"))
		}))
		b, err := s3evidence.New(s3evidence.Config{Bucket: "evidence", Region: "eu-west-1", BaseEndpoint: srv.URL, Credentials: credentials.StaticCredentialsProvider{Value: s3local.Credentials}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s3evidence.Objects{Bucket: b}.Inspect(context.Background(), "orgs/acme/otp/x/DOCUMENT_FRONT/a.png", "image/png")
		srv.Close()
		if got := identification.KindOf(err) == identification.KindMismatch; got != c.mismatch {
			t.Errorf("%d %s: %v, want a mismatch %v", c.status, c.code, err, c.mismatch)
		}
		if c.mismatch && !strings.Contains(err.Error(), "nothing was uploaded") {
			t.Errorf("%d %s: %v", c.status, c.code, err)
		}
	}
}
