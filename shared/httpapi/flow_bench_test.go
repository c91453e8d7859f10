package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"context"

	"github.com/google/uuid"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// BenchmarkRoutes measures one request of every route of the table through
// the whole handler tree, as BenchmarkHandler does for the admin routes,
// with the caller each route admits (an actor for the validations, with
// its device headers; an agent for the agent's step) and each request on
// a process in the state the route needs: a code issued for a
// validation or a resend, a chain started on the caller's device for its
// steps. The state is found, not named: the first of fbStates in which
// the route answers its success (a route none of them fits is skipped,
// with the answers it gave). Routes that take an Idempotency-Key run
// again as <route>/once, each request with a new key (the store's
// transaction path), and as <route>/replay, the same request and key
// again (the recorded answer). Seeding happens with the timer stopped.
//
// Besides time and allocations it reports resp-B/op, the size of the
// answer's body.
func BenchmarkRoutes(b *testing.B) {
	for _, rt := range httpapi.Routes() {
		b.Run(rt.Name, func(b *testing.B) { fbRun(b, rt, "") })
		if rt.Idempotent {
			b.Run(rt.Name+"/once", func(b *testing.B) { fbRun(b, rt, "once") })
			b.Run(rt.Name+"/replay", func(b *testing.B) { fbRun(b, rt, "replay") })
		}
	}
}

// fbBatch is how many requests are prepared at a time.
const fbBatch = 500

// fbState makes a process of ref in a state, with its code material.
type fbState func(ref identification.Ref, now time.Time, code, twoFactor string) (*identification.Identification, *identification.CodeMaterial)

// fbDevice is the device of the actor's requests.
var fbDevice = identification.Device{InstallationID: "3f6e2a1c-8b4d-4e7a-9c2f-5d1e0b7a6c43", Fingerprint: "fp-7c9e4b2a1d3f5e6a8b0c"}

// fbStates are the states a route may need, in the order they are tried:
// open; a code issued (delivered by the caller, then by the system); a
// chain started on the device at its OTP step with a code issued; a chain
// at its agent step.
var fbStates = []fbState{
	func(ref identification.Ref, now time.Time, _, tf string) (*identification.Identification, *identification.CodeMaterial) {
		return fbProcess(ref, now, tf), nil
	},
	func(ref identification.Ref, now time.Time, code, tf string) (*identification.Identification, *identification.CodeMaterial) {
		i := fbProcess(ref, now, tf)
		return i, fbIssue(i, now, code)
	},
	func(ref identification.Ref, now time.Time, code, tf string) (*identification.Identification, *identification.CodeMaterial) {
		i := fbProcess(ref, now, tf)
		if i.Channel != nil {
			i.Channel.External = false
		}
		return i, fbIssue(i, now, code)
	},
	func(ref identification.Ref, now time.Time, code, tf string) (*identification.Identification, *identification.CodeMaterial) {
		i := fbProcess(ref, now, tf)
		fbStart(i, 1)
		return i, fbIssue(i, now, code)
	},
	func(ref identification.Ref, now time.Time, _, tf string) (*identification.Identification, *identification.CodeMaterial) {
		i := fbProcess(ref, now, tf)
		fbStart(i, 2)
		return i, nil
	},
}

// fbProcess is an open process of ref like the documented examples,
// whose second factor is twoFactor, expiring in a day.
func fbProcess(ref identification.Ref, now time.Time, twoFactor string) *identification.Identification {
	at := now.UTC().Truncate(time.Second)
	i := &identification.Identification{ID: ref.ID, OrgID: ref.Org, Type: ref.Type, Status: identification.StatusCreated,
		CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(24 * time.Hour), Version: 1,
		History: []identification.HistoryEntry{{At: at, Action: identification.ActionCreate, To: identification.StatusCreated,
			ByKind: identification.CallerAdmin, BySub: "admin-1", RequestID: "req-1"}},
		Actor: identification.Actor{Name: "James", LastName: "Smith", Email: "example@email.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: twoFactor, DocumentType: "NIF"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"}}}
	if ref.Type == identification.TypeChain {
		i.CreatedUserAgent = "acme-backoffice/2.4.1"
		i.Sequence = []identification.Step{
			{IdentificationType: "OTP", Status: identification.StepPending, OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}},
			{IdentificationType: "AGENT", Status: identification.StepPending},
			{IdentificationType: "IDENTITY_DOCUMENT", Status: identification.StepPending, IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "INTERNAL"}},
		}
	} else {
		i.TwoFactorType = "DOCUMENT_NUMBER"
		i.Channel = &identification.Channel{Type: "SMS", External: true}
	}
	return i
}

func fbIssue(i *identification.Identification, now time.Time, code string) *identification.CodeMaterial {
	hash, key := fixture.CodeKeys().Hash(i.Ref(), code)
	i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: now.Add(30 * time.Minute), LastCodeAt: now.Add(-time.Hour),
		Delivery: identification.Delivery{Status: identification.DeliveryPending}}
	return &identification.CodeMaterial{Hash: hash, KeyID: key}
}

func fbStart(i *identification.Identification, step int) {
	d := fbDevice
	i.Status, i.Device, i.CurrentStep = identification.StatusInProgress, &d, step
	i.SyncSteps()
}

// fbWriter is a reusable ResponseWriter.
type fbWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *fbWriter) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
}

func (w *fbWriter) Header() http.Header { return w.header }

func (w *fbWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *fbWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}

// fbRoute is one route set up for the benchmark.
type fbRoute struct {
	rt        httpapi.Route
	mode      string // "", "once" or "replay"
	principal auth.Principal
	code, tf  string
	logger    *slog.Logger
	state     fbState
}

// fbRun serves b.N requests of rt in mode, in batches prepared with the
// timer stopped: a fresh store and tree, a fresh process per request.
func fbRun(b *testing.B, rt httpapi.Route, mode string) {
	r := &fbRoute{rt: rt, mode: mode, code: "k4khb9", tf: "12345678A", logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	r.principal = auth.Principal{Subject: "bench", Orgs: []string{"acme"}, Scopes: rt.Scopes[:1]}
	var ex struct {
		Code      string `json:"code"`
		TwoFactor string `json:"two_factor"`
	}
	if json.Unmarshal([]byte(routefacts.Example(rt.Name)), &ex) == nil {
		if ex.Code != "" {
			r.code = ex.Code
		}
		if ex.TwoFactor != "" {
			r.tf = ex.TwoFactor
		}
	}
	states := fbStates
	if rt.IDParam() == "" {
		states = states[:1]
	}
	var tried []string
	for _, s := range states {
		h, reqs := r.prepare(b, s, 1)
		w := &fbWriter{header: http.Header{}}
		h.ServeHTTP(w, reqs[0])
		if w.status == rt.Success {
			r.state = s
			break
		}
		tried = append(tried, fmt.Sprintf("%d %s", w.status, strings.TrimSpace(w.body.String())))
	}
	if r.state == nil {
		// A route whose state is none of these (one added later) is
		// skipped, saying why, rather than failing every other figure.
		b.Skipf("%s: no state makes it answer %d: %s", rt.Name, rt.Success, strings.Join(tried, "; "))
	}
	w := &fbWriter{header: http.Header{}}
	var respBytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(r.batch(), b.N-done)
		b.StopTimer()
		h, reqs := r.prepare(b, r.state, n)
		b.StartTimer()
		for _, req := range reqs {
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != rt.Success {
				b.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, w.status, rt.Success, w.body.String())
			}
			respBytes += int64(w.body.Len())
		}
		done += n
	}
	b.ReportMetric(float64(respBytes)/float64(b.N), "resp-B/op")
}

// prepare builds a store, a tree and n requests of the route, each on a
// fresh process in state (for a replay, the first answered beforehand).
// batch is how many requests of the route are prepared at a time: an
// organisation registers at most webhooks.MaxEndpoints endpoints, so a
// registration's batch has a handler tree (and an empty store) per that
// many.
func (r *fbRoute) batch() int {
	if r.rt.Name == httpapi.CreateWebhook.Name {
		return webhooks.MaxEndpoints
	}
	return fbBatch
}

func (r *fbRoute) prepare(b *testing.B, state fbState, n int) (http.Handler, []*http.Request) {
	store := &fbOnceStore{Store: memstore.New(), recs: map[string]identification.Idempotency{}}
	principal := r.principal
	h, err := httpapi.New(httpapi.Config{Routes: httpapi.Routes(), Logger: r.logger, Webhooks: memWebhooks(nil), Settings: memSettings(nil),
		Service:      identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys()), fixture.UnreachableEvidence()),
		Authenticate: func(*http.Request) (auth.Principal, error) { return principal, nil },
		SourceIP:     func(*http.Request) string { return "198.51.100.7" }})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	reqs := make([]*http.Request, n)
	for k := range reqs {
		path := strings.ReplaceAll(r.rt.Path, "{org_id}", "acme")
		if p := r.rt.IDParam(); p != "" {
			ref := identification.Ref{Org: "acme", Type: r.rt.Type(), ID: uuid.Must(uuid.NewV7()).String()}
			i, code := state(ref, now, r.code, r.tf)
			if err := store.Create(b.Context(), i, code); err != nil {
				b.Fatal(err)
			}
			path = strings.ReplaceAll(path, "{"+p+"}", ref.ID)
		}
		key := ""
		if r.mode != "" {
			key = uuid.Must(uuid.NewV7()).String()
		}
		reqs[k] = r.request(path, key)
		if r.mode == "replay" {
			w := &fbWriter{header: http.Header{}}
			h.ServeHTTP(w, r.request(path, key))
		}
	}
	return h, reqs
}

func (r *fbRoute) request(path, key string) *http.Request {
	var body io.Reader
	example := routefacts.Example(r.rt.Name)
	if example != "" {
		body = strings.NewReader(example)
	}
	req := httptest.NewRequest(r.rt.Method, path, body)
	if example != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "acme-app/5.2.0 (Android 14; Pixel 8)")
	if r.rt.Device {
		req.Header.Set("x-installation_id", fbDevice.InstallationID)
		req.Header.Set("x-fingerprint", fbDevice.Fingerprint)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return req
}

// fbOnceStore is the in-memory store with Idempotency-Key records
// (identification.OnceStore), for the handler's once and replay paths:
// the record is kept beside the action, not in one transaction, which
// the benchmark does not need (the DynamoDB store's transaction is
// measured in shared/dynamostore).
type fbOnceStore struct {
	*memstore.Store
	mu   sync.Mutex
	recs map[string]identification.Idempotency
}

// seen is the key's record, if any: the record itself for the same
// request, a conflict for another.
func (s *fbOnceStore) seen(rec identification.Idempotency) (*identification.Idempotency, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.recs[rec.Key]
	if !ok {
		return nil, nil
	}
	if old.Request != rec.Request {
		return nil, identification.Errorf(identification.KindConflict, "the Idempotency-Key was used for another request")
	}
	return &old, nil
}

func (s *fbOnceStore) keep(rec identification.Idempotency) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[rec.Key] = rec
}

func (s *fbOnceStore) CreateOnce(ctx context.Context, i *identification.Identification, code *identification.CodeMaterial, rec identification.Idempotency) (*identification.Idempotency, error) {
	if old, err := s.seen(rec); old != nil || err != nil {
		return old, err
	}
	if err := s.Create(ctx, i, code); err != nil {
		return nil, err
	}
	s.keep(rec)
	return nil, nil
}

func (s *fbOnceStore) ApplyOnce(ctx context.Context, ref identification.Ref, e identification.Effect, rec identification.Idempotency) (identification.Result, *identification.Idempotency, error) {
	if old, err := s.seen(rec); old != nil || err != nil {
		return identification.Result{}, old, err
	}
	res, err := s.Apply(ctx, ref, e)
	if err != nil {
		return res, nil, err
	}
	s.keep(rec)
	return identification.Result{}, nil, nil
}
