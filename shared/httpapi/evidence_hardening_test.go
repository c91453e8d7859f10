package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/auth"
)

// repost posts content with a form handed out before, as a client that
// kept it may until it expires, with the form's Content-Type field set to
// contentType: moto stores whatever is posted (S3 would hold the post to
// the form's type, but not to the bytes checked).
func repost(t *testing.T, fm form, contentType string, content []byte) {
	t.Helper()
	fields := map[string]string{}
	for k, v := range fm.Fields {
		fields[k] = v
	}
	fields["Content-Type"] = contentType
	if status, answer := s3local.Upload(t, fm.URL, fields, "page.html", contentType, content); status != http.StatusNoContent {
		t.Fatalf("repost %s: %d %s", fm.Kind, status, answer)
	}
}

// download GETs a link and returns the status, the Content-Type and the
// body.
func download(t *testing.T, link string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// TestACheckedImageCannotBeReplaced (finding 4): the five-minute form
// posts other bytes under the same key after the confirm, and again after
// the identification completed; the admin's links still serve the bytes
// that were checked, with the type checked and the size recorded.
func TestACheckedImageCannotBeReplaced(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		id, code, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png", "DOCUMENT_BACK:image/jpeg")
		if r.Status != http.StatusOK || len(fms) != 2 {
			t.Fatalf("forms: %d %s", r.Status, r.Body)
		}
		checked := map[string][]byte{"DOCUMENT_FRONT": s3local.PNG(t), "DOCUMENT_BACK": s3local.JPEG(t)}
		types := map[string]string{"DOCUMENT_FRONT": "image/png", "DOCUMENT_BACK": "image/jpeg"}
		for _, fm := range fms {
			upload(t, fm, types[fm.Kind], checked[fm.Kind])
			if r := f.confirm(t, base, f.actor, f.device, fm); r.Status != http.StatusNoContent {
				t.Fatalf("confirm %s: %d %s", fm.Kind, r.Status, r.Body)
			}
		}
		page := []byte("<html><body>not a document</body></html>")
		repost(t, fms[0], "text/html", page) // after the confirm
		if r := f.do(t, http.MethodPut, base+"/validate", validateBody(code, ""), f.actor, f.device); r.Status != http.StatusNoContent {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
		if got := f.read(t, "otp", id)["status"]; got != "COMPLETED" {
			t.Fatalf("status %v, want COMPLETED", got)
		}
		repost(t, fms[1], "text/html", page) // after the completion
		r = f.do(t, http.MethodGet, base+"/evidence", "", f.admin, nil)
		var links struct {
			Items []struct {
				Kind        string `json:"kind"`
				ContentType string `json:"content_type"`
				Size        int    `json:"size"`
				URL         string `json:"download_url"`
			} `json:"items"`
		}
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &links) != nil || len(links.Items) != 2 {
			t.Fatalf("links: %d %s", r.Status, r.Body)
		}
		for _, it := range links.Items {
			status, ct, body := download(t, it.URL)
			if status != http.StatusOK || ct != types[it.Kind] || !bytes.Equal(body, checked[it.Kind]) {
				t.Errorf("%s: the link serves HTTP %d, %d bytes of %q; want the %d bytes of %s checked", it.Kind, status, len(body), ct, len(checked[it.Kind]), types[it.Kind])
			}
			if it.ContentType != types[it.Kind] || it.Size != len(checked[it.Kind]) {
				t.Errorf("%s: recorded %s of %d bytes", it.Kind, it.ContentType, it.Size)
			}
		}
	})
}

// TestEvidenceWithTheBucketDownIs503 (finding 9): with a bucket that
// refuses connections, the confirm, the one evidence call that reaches S3
// in the request, is a 503 MDOC_000 with Retry-After, not a 500; the forms
// and the links, signed locally, are still served.
func TestEvidenceWithTheBucketDownIs503(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e) // its bucket is fixture.UnreachableBucket
		f := &flow{env: env, admin: env.Token(t, "acme", auth.ScopeAdmin), actor: env.Token(t, "acme", auth.ScopeActor),
			device: http.Header{"X-Installation_id": {"install-7f3a9c21"}, "X-Fingerprint": {"fp-9d8e7c6b5a"}}}
		id, _, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
		if r.Status != http.StatusOK || len(fms) != 1 {
			t.Fatalf("forms: %d %s", r.Status, r.Body)
		}
		r = f.confirm(t, base, f.actor, f.device, fms[0])
		wantError(t, "confirm with the bucket down", r, http.StatusServiceUnavailable, "MDOC_000")
		if r.Header.Get("Retry-After") == "" {
			t.Error("a 503 without Retry-After")
		}
		if got := f.read(t, "otp", id)["evidence"]; got != nil {
			t.Errorf("evidence %v recorded", got)
		}
		if r := f.do(t, http.MethodGet, base+"/evidence", "", f.admin, nil); r.Status != http.StatusOK {
			t.Errorf("links: %d %s", r.Status, r.Body)
		}
	})
}
