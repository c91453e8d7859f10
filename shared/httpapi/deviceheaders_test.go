package httpapi_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// TestDeviceHeaderSpellingHint sends the actor's device headers with "-"
// and "_" swapped in their names: the 400 says which name was sent and
// which is wanted; headers spelt right, or missing altogether, get no hint.
func TestDeviceHeaderSpellingHint(t *testing.T) {
	v := &auth.Verifier{Secret: []byte("hint-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	h, err := httpapi.New(httpapi.Config{
		Routes:       httpapi.Routes(),
		Webhooks:     memWebhooks(nil),
		Settings:     memSettings(nil),
		Service:      identification.NewService(memstore.New(), identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Authenticate: v.Authenticate,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	token, _ := v.Mint("hint", []string{"acme"}, []string{auth.ScopeActor}, time.Hour)
	for _, tc := range []struct {
		headers  map[string]string
		status   int
		hint     string
		noHintOf string
	}{
		{map[string]string{"x-installation-id": "install-1", "x-fingerprint": "fp-1"}, http.StatusBadRequest,
			"x-installation_id: header is required, 1 to 128 printable ASCII characters; a header x-installation-id was sent: the name is x-installation_id", ""},
		{map[string]string{"X-INSTALLATION-ID": "install-1", "x-fingerprint": "fp-1"}, http.StatusBadRequest,
			"a header x-installation-id was sent: the name is x-installation_id", ""},
		{map[string]string{"x-installation_id": "install-1", "x_fingerprint": "fp-1"}, http.StatusBadRequest,
			"x-fingerprint: header is required, 1 to 128 printable ASCII characters; a header x_fingerprint was sent: the name is x-fingerprint", ""},
		{map[string]string{"x-fingerprint": "fp-1"}, http.StatusBadRequest, "x-installation_id: header is required", "was sent"},
		{map[string]string{"x-installation_id": "install-1", "x-fingerprint": "fp-1"}, http.StatusNotFound, "", ""},
	} {
		r := httptest.NewRequest(http.MethodPut, "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a/validate", strings.NewReader(`{"code":"k4khb9"}`))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("User-Agent", "hint/1.0")
		for name, v := range tc.headers {
			r.Header[http.CanonicalHeaderKey(name)] = []string{v}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.Contains(body, tc.hint) || (tc.noHintOf != "" && strings.Contains(body, tc.noHintOf)) {
			t.Errorf("%v: %d %s, want %d with %q", tc.headers, rec.Code, body, tc.status, tc.hint)
		}
		if tc.status == http.StatusBadRequest && !strings.Contains(body, `"MDOC_001"`) {
			t.Errorf("%v: %s, want MDOC_001", tc.headers, body)
		}
	}
}
