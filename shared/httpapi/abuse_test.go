package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// repeatReader yields n copies of b without holding them in memory, so a
// 10 MB body costs the test nothing and every byte allocated is the
// handler's.
type repeatReader struct {
	n int64
	b byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.b
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestAbusiveRequestsAreRefusedCheaply sends hostile requests through the
// handler tree (on the in-memory store: none of them may reach a store)
// and measures what each costs: a 4xx with the documented body, fast, and
// with bounded allocation whatever the size of the request.
func TestAbusiveRequestsAreRefusedCheaply(t *testing.T) {
	const tenMB = 10 << 20
	otp := "/v1/orgs/acme/identifications/otp"
	chain := "/v1/orgs/acme/identifications/chain"
	deep := func(n int) func() io.Reader {
		return func() io.Reader { return strings.NewReader(`{"actor":` + strings.Repeat("[", n)) }
	}
	cases := []struct {
		name  string
		path  string
		body  func() io.Reader
		size  int64 // Content-Length; -1 for chunked
		field string
		// maxAlloc bounds the bytes the handler may allocate for it.
		maxAlloc uint64
	}{
		{"10 MB body with Content-Length", otp, func() io.Reader { return &repeatReader{n: tenMB, b: 'a'} }, tenMB, "body", 256 << 10},
		{"10 MB body chunked", otp, func() io.Reader { return &repeatReader{n: tenMB, b: 'a'} }, -1, "body", 1 << 20},
		{"10 MB of JSON whitespace, chunked", otp, func() io.Reader { return &repeatReader{n: tenMB, b: ' '} }, -1, "body", 1 << 20},
		{"100k [ (over the limit)", otp, deep(100_000), -1, "body", 1 << 20},
		{"60k [ (under the limit)", otp, deep(60_000), -1, "body", 2 << 20},
		{"10,000-step sequence", chain, func() io.Reader {
			return strings.NewReader(`{"actor":{"name":"A"},"expires_in":"PT15M","sequence":[` + strings.Repeat(`{},`, 9_999) + `{}]}`)
		}, -1, "sequence", 8 << 20},
		{"5,000 unknown fields", otp, func() io.Reader {
			var b strings.Builder
			b.WriteString(`{"actor":{"name":"A"},"channel":{"type":"SMS","external":true}`)
			for i := 0; i < 5_000; i++ {
				b.WriteString(`,"k` + strconv.Itoa(i) + `":1`)
			}
			return strings.NewReader(b.String() + "}")
		}, -1, "k0", 8 << 20},
	}
	tree := newFuzzTree(t)
	tree.reset()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serve := func() (*httptest.ResponseRecorder, time.Duration) {
				r := httptest.NewRequest(http.MethodPost, tc.path, tc.body())
				r.ContentLength = tc.size
				if tc.size < 0 {
					r.Header.Set("Transfer-Encoding", "chunked")
				}
				r.Header.Set("Authorization", "Bearer "+tree.token)
				r.Header.Set("User-Agent", "abuse/1.0")
				start := time.Now()
				rec := tree.serve(r)
				return rec, time.Since(start)
			}
			rec, took := serve()
			items := checkExchange(t, rec)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("got %d, want 400", rec.Code)
			}
			named := false
			for _, it := range items {
				named = named || strings.HasPrefix(it.Details, tc.field+":")
			}
			if !named || len(items) > 50 {
				t.Errorf("%d errors, none naming %s: %.300s", len(items), tc.field, rec.Body)
			}
			if rec.Body.Len() > 16<<10 {
				t.Errorf("a %d-byte answer", rec.Body.Len())
			}
			const runs = 5
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var total time.Duration
			for i := 0; i < runs; i++ {
				_, d := serve()
				total += d
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / runs
			t.Logf("400 in %s (first %s), %d bytes and %d allocations per request, %d-byte answer",
				total/runs, took, perRun, (after.Mallocs-before.Mallocs)/runs, rec.Body.Len())
			if perRun > tc.maxAlloc {
				t.Errorf("%d bytes allocated per request, want at most %d", perRun, tc.maxAlloc)
			}
			if total/runs > time.Second {
				t.Errorf("%s per request, want well under a second", total/runs)
			}
		})
	}
}

// TestManyHeadersAreHarmless: the header count is the server's to limit
// (the dev server: MaxHeaderBytes, 431; API Gateway: its own quota); the
// handler tree reads only the headers it needs, whatever else comes.
func TestManyHeadersAreHarmless(t *testing.T) {
	tree := newFuzzTree(t)
	tree.reset()
	r := httptest.NewRequest(http.MethodGet, "/v1/orgs/acme/identifications/otp/"+fuzzOTPID, nil)
	for i := 0; i < 5_000; i++ {
		r.Header.Add("X-Abuse-"+strconv.Itoa(i), strings.Repeat("v", 20))
	}
	r.Header["X-Request-Id"] = []string{strings.Repeat("r", 10_000), "two"}
	r.Header.Set("Authorization", "Bearer "+tree.token)
	start := time.Now()
	rec := tree.serve(r)
	checkExchange(t, rec)
	if rec.Code != http.StatusOK || time.Since(start) > time.Second {
		t.Errorf("got %d in %s, want 200 quickly", rec.Code, time.Since(start))
	}
	if id := rec.Header().Get("X-Request-Id"); len(id) > 64 {
		t.Errorf("an oversized X-Request-Id was echoed: %d bytes", len(id))
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["id"] != fuzzOTPID {
		t.Errorf("body %s", rec.Body)
	}
}
