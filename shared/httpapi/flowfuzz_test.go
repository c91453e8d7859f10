package httpapi_test

import (
	"bytes"
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

// FuzzDeviceHeaders sends a validate with arbitrary device headers: the
// answer is a 400 MDOC_001 naming the header when one is not what the
// documentation allows, never a 5xx, and no header value ever reaches the
// logs.
func FuzzDeviceHeaders(f *testing.F) {
	for _, s := range [][3]string{
		{"install-1", "fp-1", "40.4168,-3.7038"},
		{"install-7f3a9c21-0000", "fp-9d8e7c6b5a-0000", "40.4168000,-3.7038000"},
		{"", "fp-1", ""},
		{"install-1", "", ""},
		{"a b", "fp", ""},
		{strings.Repeat("i", 129), "fp", ""},
		{"install-1", "fp-1", "91,0"},
		{"install-1", "fp-1", "40.4,-3.7,1"},
		{"install-1", "fp-1", "NaN,0"},
		{"install-1", "fp-1", "1e2,0"},
		{"ínstall", "fp", ""},
		{"install-1", "fp\x00", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	var logs bytes.Buffer
	store := memstore.New()
	v := &auth.Verifier{Secret: []byte("fuzz-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	h, err := httpapi.New(httpapi.Config{
		Routes:       httpapi.Routes(),
		Webhooks:     memWebhooks(nil),
		Settings:     memSettings(nil),
		Service:      identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Authenticate: v.Authenticate,
		Logger:       slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	token, _ := v.Mint("fuzz", []string{"acme"}, []string{auth.ScopeActor}, time.Hour)
	id := "0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a"
	send := func(installation, fingerprint, location string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", strings.NewReader(`{"code":"k4khb9"}`))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("User-Agent", "fuzz/1.0")
		for name, v := range map[string]string{"x-installation_id": installation, "x-fingerprint": fingerprint, "x-location": location} {
			if v != "" {
				r.Header[http.CanonicalHeaderKey(name)] = []string{v}
			}
		}
		logs.Reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	f.Fuzz(func(t *testing.T, installation, fingerprint, location string) {
		send("", "", "")
		baseline := logs.String()
		rec := send(installation, fingerprint, location)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `"MDOC_001"`) {
			t.Fatalf("a 400 that is not MDOC_001: %s", rec.Body)
		}
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 400 (a bad header) or 404 (no such process): %s", rec.Code, rec.Body)
		}
		// A value long enough not to turn up by chance, found in these
		// logs but not in those of the same request without the headers.
		for _, v := range []string{installation, fingerprint, location} {
			if len(v) >= 16 && strings.Contains(logs.String(), v) && !strings.Contains(baseline, v) {
				t.Fatalf("a device header value reached the logs: %q", v)
			}
		}
	})
}
