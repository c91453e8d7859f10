package genclient_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/genclient"
	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/internal/openapitest"
	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/auth"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

const org = "acme"

// checked serves h and holds every exchange to the document, as the HTTP
// suites do: what the generated client sends must conform too.
func checked(t *testing.T, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if err := openapitest.Check(r, body, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("Check: %v", err)
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

func bearer(token string) genclient.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

// TestGeneratedClientFlow runs a whole flow with the generated client
// against the dev server's handler tree, on each engine, with the evidence
// bucket on moto_server: every answer must parse into the generated types.
func TestGeneratedClientFlow(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.NewWithOptions(t, e, apitest.Options{S3Endpoint: mototest.Start(t), Start: time.Now().UTC().Truncate(time.Second)})
		srv := httptest.NewServer(checked(t, env.Handler))
		t.Cleanup(srv.Close)
		c, err := genclient.NewClientWithResponses(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		admin := bearer(env.Token(t, org, auth.ScopeAdmin))
		actor := bearer(env.Token(t, org, auth.ScopeActor))
		const ua = "genclient-test/1.0"
		device := struct{ installation, fingerprint string }{"install-7f3a9c21", "fp-9d8e7c6b5a"}

		external := func() *genclient.ChannelInput_External {
			var x genclient.ChannelInput_External
			if err := x.FromChannelInputExternal0(true); err != nil {
				t.Fatal(err)
			}
			return &x
		}
		create := func(t *testing.T, name string, two *genclient.TwoFactorType) *genclient.OtpIdentification {
			t.Helper()
			body := genclient.CreateOtpRequest{
				Actor: genclient.ActorInput{
					Name:             name,
					IdentityDocument: &genclient.IdentityDocument{DocumentNumber: "12345678A", DocumentType: genclient.NIF},
				},
				Channel:       genclient.ChannelInput{Type: genclient.ChannelTypeSMS, External: external()},
				ExpiresIn:     ptr("P7D"),
				TwoFactorType: two,
			}
			r, err := c.CreateOtpWithResponse(ctx, org, nil, body, admin)
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode() != http.StatusCreated || r.JSON201 == nil || r.Headers201 == nil {
				t.Fatalf("create = %d: %s", r.StatusCode(), r.Body)
			}
			o := r.JSON201
			if o.OtpCode == nil || len(*o.OtpCode) != 6 || o.CodeExpiresAt == nil {
				t.Fatalf("an external create's answer has no code: %s", r.Body)
			}
			if want := "/v1/orgs/" + org + "/identifications/otp/" + o.Id.String(); r.Headers201.Location != want {
				t.Errorf("Location = %q, want %q", r.Headers201.Location, want)
			}
			if got := o.ExpiresAt.Sub(o.CreatedAt); got != 7*24*time.Hour {
				t.Errorf("expires_at - created_at = %v, want 7 days", got)
			}
			return o
		}
		get := func(t *testing.T, id uuid.UUID) *genclient.OtpIdentification {
			t.Helper()
			r, err := c.GetOtpWithResponse(ctx, org, id, admin)
			if err != nil {
				t.Fatal(err)
			}
			if r.JSON200 == nil {
				t.Fatalf("read = %d: %s", r.StatusCode(), r.Body)
			}
			return r.JSON200
		}

		// External create, validate with the device headers, read.
		first := create(t, "Ana", ptr(genclient.TwoFactorTypeDOCUMENTNUMBER))
		v, err := c.ValidateOtpWithResponse(ctx, org, first.Id, &genclient.ValidateOtpParams{
			UserAgent: ua, XInstallationId: device.installation, XFingerprint: device.fingerprint, XLocation: ptr("40.4168,-3.7038"),
		}, genclient.ValidateOtpJSONRequestBody{Code: *first.OtpCode, TwoFactor: ptr("12345678-a")}, actor)
		if err != nil || v.StatusCode() != http.StatusNoContent {
			t.Fatalf("validate = %v %v: %s", v.StatusCode(), err, v.Body)
		}
		got := get(t, first.Id)
		if got.Status != genclient.StatusCOMPLETED || got.CompletedAt == nil || got.CompletedDevice == nil ||
			got.CompletedDevice.InstallationId != device.installation || got.OtpCode != nil {
			t.Errorf("after the validate: %+v", got)
		}

		// A wrong id: a 404 the client parses.
		nf, err := c.GetOtpWithResponse(ctx, org, uuid.New(), admin)
		if err != nil || nf.JSON404 == nil || len(nf.JSON404.Errors) == 0 || nf.JSON404.Errors[0].Code != genclient.MDOC004CodeMDOC004 {
			t.Errorf("read of a missing id = %d %v: %s", nf.StatusCode(), err, nf.Body)
		}

		// Cancel, and the history that records it.
		second := create(t, "Bea", nil)
		cr, err := c.CancelOtpWithResponse(ctx, org, second.Id, nil, genclient.CancelOtpJSONRequestBody{Reason: "The customer asked to stop the process"}, admin)
		if err != nil || cr.StatusCode() != http.StatusNoContent {
			t.Fatalf("cancel = %v %v: %s", cr.StatusCode(), err, cr.Body)
		}
		if got := get(t, second.Id); got.Status != genclient.StatusCANCELLED || got.CancelReason == nil || got.EndedAt == nil {
			t.Errorf("after the cancel: %+v", got)
		}
		h, err := c.GetOtpHistoryWithResponse(ctx, org, second.Id, admin)
		if err != nil || h.JSON200 == nil {
			t.Fatalf("history = %v %v: %s", h.StatusCode(), err, h.Body)
		}
		var actions []genclient.HistoryItemAction
		for _, it := range h.JSON200.Items {
			actions = append(actions, it.Action)
		}
		if !slices.Equal(actions, []genclient.HistoryItemAction{genclient.Create, genclient.Cancel}) {
			t.Errorf("history actions = %v, want [create cancel]", actions)
		}

		// The evidence forms, the uploads, the confirms and the links.
		third := create(t, "Cai", ptr(genclient.TwoFactorTypePERSONALDOCUMENTIMAGE))
		actorParams := func() (string, string, string) { return ua, device.installation, device.fingerprint }
		u, i, f := actorParams()
		if v, err := c.ValidateOtpWithResponse(ctx, org, third.Id, &genclient.ValidateOtpParams{UserAgent: u, XInstallationId: i, XFingerprint: f},
			genclient.ValidateOtpJSONRequestBody{Code: *third.OtpCode}, actor); err != nil || v.StatusCode() != http.StatusNoContent {
			t.Fatalf("validate = %v %v: %s", v.StatusCode(), err, v.Body)
		}
		if got := get(t, third.Id); got.Status != genclient.StatusINPROGRESS || got.Awaiting == nil {
			t.Errorf("before the images: %+v", got)
		}
		fr, err := c.RequestOtpEvidenceUploadsWithResponse(ctx, org, third.Id,
			&genclient.RequestOtpEvidenceUploadsParams{UserAgent: u, XInstallationId: i, XFingerprint: f},
			genclient.RequestOtpEvidenceUploadsJSONRequestBody{Files: []genclient.EvidenceFile{
				{Kind: genclient.DOCUMENTFRONT, ContentType: genclient.Imagejpeg},
				{Kind: genclient.DOCUMENTBACK, ContentType: genclient.Imagepng},
			}}, actor)
		if err != nil || fr.JSON200 == nil || len(fr.JSON200.Uploads) != 2 {
			t.Fatalf("forms = %v %v: %s", fr.StatusCode(), err, fr.Body)
		}
		for n, form := range fr.JSON200.Uploads {
			if form.ExpiresAt.IsZero() || form.Key == "" {
				t.Errorf("form %d: %+v", n, form)
			}
			ct, content := "image/jpeg", s3local.JPEG(t)
			if form.Kind == genclient.DOCUMENTBACK {
				ct, content = "image/png", s3local.PNG(t)
			}
			if status, answer := s3local.Upload(t, form.Url, form.Fields, "image", ct, content); status != http.StatusNoContent {
				t.Fatalf("upload %s: %d %s", form.Kind, status, answer)
			}
			cf, err := c.ConfirmOtpEvidenceWithResponse(ctx, org, third.Id,
				&genclient.ConfirmOtpEvidenceParams{UserAgent: u, XInstallationId: i, XFingerprint: f},
				genclient.ConfirmOtpEvidenceJSONRequestBody{Kind: form.Kind, Key: form.Key}, actor)
			if err != nil || cf.StatusCode() != http.StatusNoContent {
				t.Fatalf("confirm %s = %v %v: %s", form.Kind, cf.StatusCode(), err, cf.Body)
			}
		}
		if got := get(t, third.Id); got.Status != genclient.StatusCOMPLETED || got.Evidence == nil || len(*got.Evidence) != 2 {
			t.Errorf("after the images: %+v", got)
		}
		links, err := c.GetOtpEvidenceWithResponse(ctx, org, third.Id, admin)
		if err != nil || links.JSON200 == nil || len(links.JSON200.Items) != 2 {
			t.Fatalf("links = %v %v: %s", links.StatusCode(), err, links.Body)
		}
		for _, l := range links.JSON200.Items {
			if l.UploadedAt.IsZero() || l.DownloadExpiresAt.IsZero() || l.By.Kind != genclient.EvidenceLinkByKindActor || l.Size < 1 {
				t.Errorf("link: %+v", l)
			}
			if status, _ := s3local.Get(t, l.DownloadUrl); status != http.StatusOK {
				t.Errorf("download %s = %d", l.Kind, status)
			}
		}

		// List with a cursor: the three, newest first, two then one.
		var listed []uuid.UUID
		params := &genclient.ListOtpParams{Limit: ptr(2)}
		for page := 0; ; page++ {
			l, err := c.ListOtpWithResponse(ctx, org, params, admin)
			if err != nil || l.JSON200 == nil {
				t.Fatalf("list page %d = %v %v: %s", page, l.StatusCode(), err, l.Body)
			}
			for _, it := range l.JSON200.Items {
				listed = append(listed, it.Id)
			}
			if l.JSON200.NextCursor == nil {
				break
			}
			if page > 3 {
				t.Fatal("the listing does not end")
			}
			params.Cursor = l.JSON200.NextCursor
		}
		if want := []uuid.UUID{third.Id, second.Id, first.Id}; !slices.Equal(listed, want) {
			t.Errorf("listed %v, want %v", listed, want)
		}

		// A chain: its expires_in is a plain string, its steps a oneOf.
		var step genclient.StepInput
		if err := step.FromAgentStepInput(genclient.AgentStepInput{IdentificationType: genclient.AgentStepInputIdentificationTypeAGENT}); err != nil {
			t.Fatal(err)
		}
		ch, err := c.CreateChainWithResponse(ctx, org, &genclient.CreateChainParams{UserAgent: ua},
			genclient.CreateChainJSONRequestBody{Actor: genclient.ActorInput{Name: "Dan"}, ExpiresIn: "PT15M", Sequence: []genclient.StepInput{step}}, admin)
		if err != nil || ch.JSON201 == nil {
			t.Fatalf("create chain = %v %v: %s", ch.StatusCode(), err, ch.Body)
		}
		if got := ch.JSON201.ExpiresAt.Sub(ch.JSON201.CreatedAt); got != 15*time.Minute {
			t.Errorf("chain expires_at - created_at = %v, want 15m", got)
		}
		if st, err := ch.JSON201.Sequence[0].AsAgentStep(); err != nil || st.Status != genclient.StepStatusPENDING {
			t.Errorf("step 1 = %+v %v", st, err)
		}
		cc, err := c.CancelChainWithResponse(ctx, org, ch.JSON201.Id, &genclient.CancelChainParams{UserAgent: ua}, genclient.CancelChainJSONRequestBody{}, admin)
		if err != nil || cc.StatusCode() != http.StatusNoContent {
			t.Fatalf("cancel chain = %v %v: %s", cc.StatusCode(), err, cc.Body)
		}
		gc, err := c.GetChainWithResponse(ctx, org, ch.JSON201.Id, &genclient.GetChainParams{UserAgent: ua}, admin)
		if err != nil || gc.JSON200 == nil || gc.JSON200.Status != genclient.StatusCANCELLED {
			t.Errorf("chain after the cancel = %v %v: %s", gc.StatusCode(), err, gc.Body)
		}
	})
}
