package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
)

// faultEnv is an Env whose DynamoDB client suffers the injected faults.
func faultEnv(t *testing.T, e enginetest.Engine) (*apitest.Env, *apitest.Faults) {
	t.Helper()
	faults := &apitest.Faults{}
	return apitest.NewWithOptions(t, e, apitest.Options{ClientOptions: faults.ClientOptions()}), faults
}

// check503 checks the documented answer of an unavailable store.
func check503(t *testing.T, what string, resp *apitest.Response) {
	t.Helper()
	if resp.Status != http.StatusServiceUnavailable {
		t.Errorf("%s: got %d %s, want 503", what, resp.Status, resp.Body)
		return
	}
	if got := resp.Header.Get("Retry-After"); got == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	errs := resp.Errors(t)
	if len(errs) != 1 || errs[0].Code != "MDOC_000" || errs[0].Title != "INTERNAL_SERVER_ERROR" || strings.Contains(errs[0].Details, "DynamoDB") {
		t.Errorf("%s: body %s, want one generic MDOC_000 error", what, resp.Body)
	}
}

func TestStoreFaultsReachTheClientAs503(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		for _, fault := range []apitest.Fault{apitest.FaultThrottle, apitest.FaultServerError, apitest.FaultConnReset} {
			// A client of its own per fault: the SDK's retry quota, which a
			// storm of failed retries drains (TestRetryQuotaBoundsAStorm),
			// starts full for each.
			storeFaultsReachTheClientAs503(t, e, fault)
		}
	})
}

func storeFaultsReachTheClientAs503(t *testing.T, e enginetest.Engine, fault apitest.Fault) {
	t.Helper()
	{
		env, faults := faultEnv(t, e)
		token := env.Token(t, "acme", auth.ScopeAdmin, auth.ScopeForceDelete)
		otpID := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample, Token: token}).Identification(t)["id"].(string)
		chainID := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample, Token: token}).Identification(t)["id"].(string)
		otp := "/v1/orgs/acme/identifications/otp/" + otpID
		chain := "/v1/orgs/acme/identifications/chain/" + chainID
		read := func() []byte {
			t.Helper()
			var b []byte
			for _, p := range []string{otp, chain} {
				r := env.Do(t, apitest.Request{Method: http.MethodGet, Path: p, Token: token})
				if r.Status != http.StatusOK {
					t.Fatalf("read %s: %d %s", p, r.Status, r.Body)
				}
				b = append(b, r.Body...)
			}
			return b
		}
		before := read()
		requests := []apitest.Request{
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample},
			{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/chain", Body: chainExample},
			{Method: http.MethodGet, Path: otp},
			{Method: http.MethodGet, Path: chain},
			{Method: http.MethodPost, Path: otp + "/cancel", Body: `{"reason":"fault"}`},
			{Method: http.MethodPost, Path: otp + "/close"},
			{Method: http.MethodDelete, Path: otp + "?force=true"},
			{Method: http.MethodPost, Path: chain + "/cancel"},
			{Method: http.MethodPost, Path: chain + "/close"},
		}
		{
			faults.Reset()
			faults.Set(apitest.Rule{Fault: fault})
			for _, req := range requests {
				req.Token = token
				check503(t, fault.String()+" "+req.Method+" "+req.Path, env.Do(t, req))
			}
			if got, want := faults.Attempts(""), 3*len(requests); got != want {
				t.Errorf("%s: %d attempts for %d requests, want %d (3 each)", fault, got, len(requests), want)
			}
			faults.Reset()
			if after := read(); !bytes.Equal(after, before) {
				t.Errorf("%s: the records changed:\nbefore %s\nafter  %s", fault, before, after)
			}
		}
		// A fault that clears within the retry budget is invisible.
		faults.Set(apitest.Rule{Fault: apitest.FaultThrottle, Times: 2})
		if r := env.Do(t, apitest.Request{Method: http.MethodPost, Path: otp + "/close", Token: token}); r.Status != http.StatusNoContent {
			t.Errorf("close through two throttled attempts: got %d %s, want 204", r.Status, r.Body)
		}
		if n := faults.Attempts("UpdateItem"); n != 3 {
			t.Errorf("close: %d attempts, want 3", n)
		}
	}
}

// TestDeadlineBoundsARequest gives requests a deadline, as Lambda's
// remaining time would through the adapter's context, and a store slower
// than it.
func TestDeadlineBoundsARequest(t *testing.T) {
	const deadline = 250 * time.Millisecond
	const margin = 500 * time.Millisecond // a loaded machine, the race detector
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env, faults := faultEnv(t, e)
		token := env.AdminToken(t, "acme")
		id := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample, Token: token}).Identification(t)["id"].(string)
		path := "/v1/orgs/acme/identifications/otp/" + id
		for _, fault := range []apitest.Fault{apitest.FaultSlow, apitest.FaultSlowResponse} {
			for _, req := range []apitest.Request{
				{Method: http.MethodGet, Path: path},
				{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp", Body: otpExample},
			} {
				faults.Reset()
				faults.Set(apitest.Rule{Fault: fault, Delay: time.Minute})
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				req.Token, req.Context = token, ctx
				start := time.Now()
				resp := env.Do(t, req)
				took := time.Since(start)
				cancel()
				what := fault.String() + " " + req.Method + " " + req.Path
				check503(t, what, resp)
				if took > deadline+margin {
					t.Errorf("%s: answered after %s, want by the %s deadline (+%s)", what, took, deadline, margin)
				}
			}
		}
	})
}

// TestLostCancelResponses: a cancel whose response is lost, retried by the
// SDK or sent again by the client, answers 409 naming CANCELLED and leaves
// the record as the first cancel made it.
func TestLostCancelResponses(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env, faults := faultEnv(t, e)
		token := env.AdminToken(t, "acme")
		for _, kind := range []string{"otp", "chain"} {
			body := map[string]string{"otp": otpExample, "chain": chainExample}[kind]
			create := func() string {
				r := env.Do(t, apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/" + kind, Body: body, Token: token})
				if r.Status != http.StatusCreated {
					t.Fatalf("create %s: %d %s", kind, r.Status, r.Body)
				}
				return "/v1/orgs/acme/identifications/" + kind + "/" + r.Identification(t)["id"].(string)
			}
			cancelReq := func(path string) apitest.Request {
				return apitest.Request{Method: http.MethodPost, Path: path + "/cancel", Body: `{"reason":"lost response"}`, Token: token}
			}
			get := func(path string) *apitest.Response {
				return env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: token})
			}
			want409 := func(what string, r *apitest.Response) {
				t.Helper()
				if r.Status != http.StatusConflict {
					t.Fatalf("%s %s: got %d %s, want 409", kind, what, r.Status, r.Body)
				}
				if errs := r.Errors(t); errs[0].Code != "MDOC_006" || !strings.Contains(errs[0].Details, "CANCELLED") {
					t.Errorf("%s %s: got %s, want MDOC_006 naming CANCELLED", kind, what, r.Body)
				}
			}
			wantCancelled := func(what string, r *apitest.Response) {
				t.Helper()
				if m := r.Identification(t); m["status"] != "CANCELLED" || m["version"] != float64(2) || m["cancel_reason"] != "lost response" {
					t.Errorf("%s %s: got %s, want CANCELLED version 2", kind, what, r.Body)
				}
			}

			// The SDK retries: the first attempt cancelled, its answer was
			// lost, the retry meets CANCELLED carrying its own call's token:
			// the caller hears that its cancel landed, once.
			path := create()
			faults.Reset()
			faults.Set(apitest.Rule{Op: "UpdateItem", Fault: apitest.FaultLostResponse, Times: 1})
			if r := env.Do(t, cancelReq(path)); r.Status != http.StatusNoContent || r.Header.Get("ETag") != `"2"` {
				t.Fatalf("%s SDK retry: got %d %s (ETag %q), want 204 with ETag \"2\"", kind, r.Status, r.Body, r.Header.Get("ETag"))
			}
			if n := faults.Attempts("UpdateItem"); n != 2 {
				t.Errorf("%s: %d UpdateItem attempts, want 2", kind, n)
			}
			after := get(path)
			wantCancelled("after the SDK retry", after)

			// The client sends it again: the same answer, the record
			// (version included) unchanged.
			want409("resend", env.Do(t, cancelReq(path)))
			if again := get(path); !bytes.Equal(again.Body, after.Body) {
				t.Errorf("%s: the resend changed the record:\nbefore %s\nafter  %s", kind, after.Body, again.Body)
			}

			// And without any fault: 204, then 409 on the resend.
			path = create()
			faults.Reset()
			if r := env.Do(t, cancelReq(path)); r.Status != http.StatusNoContent {
				t.Fatalf("%s cancel: got %d %s", kind, r.Status, r.Body)
			}
			first := get(path)
			wantCancelled("after cancel", first)
			want409("client resend", env.Do(t, cancelReq(path)))
			if again := get(path); !bytes.Equal(again.Body, first.Body) {
				t.Errorf("%s: the resend changed the record:\nbefore %s\nafter  %s", kind, first.Body, again.Body)
			}
		}
	})
}
