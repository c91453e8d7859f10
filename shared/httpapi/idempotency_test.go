package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
)

func withKey(key string) http.Header { return http.Header{"Idempotency-Key": {key}} }

// TestIdempotencyKeyReplaysTheFirstAnswer: the same key and request replay
// the first answer's status and body without acting again; the same key
// with another request is 409; sixteen at once act once.
func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		otp := "/v1/orgs/acme/identifications/otp"
		first := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-1"))
		again := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-1"))
		if first.Status != http.StatusCreated || again.Status != http.StatusCreated || string(first.Body) != string(again.Body) ||
			first.Header.Get("Location") != again.Header.Get("Location") || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s (%s)\nfirst: %d %s", again.Status, again.Body, again.Header, first.Status, first.Body)
		}
		id := first.Identification(t)["id"].(string)
		if got := f.read(t, "otp", id); got["version"] != 1.0 {
			t.Errorf("the replay acted: version %v", got["version"])
		}
		other := f.do(t, http.MethodPost, otp, strings.Replace(flowOTP, `"P7D"`, `"P1D"`, 1), f.admin, withKey("create-1"))
		if other.Status != http.StatusConflict || other.Errors(t)[0].Code != "MDOC_006" {
			t.Errorf("the key with another body: %d %s, want 409 MDOC_006", other.Status, other.Body)
		}
		// Another organisation's same key is its own.
		if r := f.do(t, http.MethodPost, "/v1/orgs/globex/identifications/otp", flowOTP, f.env.Token(t, "globex", "identifications/admin"), withKey("create-1")); r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("another org's key: %d %s", r.Status, r.Header)
		}

		// A cancel retried with its key: version 2, answered 204 each time.
		cancel := otp + "/" + id + "/cancel"
		for n := 0; n < 3; n++ {
			if r := f.do(t, http.MethodPost, cancel, `{"reason":"duplicate"}`, f.admin, withKey("cancel-1")); r.Status != http.StatusNoContent {
				t.Fatalf("cancel %d: %d %s", n, r.Status, r.Body)
			}
		}
		if got := f.read(t, "otp", id); got["status"] != "CANCELLED" || got["version"] != 2.0 {
			t.Errorf("after three cancels with one key: %v v%v, want CANCELLED v2", got["status"], got["version"])
		}
		// Without the key the same cancel is refused, as it should be.
		if r := f.do(t, http.MethodPost, cancel, `{"reason":"duplicate"}`, f.admin, nil); r.Status != http.StatusConflict {
			t.Errorf("a cancel without the key: %d", r.Status)
		}
		wantError(t, "a malformed key", f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("bad key")), http.StatusBadRequest, "MDOC_001")

		// Sixteen creates at once with one key: one identification.
		var mu sync.Mutex
		ids := map[string]int{}
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				r := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("burst-1"))
				mu.Lock()
				defer mu.Unlock()
				switch r.Status {
				case http.StatusCreated:
					ids[r.Identification(t)["id"].(string)]++
				case http.StatusConflict:
					ids["409"]++
				default:
					t.Errorf("burst: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		created := 0
		for k := range ids {
			if k != "409" {
				created++
			}
		}
		if created != 1 {
			t.Errorf("16 requests with one key created %d identifications: %v", created, ids)
		}
		// A replay of an external create carries the code it first did.
		a := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("code-1"))
		b := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("code-1"))
		if a.Identification(t)["otp_code"] == nil || a.Identification(t)["otp_code"] != b.Identification(t)["otp_code"] {
			t.Errorf("codes %v and %v", a.Identification(t)["otp_code"], b.Identification(t)["otp_code"])
		}
		_ = apitest.Start
	})
}

// TestIdempotentResendAnswersTheSameCode: a resend retried with its key
// answers the code it first issued, and issues no other.
func TestIdempotentResendAnswersTheSameCode(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, _, _ := f.createOTP(t, flowOTP)
		resend := "/v1/orgs/acme/identifications/otp/" + id + "/resend"
		f.env.Clock.Advance(31 * time.Second)
		first := f.do(t, http.MethodPost, resend, "", f.admin, withKey("resend-1"))
		f.env.Clock.Advance(31 * time.Second)
		again := f.do(t, http.MethodPost, resend, "", f.admin, withKey("resend-1"))
		if first.Status != http.StatusOK || again.Status != http.StatusOK || string(first.Body) != string(again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("resend %d %s, again %d %s (%v)", first.Status, first.Body, again.Status, again.Body, again.Header)
		}
		if got := f.read(t, "otp", id)["otp"].(map[string]any); got["codes_sent"] != 2.0 {
			t.Errorf("codes_sent %v after a resend and its replay, want 2", got["codes_sent"])
		}
		var code struct {
			Code string `json:"otp_code"`
		}
		json.Unmarshal(first.Body, &code)
		if r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(code.Code, "12345678A"), f.actor, f.device); r.Status != http.StatusNoContent {
			t.Errorf("the replayed code does not validate: %d %s", r.Status, r.Body)
		}
	})
}
