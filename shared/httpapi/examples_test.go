package httpapi_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
)

// The documented example bodies of docs/api.md, byte for byte.
const (
	otpExample = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},
 "email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},
 "expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`

	chainExample = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"IDENTITY_CARD","country":"ES"},
 "email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},
 "expires_in":"PT15M",
 "sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},
             {"identification_type":"AGENT"},
             {"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"INTERNAL"}}]}`
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func TestDocumentedExamplesAreAcceptedAndReadBack(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		token := env.AdminToken(t, "acme")
		cases := []struct {
			name, kind, body string
			ttl              time.Duration
			// want holds the fields the response must carry, as sent but
			// normalised ("external":"true" is the boolean true; steps get
			// their status).
			want map[string]any
		}{
			{
				name: "otp", kind: "otp", body: otpExample, ttl: 7 * 24 * time.Hour,
				want: map[string]any{
					"type":            "OTP",
					"actor":           decode(t, otpExample)["actor"],
					"two_factor_type": "DOCUMENT_NUMBER",
					"channel":         map[string]any{"type": "SMS", "external": true},
				},
			},
			{
				name: "chain", kind: "chain", body: chainExample, ttl: 15 * time.Minute,
				want: map[string]any{
					"type":  "CHAIN",
					"actor": decode(t, chainExample)["actor"],
					"sequence": decode(t, `{"s":[
						{"identification_type":"OTP","status":"PENDING","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},
						{"identification_type":"AGENT","status":"PENDING"},
						{"identification_type":"IDENTITY_DOCUMENT","status":"PENDING","identity_document_step":{"provider_type":"INTERNAL"}}]}`)["s"],
				},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				base := "/v1/orgs/acme/identifications/" + tc.kind
				created := env.Do(t, apitest.Request{Method: http.MethodPost, Path: base, Body: tc.body, Token: token})
				if created.Status != http.StatusCreated {
					t.Fatalf("create: got %d, want 201: %s", created.Status, created.Body)
				}
				if ct := created.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("create Content-Type: got %q, want application/json", ct)
				}
				body := created.Identification(t)
				id, _ := body["id"].(string)
				if got, want := created.Header.Get("Location"), base+"/"+id; got != want || id == "" {
					t.Errorf("Location: got %q, want %q", got, want)
				}
				if id[14] != '7' {
					t.Errorf("id %s is not a UUIDv7", id)
				}
				got := env.Do(t, apitest.Request{Method: http.MethodGet, Path: base + "/" + id, Token: token})
				if got.Status != http.StatusOK {
					t.Fatalf("get: got %d, want 200: %s", got.Status, got.Body)
				}
				read := got.Identification(t)
				// The create alone carries the code the organisation
				// delivers itself, once; the read never does.
				if _, ok := read["otp_code"]; ok {
					t.Errorf("the read carries the code: %s", got.Body)
				}
				delete(body, "otp_code")
				delete(body, "code_expires_at")
				if !reflect.DeepEqual(read, body) {
					t.Errorf("get differs from create:\n got %v\nwant %v", read, body)
				}
				for k, want := range tc.want {
					if !reflect.DeepEqual(read[k], want) {
						t.Errorf("%s: got %v, want %v", k, read[k], want)
					}
				}
				if read["status"] != "CREATED" || read["org_id"] != "acme" || read["version"] != float64(1) {
					t.Errorf("status/org/version: got %v/%v/%v, want CREATED/acme/1", read["status"], read["org_id"], read["version"])
				}
				createdAt := mustTime(t, read["created_at"])
				if !createdAt.Equal(apitest.Start) {
					t.Errorf("created_at: got %s, want %s", createdAt, apitest.Start)
				}
				if got, want := mustTime(t, read["expires_at"]), createdAt.Add(tc.ttl); !got.Equal(want) {
					t.Errorf("expires_at: got %s, want created_at + %s = %s", got, tc.ttl, want)
				}
				for _, absent := range []string{"ended_at", "cancel_reason"} {
					if _, ok := read[absent]; ok {
						t.Errorf("%s present on a CREATED process", absent)
					}
				}
			})
		}
	})
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("time %v is not RFC 3339 UTC: %v", v, err)
	}
	return tm
}

func TestOTPExpiresInDefaultsToThirtyDays(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		for _, expires := range []string{``, `"expires_in":"",`, `"expires_in":null,`} {
			body := `{"actor":{"name":"Ana","email":"ana@example.com"},` + expires + `"channel":{"type":"EMAIL"}}`
			resp := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: body, Token: env.AdminToken(t, "acme")})
			if resp.Status != http.StatusCreated {
				t.Fatalf("%s: got %d: %s", body, resp.Status, resp.Body)
			}
			m := resp.Identification(t)
			if got, want := mustTime(t, m["expires_at"]), apitest.Start.Add(30*24*time.Hour); !got.Equal(want) {
				t.Errorf("%s: expires_at got %s, want %s", body, got, want)
			}
		}
	})
}
