package stream_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
)

// TestADeletedProcessLosesItsImages (finding 10): a forced delete of a
// completed PERSONAL_DOCUMENT_IMAGE identification writes the tombstone;
// its record, through the processor, deletes every version of the images
// (the checked ones and what the form posted after), so a link handed out
// before answers 404. With the bucket down the record fails, for the
// stream to retry, and the retry deletes them: the removal does not hang
// on one try.
func TestADeletedProcessLosesItsImages(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newRig(t, e)
		r.mu.Lock()
		r.now = time.Now().UTC().Truncate(time.Second) // moto stamps uploads with the real time
		r.mu.Unlock()
		bucket := s3evidence.Objects{Bucket: s3local.NewBucket(t, mototest.Start(t), "us-east-1")}
		clock := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
		svc := identification.NewService(r.store, identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()),
			identification.WithEvidence(bucket))
		ctx := t.Context()
		in := identification.CreateOTP{
			Actor: &identification.Actor{Name: "Zacarías Distinctname",
				IdentityDocument: &identification.IdentityDocument{DocumentNumber: "98765432Z", DocumentType: "NIF"}},
			Channel: &identification.Channel{Type: "SMS", External: true}, ExpiresIn: "P1D", TwoFactorType: "PERSONAL_DOCUMENT_IMAGE",
		}
		created, err := svc.CreateOTP(ctx, "acme", in, admin)
		if err != nil {
			t.Fatal(err)
		}
		ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: created.ID}
		uploads, err := svc.RequestUploads(ctx, ref, identification.UploadRequest{Files: []identification.UploadFile{
			{Kind: identification.EvidenceDocumentFront, ContentType: "image/png"}, {Kind: identification.EvidenceDocumentBack, ContentType: "image/png"}}}, actor)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range uploads {
			if status, body := s3local.Upload(t, u.Form.URL, u.Form.Fields, "doc.png", "image/png", s3local.PNG(t)); status != http.StatusNoContent {
				t.Fatalf("upload: %d %s", status, body)
			}
			if err := svc.ConfirmEvidence(ctx, ref, identification.EvidenceConfirm{Kind: u.Kind, Key: u.Key}, actor); err != nil {
				t.Fatal(err)
			}
			// The form posts again after the check: another version.
			if status, body := s3local.Upload(t, u.Form.URL, u.Form.Fields, "doc.png", "image/png", s3local.PNG(t)[:20]); status != http.StatusNoContent {
				t.Fatalf("upload: %d %s", status, body)
			}
		}
		links, err := svc.EvidenceLinks(ctx, ref)
		if err != nil || len(links) != 2 {
			t.Fatalf("links %v, %v", links, err)
		}
		for _, l := range links {
			if status, _ := s3local.Get(t, l.URL); status != http.StatusOK {
				t.Fatalf("link before the delete: %d", status)
			}
		}
		r.drain(t)

		if err := svc.Delete(ctx, ref, true, admin); err != nil {
			t.Fatal(err)
		}
		recs := r.poll(t)
		// The bucket down: the tombstone's record fails, to be retried.
		r.proc.Evidence = s3evidence.Objects{Bucket: fixture.UnreachableBucket()}
		if n, err := r.proc.Process(ctx, recs); err == nil || identification.KindOf(err) != identification.KindUnavailable {
			t.Fatalf("with the bucket down: %d of %d processed, %v; want the tombstone's record to fail as unavailable", n, len(recs), err)
		} else {
			recs = recs[n:]
		}
		for _, l := range links {
			if status, _ := s3local.Get(t, l.URL); status != http.StatusOK {
				t.Fatalf("the failed record deleted %s: %d", l.Kind, status)
			}
		}
		// The retry, with the bucket back.
		r.proc.Evidence = bucket
		if n, err := r.proc.Process(ctx, recs); err != nil {
			t.Fatalf("retry: %d of %d: %v", n, len(recs), err)
		}
		for _, l := range links {
			if status, _ := s3local.Get(t, l.URL); status != http.StatusNotFound && status != http.StatusForbidden {
				t.Errorf("%s: the link handed out before the delete answers %d, want 404 or 403", l.Kind, status)
			}
			// Nor is any other version left under the key.
			any, err := bucket.PresignGet(context.Background(), l.Key, "", time.Minute, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if status, _ := s3local.Get(t, any); status != http.StatusNotFound && status != http.StatusForbidden {
				t.Errorf("%s: the key still serves %d", l.Kind, status)
			}
		}
	})
}
