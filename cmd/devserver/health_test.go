package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/httpapi"
)

// TestReadinessChecksTheStoreAtMostOncePerTTL drives /healthz on a fake
// store and a fake clock: a flood of requests costs one check per TTL, each
// check has a deadline, and a failing store is a 503 ErrorsResponse with
// Retry-After that tells nothing of the cause.
func TestReadinessChecksTheStoreAtMostOncePerTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	calls := 0
	var storeErr error
	h := &readiness{
		checks: []dependency{{"store", func(ctx context.Context) error {
			calls++
			if _, ok := ctx.Deadline(); !ok {
				t.Error("store checked without a deadline")
			}
			return storeErr
		}}},
		timeout: time.Second,
		ttl:     time.Second,
		now:     func() time.Time { return now },
		docsURL: "https://docs.test/errors.md",
		logger:  slog.New(slog.DiscardHandler),
	}
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec
	}
	flood := func(want int) {
		t.Helper()
		for range 100 {
			if rec := get(); rec.Code != want {
				t.Fatalf("healthz: got %d %s, want %d", rec.Code, rec.Body, want)
			}
		}
	}

	flood(http.StatusOK)
	if calls != 1 {
		t.Fatalf("100 health checks within the TTL checked the store %d times, want 1", calls)
	}
	storeErr = errors.New("operation error DynamoDB: DescribeTable, dial tcp 127.0.0.1:8001: connect: connection refused")
	flood(http.StatusOK) // still the cached result
	now = now.Add(time.Second)
	flood(http.StatusServiceUnavailable)
	if calls != 2 {
		t.Fatalf("store checked %d times over two TTLs, want 2", calls)
	}
	rec := get()
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Errorf("503 without Retry-After")
	}
	var er httpapi.ErrorsResponse
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er); err != nil || len(er.Errors) != 1 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("503 is not an ErrorsResponse of one error: %v %+v", err, er)
	}
	if e := er.Errors[0]; e.Code != "MDOC_000" || e.Title != "INTERNAL_SERVER_ERROR" || e.Ref != "https://docs.test/errors.md#MDOC_000" ||
		e.Details == "" || strings.Contains(e.Details, "127.0.0.1") || strings.Contains(e.Details, "DescribeTable") {
		t.Errorf("503 error = %+v, want MDOC_000 with generic details", e)
	}
	storeErr = nil
	now = now.Add(999 * time.Millisecond)
	flood(http.StatusServiceUnavailable)
	now = now.Add(time.Millisecond)
	flood(http.StatusOK)
	if calls != 3 {
		t.Errorf("store checked %d times over three TTLs, want 3", calls)
	}
}

// TestReadinessReportsEachDependency checks /healthz on two fake
// dependencies, the store and the evidence bucket: 200 naming both while
// both answer, and a 503 naming the one that does not (and only it) while
// the other still answers; both are checked in every round.
func TestReadinessReportsEachDependency(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var storeErr, bucketErr error
	storeCalls, bucketCalls := 0, 0
	h := &readiness{
		checks: []dependency{
			{"store", func(context.Context) error { storeCalls++; return storeErr }},
			{"evidence bucket", func(context.Context) error { bucketCalls++; return bucketErr }},
		},
		timeout: time.Second, ttl: time.Second, now: func() time.Time { return now },
		docsURL: "https://docs.test/errors.md", logger: slog.New(slog.DiscardHandler),
	}
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		now = now.Add(time.Second)
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusOK || body != `{"checks":{"evidence bucket":"ok","store":"ok"},"status":"ok"}` {
		t.Errorf("both up: %d %s", code, body)
	}
	bucketErr = errors.New("s3evidence inspect: get the object: dial tcp 127.0.0.1:5000: connect: connection refused")
	code, body := get()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "evidence bucket not answering") || strings.Contains(body, "store") || strings.Contains(body, "127.0.0.1") {
		t.Errorf("the evidence bucket down: %d %s, want a 503 naming it alone, without the cause", code, body)
	}
	storeErr, bucketErr = errors.New("down"), nil
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "(store not answering)") {
		t.Errorf("the store down: %d %s", code, body)
	}
	storeErr = nil
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("both up again: %d", code)
	}
	if storeCalls != 4 || bucketCalls != 4 {
		t.Errorf("four rounds checked the store %d and the bucket %d times, want 4 each", storeCalls, bucketCalls)
	}
}

// TestRouterSendsUncleanPathsToTheHandlerTree checks that the dev server
// answers only the exact /healthz and /openapi.yaml itself and hands every
// other path, unclean ones included, to the handler tree as it came.
func TestRouterSendsUncleanPathsToTheHandlerTree(t *testing.T) {
	var apiGot []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiGot = append(apiGot, r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
	})
	health := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	spec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	router := newRouter(api, health, spec, nil, "https://docs.test/errors.md")
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", http.StatusOK},
		{"HEAD", "/healthz", http.StatusOK},
		{"GET", "/openapi.yaml", http.StatusAccepted},
		{"POST", "/healthz", http.StatusMethodNotAllowed},
		{"DELETE", "/openapi.yaml", http.StatusMethodNotAllowed},
		{"GET", "//healthz", http.StatusTeapot},
		{"GET", "/./healthz", http.StatusTeapot},
		{"GET", "/healthz/", http.StatusTeapot},
		{"DELETE", "//v1/orgs/acme/identifications/otp/x", http.StatusTeapot},
		{"DELETE", "/v1/orgs/acme/./identifications/otp/x", http.StatusTeapot},
		{"DELETE", "/v1/orgs/acme/../acme/identifications/otp/x", http.StatusTeapot},
	} {
		apiGot = nil
		req := httptest.NewRequest(tc.method, "http://dev.test/", nil)
		req.URL.Path = tc.path
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s: got %d, want %d", tc.method, tc.path, rec.Code, tc.want)
		}
		if tc.want == http.StatusTeapot && (len(apiGot) != 1 || apiGot[0] != tc.path) {
			t.Errorf("%s %s: the handler tree got %q, want the path as sent", tc.method, tc.path, apiGot)
		}
		if tc.want == http.StatusMethodNotAllowed && (rec.Header().Get("Allow") != "GET, HEAD" || !strings.Contains(rec.Body.String(), `"MDOC_001"`)) {
			t.Errorf("%s %s: 405 with Allow %q and %s, want Allow GET, HEAD and an ErrorsResponse", tc.method, tc.path, rec.Header().Get("Allow"), rec.Body)
		}
	}
}
