package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/s3evidence"
)

const imageOTP = `{"actor":{"name":"James","identity_document":{"document_number":"12345678A","document_type":"NIF"}},"expires_in":"PT1H","two_factor_type":"PERSONAL_DOCUMENT_IMAGE","channel":{"type":"SMS","external":true}}`

// newEvidenceFlow is a flow whose evidence bucket is on moto_server, on a
// clock that starts at the real time (moto stamps objects with it).
func newEvidenceFlow(t *testing.T, e enginetest.Engine) *flow {
	t.Helper()
	env := apitest.NewWithOptions(t, e, apitest.Options{S3Endpoint: mototest.Start(t), Start: time.Now().UTC().Truncate(time.Second)})
	return &flow{
		env:         env,
		admin:       env.Token(t, "acme", auth.ScopeAdmin),
		actor:       env.Token(t, "acme", auth.ScopeActor),
		agent:       env.Token(t, "acme", auth.ScopeAgent),
		otherOrg:    env.Token(t, "globex", auth.ScopeActor, auth.ScopeAdmin, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider),
		device:      http.Header{"X-Installation_id": {"install-7f3a9c21"}, "X-Fingerprint": {"fp-9d8e7c6b5a"}},
		otherDevice: http.Header{"X-Installation_id": {"install-other-42"}, "X-Fingerprint": {"fp-other-4242"}},
	}
}

type form struct {
	Kind      string            `json:"kind"`
	Key       string            `json:"key"`
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt time.Time         `json:"expires_at"`
}

// forms asks for one form per kind:type.
func (f *flow) forms(t *testing.T, base, token string, h http.Header, files ...string) ([]form, *apitest.Response) {
	t.Helper()
	var list []map[string]string
	for _, kt := range files {
		k, ct, _ := strings.Cut(kt, ":")
		list = append(list, map[string]string{"kind": k, "content_type": ct})
	}
	body, _ := json.Marshal(map[string]any{"files": list})
	r := f.do(t, http.MethodPost, base+"/evidence/uploads", string(body), token, h)
	var out struct {
		Uploads []form `json:"uploads"`
	}
	if r.Status == http.StatusOK {
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out.Uploads, r
}

// upload posts content with the form, as a browser does.
func upload(t *testing.T, fm form, contentType string, content []byte) {
	t.Helper()
	if status, answer := s3local.Upload(t, fm.URL, fm.Fields, "image", contentType, content); status != http.StatusNoContent {
		t.Fatalf("upload %s: %d %s", fm.Kind, status, answer)
	}
}

func (f *flow) confirm(t *testing.T, base, token string, h http.Header, fm form) *apitest.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"kind": fm.Kind, "key": fm.Key})
	return f.do(t, http.MethodPut, base+"/evidence", string(body), token, h)
}

// sendImage asks for the form of kind, uploads a real image of its type
// and confirms it: 204.
func (f *flow) sendImage(t *testing.T, base, token string, h http.Header, kind, contentType string) {
	t.Helper()
	fms, r := f.forms(t, base, token, h, kind+":"+contentType)
	if r.Status != http.StatusOK || len(fms) != 1 {
		t.Fatalf("forms for %s: %d %s", kind, r.Status, r.Body)
	}
	content := s3local.PNG(t)
	if contentType == "image/jpeg" {
		content = s3local.JPEG(t)
	}
	upload(t, fms[0], contentType, content)
	if r := f.confirm(t, base, token, h, fms[0]); r.Status != http.StatusNoContent {
		t.Fatalf("confirm %s: %d %s", kind, r.Status, r.Body)
	}
}

// TestDocumentImagesCompleteTheOTPInEitherOrder: a PERSONAL_DOCUMENT_IMAGE
// identification completes when the right code and both images are in,
// whichever comes last; real PNG and JPEG uploads through the forms.
func TestDocumentImagesCompleteTheOTPInEitherOrder(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		for _, order := range []string{"code first", "code between", "code last"} {
			t.Run(order, func(t *testing.T) {
				id, code, _ := f.createOTP(t, imageOTP)
				base := "/v1/orgs/acme/identifications/otp/" + id
				validate := func() {
					if r := f.do(t, http.MethodPut, base+"/validate", validateBody(code, ""), f.actor, f.device); r.Status != http.StatusNoContent {
						t.Fatalf("validate: %d %s", r.Status, r.Body)
					}
				}
				status := func(want string) {
					t.Helper()
					if got := f.read(t, "otp", id)["status"]; got != want {
						t.Fatalf("%s: status %v, want %s", order, got, want)
					}
				}
				steps := map[string][]func(){
					"code first":   {validate, func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_FRONT", "image/png") }, func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_BACK", "image/jpeg") }},
					"code between": {func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_BACK", "image/jpeg") }, validate, func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_FRONT", "image/png") }},
					"code last":    {func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_FRONT", "image/png") }, func() { f.sendImage(t, base, f.actor, f.device, "DOCUMENT_BACK", "image/jpeg") }, validate},
				}[order]
				for n, step := range steps {
					step()
					if n < len(steps)-1 {
						status("IN_PROGRESS")
					}
				}
				status("COMPLETED")
				got := f.read(t, "otp", id)
				if fmt.Sprint(got["evidence"]) != "[DOCUMENT_FRONT DOCUMENT_BACK]" || got["awaiting"] != nil {
					t.Errorf("evidence %v awaiting %v", got["evidence"], got["awaiting"])
				}
				// Completed: no more images.
				_, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
				wantError(t, "forms after completion", r, http.StatusConflict, "MDOC_006")
			})
		}
	})
}

// TestTheUploadFormIsWhatS3Enforces decodes the policy the API signs: the
// exact key and content type, 1 byte to 5 MiB, five minutes, this bucket.
// (moto enforces none of it: this is the test of the policy itself.)
func TestTheUploadFormIsWhatS3Enforces(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		id, _, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png", "DOCUMENT_BACK:image/jpeg")
		if r.Status != http.StatusOK || len(fms) != 2 {
			t.Fatalf("forms: %d %s", r.Status, r.Body)
		}
		for n, want := range []struct{ kind, ct, ext string }{{"DOCUMENT_FRONT", "image/png", ".png"}, {"DOCUMENT_BACK", "image/jpeg", ".jpg"}} {
			fm := fms[n]
			p, err := s3evidence.DecodePolicy(fm.Fields)
			if err != nil {
				t.Fatal(err)
			}
			prefix := "orgs/acme/otp/" + id + "/" + want.kind + "/"
			if key, _ := p.Eq("key"); key != fm.Key || !strings.HasPrefix(key, prefix) || !strings.HasSuffix(key, want.ext) {
				t.Errorf("%s: policy key %q, form key %q, want under %s", want.kind, key, fm.Key, prefix)
			}
			if ct, _ := p.Eq("Content-Type"); ct != want.ct {
				t.Errorf("%s: policy Content-Type %q, want %s", want.kind, ct, want.ct)
			}
			if lo, hi, ok := p.LengthRange(); !ok || lo != 1 || hi != 5<<20 {
				t.Errorf("%s: content-length-range %d..%d (%v), want 1..5 MiB", want.kind, lo, hi, ok)
			}
			if b, _ := p.Eq("bucket"); b != f.env.Bucket.Name() {
				t.Errorf("policy bucket %q, want %q", b, f.env.Bucket.Name())
			}
			if d := p.Expiration.Sub(f.env.Clock.Now()); d != 5*time.Minute || !fm.ExpiresAt.Equal(p.Expiration) {
				t.Errorf("expiration in %v (form says %v), want 5m", d, fm.ExpiresAt)
			}
		}
	})
}

// TestBadUploadsAreRefusedAndNothingIsRecorded: right size with the wrong
// magic bytes, over 5 MiB, nothing uploaded, uploaded after the form
// expired, another type than the form's, a key not handed out, another
// process's key: each a clear 4xx, and the process unchanged.
func TestBadUploadsAreRefusedAndNothingIsRecorded(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		id, _, _ := f.createOTP(t, imageOTP)
		other, _, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		before := f.read(t, "otp", id)["version"]
		png := s3local.PNG(t)
		notImage := bytes.Repeat([]byte("GIF89a not a png "), len(png)/17+1)[:len(png)]
		huge := append(append([]byte(nil), png...), make([]byte, 5<<20)...)
		cases := []struct {
			name    string
			prepare func(fm form) form
			status  int
			code    string
			says    string
		}{
			{"not an image", func(fm form) form { upload(t, fm, "image/png", notImage); return fm }, 422, "MDOC_007", "neither a JPEG nor a PNG"},
			{"over 5 MiB", func(fm form) form { upload(t, fm, "image/png", huge); return fm }, 422, "MDOC_007", "larger than 5 MiB"},
			{"nothing uploaded", func(fm form) form { return fm }, 422, "MDOC_007", "nothing was uploaded"},
			{"a JPEG for a PNG form", func(fm form) form { upload(t, fm, "image/png", s3local.JPEG(t)); return fm }, 422, "MDOC_007", "content type"},
			{"a key not handed out", func(fm form) form { fm.Key = strings.Replace(fm.Key, ".png", "x.png", 1); return fm }, 409, "MDOC_006", "not the key of an upload form"},
			{"another process's key", func(fm form) form { fm.Key = strings.Replace(fm.Key, id, other, 1); return fm }, 409, "MDOC_006", "not the key of an upload form"},
			{"another kind's key", func(fm form) form { fm.Kind = "DOCUMENT_BACK"; return fm }, 409, "MDOC_006", "not the key of an upload form"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
				if r.Status != http.StatusOK {
					t.Fatalf("forms: %d %s", r.Status, r.Body)
				}
				r = f.confirm(t, base, f.actor, f.device, c.prepare(fms[0]))
				wantError(t, c.name, r, c.status, c.code)
				if d := r.Errors(t)[0].Details; !strings.Contains(d, c.says) {
					t.Errorf("%s: details %q, want them to say %q", c.name, d, c.says)
				}
			})
		}
		// Expired: a form handed out more than five minutes before the
		// upload (S3 would refuse the POST; moto takes it, the confirm
		// does not).
		f.env.Clock.Advance(-10 * time.Minute)
		fms, _ := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
		f.env.Clock.Advance(10 * time.Minute)
		upload(t, fms[0], "image/png", png)
		r := f.confirm(t, base, f.actor, f.device, fms[0])
		wantError(t, "expired form", r, http.StatusUnprocessableEntity, "MDOC_007")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "after its form expired") {
			t.Errorf("expired form: details %q", d)
		}
		got := f.read(t, "otp", id)
		if got["version"] != before || got["evidence"] != nil || got["status"] != "CREATED" {
			t.Errorf("refused uploads changed the process: version %v -> %v, evidence %v, status %v", before, got["version"], got["evidence"], got["status"])
		}
		// Bad bodies: 400 naming the field.
		for body, field := range map[string]string{
			`{"files":[]}`: "files", `{"files":[{"kind":"PASSPORT","content_type":"image/png"}]}`: "files[0].kind",
			`{"files":[{"kind":"DOCUMENT_FRONT","content_type":"image/gif"}]}`:                                                      "files[0].content_type",
			`{"files":[{"kind":"DOCUMENT_FRONT","content_type":"image/png"},{"kind":"DOCUMENT_FRONT","content_type":"image/png"}]}`: "files[1].kind",
		} {
			r := f.do(t, http.MethodPost, base+"/evidence/uploads", body, f.actor, f.device)
			wantError(t, body, r, http.StatusBadRequest, "MDOC_002")
			if !strings.HasPrefix(r.Errors(t)[0].Details, field) {
				t.Errorf("%s: details %q, want %s first", body, r.Errors(t)[0].Details, field)
			}
		}
		// An OTP without PERSONAL_DOCUMENT_IMAGE takes no images.
		plain, _, _ := f.createOTP(t, flowOTP)
		_, r = f.forms(t, "/v1/orgs/acme/identifications/otp/"+plain, f.actor, f.device, "DOCUMENT_FRONT:image/png")
		wantError(t, "forms for a DOCUMENT_NUMBER identification", r, http.StatusConflict, "MDOC_006")
	})
}

const evidenceChain = `{"actor":{"name":"James","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"james@example.com"},"expires_in":"PT1H","sequence":[` +
	`{"identification_type":"OTP","otp_step":{"two_factor_type":"EMAIL","channel":{"type":"EMAIL","external":true}}},{"identification_type":"AGENT"},` +
	`{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"%s"}}]}`

// chainAtDocument creates a chain (OTP, AGENT with an image, IDENTITY_DOCUMENT
// of provider), takes it to its document step and sends the front, the back
// and a selfie.
func (f *flow) chainAtDocument(t *testing.T, provider string) (id, base string) {
	t.Helper()
	r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain", fmt.Sprintf(evidenceChain, provider), f.admin, nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("create chain: %d %s", r.Status, r.Body)
	}
	id = r.Identification(t)["id"].(string)
	base = "/v1/orgs/acme/identifications/chain/" + id
	if r := f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device); r.Status != http.StatusNoContent {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	r = f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil)
	var resent struct {
		Code string `json:"otp_code"`
	}
	json.Unmarshal(r.Body, &resent)
	if r := f.do(t, http.MethodPut, base+"/otp/validate", validateBody(resent.Code, "james@example.com"), f.actor, f.device); r.Status != http.StatusNoContent {
		t.Fatalf("OTP step: %d %s", r.Status, r.Body)
	}
	// The agent's evidence image, then the agent step.
	_, r = f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
	wantError(t, "the actor's document during the agent step", r, http.StatusConflict, "MDOC_006")
	f.sendImage(t, base, f.agent, nil, "AGENT_IMAGE", "image/jpeg")
	if r := f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith"}`, f.agent, nil); r.Status != http.StatusNoContent {
		t.Fatalf("agent step: %d %s", r.Status, r.Body)
	}
	// The document step: the bound device only.
	_, r = f.forms(t, base, f.actor, f.otherDevice, "DOCUMENT_FRONT:image/png")
	wantError(t, "forms from another device", r, http.StatusConflict, "MDOC_006")
	fms, _ := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
	upload(t, fms[0], "image/png", s3local.PNG(t))
	wantError(t, "confirm from another device", f.confirm(t, base, f.actor, f.otherDevice, fms[0]), http.StatusConflict, "MDOC_006")
	if r := f.confirm(t, base, f.actor, f.device, fms[0]); r.Status != http.StatusNoContent {
		t.Fatalf("front: %d %s", r.Status, r.Body)
	}
	f.sendImage(t, base, f.actor, f.device, "DOCUMENT_BACK", "image/jpeg")
	f.sendImage(t, base, f.actor, f.device, "SELFIE", "image/png")
	return id, base
}

// TestDocumentStepIsDecidedByItsProvider: INTERNAL is decided by a reviewer,
// EXTERNAL by the provider; approval completes the chain, rejection fails
// it with STEP_REJECTED; no other scope, no other organisation, no decision
// before both sides are in, none twice.
func TestDocumentStepIsDecidedByItsProvider(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		reviewer := f.env.Token(t, "acme", auth.ScopeReview)
		provider := f.env.Token(t, "acme", auth.ScopeProvider)
		// A token with both scopes decides either kind of step: the
		// approvals below are made with it.
		both := f.env.Token(t, "acme", auth.ScopeReview, auth.ScopeProvider)
		for _, c := range []struct {
			provider, decision string
			right, wrong       string
			status, failure    string
		}{
			{"INTERNAL", "APPROVED", reviewer, provider, "COMPLETED", ""},
			{"INTERNAL", "REJECTED", reviewer, provider, "FAILED", "STEP_REJECTED"},
			{"EXTERNAL", "APPROVED", provider, reviewer, "COMPLETED", ""},
			{"EXTERNAL", "REJECTED", provider, reviewer, "FAILED", "STEP_REJECTED"},
		} {
			t.Run(c.provider+" "+c.decision, func(t *testing.T) {
				id, base := f.chainAtDocument(t, c.provider)
				body := fmt.Sprintf(`{"decision":%q,"reason":"The photo does not match the holder"}`, c.decision)
				decide := func(token string) *apitest.Response {
					return f.do(t, http.MethodPost, base+"/document/decision", body, token, nil)
				}
				wantError(t, "the other decider", decide(c.wrong), http.StatusForbidden, "MDOC_003")
				wantError(t, "the actor", decide(f.actor), http.StatusUnauthorized, "MDOC_003")
				wantError(t, "an admin", decide(f.admin), http.StatusUnauthorized, "MDOC_003")
				r := f.do(t, http.MethodPost, "/v1/orgs/globex/identifications/chain/"+id+"/document/decision", body, f.otherOrg, nil)
				random := f.do(t, http.MethodPost, "/v1/orgs/globex/identifications/chain/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a/document/decision", body, f.otherOrg, nil)
				if r.Status != http.StatusNotFound || !bytes.Equal(r.Body, random.Body) {
					t.Errorf("another org: %d %s; a random id: %d %s", r.Status, r.Body, random.Status, random.Body)
				}
				decider := c.right
				if c.decision == "APPROVED" {
					decider = both
				}
				if r := decide(decider); r.Status != http.StatusNoContent {
					t.Fatalf("decision: %d %s", r.Status, r.Body)
				}
				got := f.read(t, "chain", id)
				doc := got["sequence"].([]any)[2].(map[string]any)
				if got["status"] != c.status || fmt.Sprint(got["failure_reason"]) != fmt.Sprint(map[bool]any{true: nil, false: c.failure}[c.failure == ""]) ||
					doc["decision"] != c.decision || fmt.Sprint(doc["evidence"]) != "[DOCUMENT_FRONT DOCUMENT_BACK SELFIE]" {
					t.Errorf("after %s: status %v failure %v step %v", c.decision, got["status"], got["failure_reason"], doc)
				}
				if agent := got["sequence"].([]any)[1].(map[string]any); fmt.Sprint(agent["evidence"]) != "[AGENT_IMAGE]" {
					t.Errorf("agent step %v, want its image", agent)
				}
				// A second decision: a conflict on a completed chain, "no
				// longer available" on a failed one.
				wantError(t, "a second decision", decide(c.right), http.StatusConflict, map[string]string{"COMPLETED": "MDOC_006", "FAILED": "MDOC_005"}[c.status])
				h := f.do(t, http.MethodGet, base+"/history", "", f.admin, nil)
				for _, action := range []string{"add_evidence", c.decision} {
					want := map[string]string{"APPROVED": "approve_document", "REJECTED": "reject_document"}[action]
					if want == "" {
						want = action
					}
					if !strings.Contains(string(h.Body), `"action":"`+want+`"`) {
						t.Errorf("history lacks %s: %s", want, h.Body)
					}
				}
			})
		}
		// No decision before both sides are in.
		r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain", fmt.Sprintf(evidenceChain, "INTERNAL"), f.admin, nil)
		id := r.Identification(t)["id"].(string)
		wantError(t, "decision on a chain not at its document", f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain/"+id+"/document/decision",
			`{"decision":"APPROVED"}`, reviewer, nil), http.StatusConflict, "MDOC_006")
		wantError(t, "a rejection without a reason", f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain/"+id+"/document/decision",
			`{"decision":"REJECTED"}`, reviewer, nil), http.StatusBadRequest, "MDOC_002")
	})
}

// TestAdminDownloadLinks: an admin's links download the images and expire
// in five minutes; nobody else gets one, and another organisation's id
// reads like a random one.
func TestAdminDownloadLinks(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		id, _, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		fms, _ := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
		png := s3local.PNG(t)
		upload(t, fms[0], "image/png", png)
		if r := f.confirm(t, base, f.actor, f.device, fms[0]); r.Status != http.StatusNoContent {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		r := f.do(t, http.MethodGet, base+"/evidence", "", f.admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("evidence: %d %s", r.Status, r.Body)
		}
		var list struct {
			Items []struct {
				Kind        string    `json:"kind"`
				ContentType string    `json:"content_type"`
				Size        int64     `json:"size"`
				URL         string    `json:"download_url"`
				Expires     time.Time `json:"download_expires_at"`
				By          struct{ Kind, Sub string }
			} `json:"items"`
		}
		if err := json.Unmarshal(r.Body, &list); err != nil || len(list.Items) != 1 {
			t.Fatalf("evidence body: %v %s", err, r.Body)
		}
		it := list.Items[0]
		if it.Kind != "DOCUMENT_FRONT" || it.ContentType != "image/png" || it.Size != int64(len(png)) || it.By.Kind != "actor" {
			t.Errorf("item %+v", it)
		}
		status, got := s3local.Get(t, it.URL)
		if status != http.StatusOK || !bytes.Equal(got, png) {
			t.Fatalf("download: %d, %d bytes (want %d)", status, len(got), len(png))
		}
		// The link expires five minutes after it was signed (moto does not
		// enforce expiry; S3 does, from these two parameters).
		u, err := url.Parse(it.URL)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
		if ttl, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires")); err != nil || ttl != 300 || !signed.Equal(f.env.Clock.Now()) || !it.Expires.Equal(signed.Add(5*time.Minute)) {
			t.Errorf("link signed %v for %ss, expires_at %v; want now, 300 s", signed, u.Query().Get("X-Amz-Expires"), it.Expires)
		}
		// Nobody else: the actor, the agent, another org (as a random id).
		wantError(t, "actor", f.do(t, http.MethodGet, base+"/evidence", "", f.actor, f.device), http.StatusUnauthorized, "MDOC_003")
		wantError(t, "agent", f.do(t, http.MethodGet, base+"/evidence", "", f.agent, nil), http.StatusUnauthorized, "MDOC_003")
		mine := f.do(t, http.MethodGet, "/v1/orgs/globex/identifications/otp/"+id+"/evidence", "", f.otherOrg, nil)
		random := f.do(t, http.MethodGet, "/v1/orgs/globex/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a/evidence", "", f.otherOrg, nil)
		if mine.Status != http.StatusNotFound || !bytes.Equal(mine.Body, random.Body) {
			t.Errorf("another org: %d %s; random: %d %s", mine.Status, mine.Body, random.Status, random.Body)
		}
		if strings.Contains(string(f.do(t, http.MethodGet, base, "", f.admin, nil).Body), fms[0].Key) {
			t.Error("the read shows the object's key")
		}
	})
}

// TestCodeAndImagesRacing: the right code and both images confirmed at
// once, 10 rounds: every round ends COMPLETED, completed by exactly one
// write, whichever came last.
func TestCodeAndImagesRacing(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newEvidenceFlow(t, e)
		for round := range 10 {
			id, code, _ := f.createOTP(t, imageOTP)
			base := "/v1/orgs/acme/identifications/otp/" + id
			fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png", "DOCUMENT_BACK:image/png")
			if r.Status != http.StatusOK {
				t.Fatalf("forms: %d %s", r.Status, r.Body)
			}
			for _, fm := range fms {
				upload(t, fm, "image/png", s3local.PNG(t))
			}
			calls := []func() *apitest.Response{
				func() *apitest.Response {
					return f.do(t, http.MethodPut, base+"/validate", validateBody(code, ""), f.actor, f.device)
				},
				func() *apitest.Response { return f.confirm(t, base, f.actor, f.device, fms[0]) },
				func() *apitest.Response { return f.confirm(t, base, f.actor, f.device, fms[1]) },
			}
			answers := make(chan *apitest.Response, len(calls))
			for _, call := range calls {
				go func() { answers <- call() }()
			}
			for range calls {
				if r := <-answers; r.Status != http.StatusNoContent {
					t.Fatalf("round %d: %d %s", round, r.Status, r.Body)
				}
			}
			if got := f.read(t, "otp", id); got["status"] != "COMPLETED" {
				t.Fatalf("round %d: %v, want COMPLETED", round, got["status"])
			}
			h := string(f.do(t, http.MethodGet, base+"/history", "", f.admin, nil).Body)
			if n := strings.Count(h, `"to":"COMPLETED"`); n != 1 {
				t.Fatalf("round %d: %d completions in the history: %s", round, n, h)
			}
		}
	})
}

// TestAKeyWithABadMACOverARealObjectIsRefused: an object stored under a key
// of the service's shape whose MAC is wrong (one character changed) is
// refused as a key never handed out, though the object is there and a real
// PNG; nothing is recorded.
func TestAKeyWithABadMACOverARealObjectIsRefused(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		endpoint := mototest.Start(t)
		f := flowOn(t, apitest.NewWithOptions(t, e, apitest.Options{S3Endpoint: endpoint, Start: time.Now().UTC().Truncate(time.Second)}))
		id, _, _ := f.createOTP(t, imageOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		fms, r := f.forms(t, base, f.actor, f.device, "DOCUMENT_FRONT:image/png")
		if r.Status != http.StatusOK {
			t.Fatalf("forms: %d %s", r.Status, r.Body)
		}
		// orgs/…/DOCUMENT_FRONT/<stamp>_<nonce>-<mac>.png
		slash := strings.LastIndexByte(fms[0].Key, '/')
		body, macExt, _ := strings.Cut(fms[0].Key[slash+1:], "-")
		macText, ext, _ := strings.Cut(macExt, ".")
		mac := []byte(macText)
		mac[0] = map[bool]byte{true: 'B', false: 'A'}[mac[0] == 'A']
		forged := fms[0].Key[:slash+1] + body + "-" + string(mac) + "." + ext
		s3local.PutObject(t, endpoint, "us-east-1", f.env.Bucket.Name(), forged, "image/png", s3local.PNG(t))
		r = f.confirm(t, base, f.actor, f.device, form{Kind: "DOCUMENT_FRONT", Key: forged})
		wantError(t, "a key with a bad MAC over a real object", r, http.StatusConflict, "MDOC_006")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "not the key of an upload form handed out") {
			t.Errorf("details %q, want the key refused as not handed out", d)
		}
		if got := f.read(t, "otp", id); got["evidence"] != nil && fmt.Sprint(got["evidence"]) != "[]" {
			t.Errorf("evidence recorded from a forged key: %v", got["evidence"])
		}
	})
}
