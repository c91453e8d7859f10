package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/identification"
)

// flowActorValues are the actor's values flowOTP sends, as they could be
// stored.
var flowActorValues = []string{"James", "Smith", "12345678-A", "12345678A", "James.Smith@Example.com", "6123456789"}

// idempotencyRecords are the raw Idempotency-Key records of the env's table.
func idempotencyRecords(t *testing.T, env *apitest.Env) []map[string]any {
	t.Helper()
	out, err := env.Client.Scan(t.Context(), &dynamodb.ScanInput{TableName: &env.Table})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var recs []map[string]any
	for _, av := range out.Items {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(av, &m); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		if pk, _ := m["pk"].(string); strings.Contains(pk, "#IDEM#") {
			recs = append(recs, m)
		}
	}
	return recs
}

func recordOf(t *testing.T, env *apitest.Env, processID string) map[string]any {
	t.Helper()
	for _, m := range idempotencyRecords(t, env) {
		if m["process_id"] == processID {
			return m
		}
	}
	t.Fatalf("no Idempotency-Key record of %s", processID)
	return nil
}

// TestACreateKeyIsDatedAndForgotten: a create's key record is dated with
// the create and kept the window, within the retention: replayed inside it,
// answered afresh after; another route or process with the key is 409;
// after a delete the record keeps nothing of the actor and a replay is 409.
func TestACreateKeyIsDatedAndForgotten(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		otp := "/v1/orgs/acme/identifications/otp"
		created := f.env.Clock.Now().UTC().Truncate(time.Second)
		first := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-dated"))
		if first.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", first.Status, first.Body)
		}
		id := first.Identification(t)["id"].(string)
		rec := recordOf(t, f.env, id)
		at, ttl := rec["at"].(float64), rec["ttl"].(float64)
		if int64(at) != created.Unix() || int64(ttl) != created.Add(identification.IdempotencyWindow).Unix() {
			t.Errorf("record dated at=%v ttl=%v, want %d and %d", at, ttl, created.Unix(), created.Add(identification.IdempotencyWindow).Unix())
		}

		// The key on another route of the same process, or another's.
		wantError(t, "cancel with the create's key", f.do(t, http.MethodPost, otp+"/"+id+"/cancel", `{"reason":"duplicate"}`, f.admin, withKey("create-dated")), http.StatusConflict, "MDOC_006")
		otherID, _, _ := f.createOTP(t, flowOTP)
		wantError(t, "close of another process with the create's key", f.do(t, http.MethodPost, otp+"/"+otherID+"/close", "", f.admin, withKey("create-dated")), http.StatusConflict, "MDOC_006")

		f.env.Clock.Advance(identification.IdempotencyWindow - time.Minute)
		again := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-dated"))
		if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || again.Identification(t)["id"] != id {
			t.Fatalf("replay inside the window: %d %s %v", again.Status, again.Body, again.Header)
		}
		f.env.Clock.Advance(2 * time.Minute)
		fresh := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-dated"))
		if fresh.Status != http.StatusCreated || fresh.Header.Get("Idempotent-Replayed") != "" || fresh.Identification(t)["id"] == id {
			t.Fatalf("after the window: %d %v %v, want a new identification", fresh.Status, fresh.Header, fresh.Identification(t)["id"])
		}

		// A delete erases the answer the key's record kept.
		gone := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-deleted"))
		goneID := gone.Identification(t)["id"].(string)
		if r := f.do(t, http.MethodDelete, otp+"/"+goneID, "", f.admin, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		rec = recordOf(t, f.env, goneID)
		raw, _ := json.Marshal(rec)
		for _, v := range append(flowActorValues, "otp_code") {
			if strings.Contains(string(raw), v) {
				t.Errorf("the deleted process's key record still holds %q: %s", v, raw)
			}
		}
		r := f.do(t, http.MethodPost, otp, flowOTP, f.admin, withKey("create-deleted"))
		wantError(t, "a replay of a deleted process's create", r, http.StatusConflict, "MDOC_006")
		if loc := r.Header.Get("Location"); loc != "" {
			t.Errorf("the replay of a deleted process points at it: %s", loc)
		}
	})
}

// TestAKeyReplaysOnlyToItsCaller: an actor sending the organisation's
// resend key gets a conflict, never the code the organisation's resend
// issued.
func TestAKeyReplaysOnlyToItsCaller(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, _, _ := f.createOTP(t, flowOTP)
		resend := "/v1/orgs/acme/identifications/otp/" + id + "/resend"
		f.env.Clock.Advance(31 * time.Second)
		admin := f.do(t, http.MethodPost, resend, "", f.admin, withKey("resend-"+id))
		if admin.Status != http.StatusOK || !strings.Contains(string(admin.Body), "otp_code") {
			t.Fatalf("the organisation's resend: %d %s", admin.Status, admin.Body)
		}
		h := withKey("resend-" + id)
		for k, v := range f.device {
			h[k] = v
		}
		r := f.do(t, http.MethodPost, resend, "", f.actor, h)
		if strings.Contains(string(r.Body), "otp_code") {
			t.Fatalf("the actor replayed the organisation's resend and got its code: %d %s", r.Status, r.Body)
		}
		wantError(t, "the actor with the organisation's key", r, http.StatusConflict, "MDOC_006")

		// Another subject of the same kind is another caller: a second
		// admin's replay of the first admin's resend is refused too.
		otherAdmin, err := f.env.Verifier.Mint("another-admin", []string{"acme"}, []string{"identifications/admin"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		r = f.do(t, http.MethodPost, resend, "", otherAdmin, withKey("resend-"+id))
		if strings.Contains(string(r.Body), "otp_code") {
			t.Fatalf("another admin replayed the first admin's resend and got its code: %d %s", r.Status, r.Body)
		}
		wantError(t, "another admin with the first admin's key", r, http.StatusConflict, "MDOC_006")
	})
}

// TestAChainOTPStepTakesNoDocumentImage: PERSONAL_DOCUMENT_IMAGE on a
// chain's OTP step is refused at create, naming the field.
func TestAChainOTPStepTakesNoDocumentImage(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		body := strings.Replace(fmt.Sprintf(flowChain, ""), `"two_factor_type":"EMAIL"`, `"two_factor_type":"PERSONAL_DOCUMENT_IMAGE"`, 1)
		r := f.do(t, http.MethodPost, "/v1/orgs/acme/identifications/chain", body, f.admin, nil)
		wantError(t, "a chain OTP step with PERSONAL_DOCUMENT_IMAGE", r, http.StatusBadRequest, "MDOC_002")
		if d := r.Errors(t)[0].Details; !strings.Contains(d, "sequence[0].otp_step.two_factor_type") {
			t.Errorf("details %q do not name the field", d)
		}
	})
}

// secondWriteFails is a store whose next writes of the given actions fail
// as an unreachable store would, once each: the crash between the
// validate's counting write and the write that finishes it.
type secondWriteFails struct {
	identification.Store
	mu sync.Mutex
	// fail counts the failures still to inject per action; before, when
	// set, runs before an action's write (a racing writer).
	fail   map[identification.Action]int
	before map[identification.Action]func(context.Context, identification.Ref, identification.Effect)
}

func (s *secondWriteFails) Apply(ctx context.Context, ref identification.Ref, e identification.Effect) (identification.Result, error) {
	s.mu.Lock()
	n := s.fail[e.Action]
	if n > 0 {
		s.fail[e.Action]-- // the first such write is the validate's own
	}
	hook := s.before[e.Action]
	delete(s.before, e.Action)
	s.mu.Unlock()
	if n > 0 {
		return identification.Result{}, identification.Errorf(identification.KindUnavailable, "injected: the store went away")
	}
	if hook != nil {
		hook(ctx, ref, e)
	}
	return s.Store.Apply(ctx, ref, e)
}

func wrappedFlow(t *testing.T, e enginetest.Engine, s *secondWriteFails) *flow {
	t.Helper()
	env := apitest.NewWithOptions(t, e, apitest.Options{WrapStore: func(inner identification.Store) identification.Store {
		s.Store = inner
		return s
	}})
	return flowOn(t, env)
}

// TestAnAttemptsOutcomeDoesNotDependOnASecondWrite: the store fails the
// write that fails a process after its fifth wrong attempt, or completes
// it after a right one; the next read (or attempt) finishes it all the
// same: FAILED MAX_ATTEMPTS, or COMPLETED.
func TestAnAttemptsOutcomeDoesNotDependOnASecondWrite(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s := &secondWriteFails{fail: map[identification.Action]int{}}
		f := wrappedFlow(t, e, s)
		stored := func(id string) *identification.Identification {
			t.Helper()
			i, err := f.env.Store.Get(t.Context(), identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: id})
			if err != nil {
				t.Fatal(err)
			}
			return i
		}
		fiveWrong := func(id, code string) *apitest.Response {
			var last *apitest.Response
			for range identification.MaxAttempts {
				last = f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(wrong(code), "12345678A"), f.actor, f.device)
			}
			return last
		}

		// The fail write lost; a read finishes it.
		id, code, _ := f.createOTP(t, flowOTP)
		s.mu.Lock()
		s.fail[identification.ActionFailAttempts] = 1
		s.mu.Unlock()
		if r := fiveWrong(id, code); r.Status != http.StatusServiceUnavailable {
			t.Errorf("the fifth wrong attempt whose fail write is lost: %d %s, want 503", r.Status, r.Body)
		}
		if i := stored(id); i.Status != identification.StatusInProgress || i.OTP.Attempts != identification.MaxAttempts {
			t.Fatalf("the injected failure did not leave the process half done: %s, %d attempts", i.Status, i.OTP.Attempts)
		}
		got := f.read(t, "otp", id)
		if got["status"] != "FAILED" || got["failure_reason"] != "MAX_ATTEMPTS" || got["ended_at"] == nil {
			t.Errorf("read after the lost fail write: %v %v, want FAILED MAX_ATTEMPTS", got["status"], got["failure_reason"])
		}
		if i := stored(id); i.Status != identification.StatusFailed {
			t.Errorf("the read did not write the failure: stored %s", i.Status)
		}

		// The same, finished by the next attempt instead of a read.
		id, code, _ = f.createOTP(t, flowOTP)
		s.mu.Lock()
		s.fail[identification.ActionFailAttempts] = 1
		s.mu.Unlock()
		fiveWrong(id, code)
		r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
		if r.Status == http.StatusNoContent {
			t.Fatalf("a sixth attempt was compared")
		}
		if i := stored(id); i.Status != identification.StatusFailed || i.FailureReason != identification.FailureMaxAttempts {
			t.Errorf("a sixth attempt after a lost fail write: stored %s %s, want FAILED", i.Status, i.FailureReason)
		}

		// A right code whose completion write is lost.
		id, code, _ = f.createOTP(t, flowOTP)
		s.mu.Lock()
		s.fail[identification.ActionCompleteCode] = 1
		s.mu.Unlock()
		if r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(code, "12345678A"), f.actor, f.device); r.Status != http.StatusServiceUnavailable {
			t.Errorf("a right code whose completion is lost: %d %s, want 503", r.Status, r.Body)
		}
		// Within the grace the validate that counted it may still
		// complete it: a read leaves it be; after it, the read completes it.
		if got := f.read(t, "otp", id); got["status"] != "IN_PROGRESS" {
			t.Errorf("read at once after a lost completion: %v, want IN_PROGRESS (within the grace)", got["status"])
		}
		f.env.Clock.Advance(identification.SettleGrace)
		if got := f.read(t, "otp", id); got["status"] != "COMPLETED" {
			t.Errorf("read after a lost completion: %v, want COMPLETED", got["status"])
		}
		h := f.do(t, http.MethodGet, "/v1/orgs/acme/identifications/otp/"+id+"/history", "", f.admin, nil)
		if !strings.Contains(string(h.Body), `"action":"complete_code"`) {
			t.Errorf("history lacks the completion: %s", h.Body)
		}
	})
}

// TestARightCodeCountedBeforeAResendCompletes: a resend landing between a
// right attempt's count and its completion does not undo it.
func TestARightCodeCountedBeforeAResendCompletes(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s := &secondWriteFails{fail: map[identification.Action]int{}}
		f := wrappedFlow(t, e, s)
		id, code, _ := f.createOTP(t, flowOTP)
		s.mu.Lock()
		s.before = map[identification.Action]func(context.Context, identification.Ref, identification.Effect){
			identification.ActionCompleteCode: func(ctx context.Context, ref identification.Ref, e identification.Effect) {
				resend, err := identification.Plan(identification.Command{Action: identification.ActionIssueCode, At: e.At.Add(31 * time.Second),
					By:   identification.Caller{Kind: identification.CallerAdmin, Sub: "racing-admin"},
					Code: &identification.IssuedCode{Hash: "a-newer-code", KeyID: "k1", ExpiresAt: e.At.Add(10 * time.Minute), Delivery: identification.DeliveryExternal}})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Store.Apply(ctx, ref, resend); err != nil {
					t.Errorf("the racing resend: %v", err)
				}
			},
		}
		s.mu.Unlock()
		r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(code, "12345678A"), f.actor, f.device)
		if r.Status != http.StatusNoContent {
			t.Errorf("the right code, a resend racing its completion: %d %s, want 204", r.Status, r.Body)
		}
		if got := f.read(t, "otp", id); got["status"] != "COMPLETED" || got["otp"].(map[string]any)["codes_sent"] != 2.0 {
			t.Errorf("after the race: %v %v, want COMPLETED after two codes", got["status"], got["otp"])
		}
	})
}

// TestCodeSpacingIsExact: a new code 29.2 s after the last is too soon,
// whatever whole seconds the two fall in; 30.1 s after is not.
func TestCodeSpacingIsExact(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		f.env.Clock.Advance(900 * time.Millisecond)
		id, _, _ := f.createOTP(t, flowOTP)
		resend := "/v1/orgs/acme/identifications/otp/" + id + "/resend"
		f.env.Clock.Advance(29200 * time.Millisecond)
		r := f.do(t, http.MethodPost, resend, "", f.admin, nil)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("a resend 29.2 s after the code: %d %s, want 429", r.Status, r.Body)
		}
		if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra != 1 {
			t.Errorf("Retry-After %q, want 1 (0.8 s, rounded up)", r.Header.Get("Retry-After"))
		}
		f.env.Clock.Advance(900 * time.Millisecond)
		if r := f.do(t, http.MethodPost, resend, "", f.admin, nil); r.Status != http.StatusOK {
			t.Fatalf("a resend 30.1 s after the code: %d %s, want 200", r.Status, r.Body)
		}
		f.env.Clock.Advance(29999 * time.Millisecond)
		if r := f.do(t, http.MethodPost, resend, "", f.admin, nil); r.Status != http.StatusTooManyRequests {
			t.Errorf("a third code 29.999 s after the second: %d, want 429", r.Status)
		}
	})
}

// TestACodeWrongInAnyOnePositionIsRefusedAndCounted: for each position of
// the code, the code with only that character changed is a mismatch, and
// counted.
func TestACodeWrongInAnyOnePositionIsRefusedAndCounted(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		for pos := range identification.CodeLength {
			id, code, _ := f.createOTP(t, flowOTP)
			b := []byte(code)
			b[pos] = identification.CodeAlphabet[(strings.IndexByte(identification.CodeAlphabet, b[pos])+1)%len(identification.CodeAlphabet)]
			r := f.do(t, http.MethodPut, "/v1/orgs/acme/identifications/otp/"+id+"/validate", validateBody(string(b), "12345678A"), f.actor, f.device)
			wantError(t, fmt.Sprintf("the code wrong at position %d", pos), r, http.StatusUnprocessableEntity, "MDOC_007")
			got := f.read(t, "otp", id)
			if got["status"] != "IN_PROGRESS" || got["otp"].(map[string]any)["attempts"] != 1.0 {
				t.Errorf("position %d: %v %v, want IN_PROGRESS with one attempt counted", pos, got["status"], got["otp"])
			}
		}
	})
}
