package httpapi_test

import (
	"bytes"
	"github.com/idadmin/api/internal/fixture"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// The request bodies of the benchmarks: the documented examples (docs/api.md).
const (
	benchCreateOTP   = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`
	benchCreateChain = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"IDENTITY_CARD","country":"ES"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"PT15M","sequence":[{"identification_type":"OTP","otp_step":{"two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}},{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT","identity_document_step":{"provider_type":"INTERNAL"}}]}`
	benchCancel      = `{"reason":"customer asked"}`
)

// benchBatch is how many requests are prepared (and, for the routes that
// consume a process, how many processes seeded) while the timer is stopped.
const benchBatch = 1000

// benchPrincipal is the caller of every benchmark request.
var benchPrincipal = auth.Principal{Subject: "bench", Orgs: []string{"acme"}, Scopes: []string{auth.ScopeAdmin}}

// BenchmarkHandlerHS256 is a get-otp request (BenchmarkRoutes measures
// every route) with the dev server's HS256 token verification, for
// reference: the cost API Gateway's authorizer takes off the functions.
func BenchmarkHandlerHS256(b *testing.B) {
	v := &auth.Verifier{Secret: []byte("bench-secret-0123456789abcdef"), Issuer: "bench", Audience: "bench"}
	token, err := v.Mint("bench", benchPrincipal.Orgs, benchPrincipal.Scopes, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	for _, rt := range httpapi.Routes() {
		if rt.Name == "get-otp" {
			b.Run(rt.Name, func(b *testing.B) {
				benchRoute(b, rt, v.Authenticate, http.Header{"Authorization": {"Bearer " + token}})
			})
		}
	}
}

// benchRoute serves b.N requests of rt, in batches: before each batch, with
// the timer stopped, a fresh store and tree are built, the processes the
// batch acts on are seeded and its requests are made.
func benchRoute(b *testing.B, rt httpapi.Route, authn httpapi.Authenticator, header http.Header) {
	typ := identification.TypeOTP
	if strings.Contains(rt.Path, "/chain") {
		typ = identification.TypeChain
	}
	want := map[string]int{http.MethodPost: http.StatusNoContent, http.MethodGet: http.StatusOK, http.MethodDelete: http.StatusNoContent}[rt.Method]
	body := ""
	switch {
	case rt.Name == "create-otp":
		body, want = benchCreateOTP, http.StatusCreated
	case rt.Name == "create-chain":
		body, want = benchCreateChain, http.StatusCreated
	case strings.HasSuffix(rt.Path, "/cancel"):
		body = benchCancel
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	w := &benchWriter{header: http.Header{}}
	reqs := make([]*http.Request, benchBatch)
	var h http.Handler

	prepare := func(n int) {
		store := memstore.New()
		tree, err := httpapi.New(httpapi.Config{Routes: httpapi.Routes(), Webhooks: memWebhooks(nil), Settings: memSettings(nil), Service: identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()), Authenticate: authn, Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		h = tree
		var shared *identification.Identification // the one process every read asks for
		for i := range n {
			path := strings.ReplaceAll(rt.Path, "{org_id}", "acme")
			if strings.Contains(path, "{") {
				p := shared
				if p == nil || rt.Method != http.MethodGet {
					p = benchProcess(b, typ)
					if err := store.Create(b.Context(), p, nil); err != nil {
						b.Fatal(err)
					}
					shared = p
				}
				path = path[:strings.LastIndex(path, "{")] + p.ID + path[strings.LastIndex(path, "}")+1:]
			}
			var r io.Reader
			if body != "" {
				r = strings.NewReader(body)
			}
			req := httptest.NewRequest(rt.Method, path, r)
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("User-Agent", "acme-backoffice/2.4.1")
			for k, v := range header {
				req.Header[k] = v
			}
			reqs[i] = req
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(benchBatch, b.N-done)
		b.StopTimer()
		prepare(n)
		b.StartTimer()
		for _, req := range reqs[:n] {
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != want {
				b.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, w.status, want, w.body.String())
			}
		}
		done += n
	}
}

// benchProcess is a CREATED process of org acme that expires in a day, so
// every action the benchmarks take on it is allowed.
func benchProcess(b *testing.B, typ identification.Type) *identification.Identification {
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	if typ == identification.TypeChain {
		return storetest.Chain(b, "acme", identification.StatusCreated, expires)
	}
	return storetest.OTP(b, "acme", identification.StatusCreated, expires)
}

// benchWriter is a reusable ResponseWriter that keeps the status and body;
// the benchmarks measure the handler tree, not a response writer.
type benchWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *benchWriter) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
