// Package httpapi is the one net/http handler tree of the admin API: the
// route table of docs/openapi.yaml, authentication and authorisation of
// every request, parameter checks, and the ErrorsResponse of
// docs/errors.md. The dev server, the tests and every Lambda function serve
// this same tree; a Lambda serves it restricted to its own route.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/webhooks"
)

// MaxBodyBytes is the largest request body accepted (docs/openapi.yaml).
const MaxBodyBytes = 64 << 10

// DefaultDocsURL is where an error's ref points unless configured.
const DefaultDocsURL = "https://github.com/idadmin/api/blob/main/docs/errors.md"

// Authenticator returns the caller of a request, or an error wrapping
// auth.ErrUnauthenticated whose message is safe to show.
type Authenticator func(r *http.Request) (auth.Principal, error)

// Config is what the handler tree needs.
type Config struct {
	Service *identification.Service
	// Webhooks serves the webhook routes (required by routes that need
	// NeedWebhooks).
	Webhooks *webhooks.Service
	// Settings serves the settings routes (required by routes that need
	// NeedSettings).
	Settings     *settings.Service
	Authenticate Authenticator
	Logger       *slog.Logger
	// DocsURL is the base of every error's ref.
	DocsURL string
	// RequestID returns the id of a request (in Lambda: API Gateway's);
	// when nil or empty, a random id is used. The id never comes from the
	// client: a client's X-Request-Id is ignored.
	RequestID func(r *http.Request) string
	// BasePath returns the path prefix a request came through that was
	// removed before routing (in Lambda on a named stage: "/<stage>"), so
	// that a Location works where the client is. Nil or "" means none; a
	// value that is not "/" followed by segments of A-Z a-z 0-9 . _ ~ - is
	// ignored.
	BasePath func(r *http.Request) string
	// SourceIP returns the caller's IP as the platform saw it (in Lambda,
	// API Gateway's requestContext.http.sourceIp; locally the TCP peer).
	SourceIP func(r *http.Request) string
	// Routes are the routes the tree serves: a Lambda its own (only what
	// it names is linked into its binary), the dev server Routes().
	Routes []Route
	// RequestTimeout bounds the work of one request, store calls and their
	// retries included, so that a slow or throttling store is answered with
	// a 503 in time. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// DefaultRequestTimeout is the work budget of a request unless configured.
const DefaultRequestTimeout = 8 * time.Second

// DeadlineMargin is kept back from a deadline the request already carries
// (in Lambda, the invocation's: the adapter passes it on), to write the
// answer before the platform cuts the invocation off.
const DeadlineMargin = 500 * time.Millisecond

// Handler is the handler tree.
type Handler struct {
	svc       *identification.Service
	webhooks  *webhooks.Service
	settings  *settings.Service
	authn     Authenticator
	logger    *slog.Logger
	docsURL   string
	requestID func(r *http.Request) string
	basePath  func(r *http.Request) string
	sourceIP  func(r *http.Request) string
	mux       *http.ServeMux
	methods   []string
	timeout   time.Duration
}

// New builds the handler tree of cfg.Routes.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil || cfg.Authenticate == nil {
		return nil, fmt.Errorf("httpapi: Service and Authenticate are required")
	}
	h := &Handler{
		svc:       cfg.Service,
		webhooks:  cfg.Webhooks,
		settings:  cfg.Settings,
		authn:     cfg.Authenticate,
		logger:    cfg.Logger,
		docsURL:   cfg.DocsURL,
		requestID: cfg.RequestID,
		basePath:  cfg.BasePath,
		sourceIP:  cfg.SourceIP,
		mux:       http.NewServeMux(),
		timeout:   cfg.RequestTimeout,
	}
	if h.timeout <= 0 {
		h.timeout = DefaultRequestTimeout
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.docsURL == "" {
		h.docsURL = DefaultDocsURL
	}
	selected := cfg.Routes
	if len(selected) == 0 {
		return nil, fmt.Errorf("httpapi: no routes to serve")
	}
	seen := map[string]bool{}
	for _, rt := range selected {
		for _, need := range rt.Needs {
			if need == NeedCodeKeys && !cfg.Service.HasCodeKeys() {
				return nil, fmt.Errorf("httpapi: route %s needs code keys, and the service has none", rt.Name)
			}
			if need == NeedEvidence && !cfg.Service.HasEvidence() {
				return nil, fmt.Errorf("httpapi: route %s needs the evidence bucket, and the service has none", rt.Name)
			}
			if need == NeedWebhooks && cfg.Webhooks == nil {
				return nil, fmt.Errorf("httpapi: route %s needs the webhooks service, and none is configured", rt.Name)
			}
			if need == NeedSettings && cfg.Settings == nil {
				return nil, fmt.Errorf("httpapi: route %s needs the settings service, and none is configured", rt.Name)
			}
		}
		h.mux.Handle(rt.Method+" "+rt.Path, h.endpoint(rt))
		if !seen[rt.Method] {
			seen[rt.Method] = true
			h.methods = append(h.methods, rt.Method)
		}
	}
	h.mux.HandleFunc("/", h.unmatched)
	return h, nil
}

type ctxKey int

const stateKey ctxKey = 0

// requestState is what the request line logs besides the request itself,
// filled in as the request is served: the caller's subject once
// authenticated, the identification's id once validated (or created).
type requestState struct {
	id             string
	subject        string
	identification string
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey).(*requestState)
	return st
}

func requestIDFrom(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// noteSubject records the authenticated caller of r for the request line.
func noteSubject(r *http.Request, sub string) {
	if st := stateFrom(r.Context()); st != nil {
		st.subject = sub
	}
}

// noteIdentification records the (validated) identification id r acts on.
func noteIdentification(r *http.Request, id string) {
	if st := stateFrom(r.Context()); st != nil {
		st.identification = id
	}
}

func (h *Handler) log(r *http.Request) *slog.Logger {
	// Built only where something is logged besides the request line.
	return h.logger.With(slog.String("request_id", requestIDFrom(r.Context())))
}

// ServeHTTP assigns the request id, sets the headers every response carries,
// logs one line per request (never a body or actor data) and turns panics
// into a logged 500.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := ""
	if h.requestID != nil {
		id = wellFormedID(h.requestID(r))
	}
	if id == "" {
		id = randomID()
	}
	hdr := w.Header()
	hdr.Set("X-Request-Id", id)
	// Responses carry personal data: no cache may keep them, and no client
	// may read them as anything but the JSON they are.
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	ctx := context.WithValue(r.Context(), stateKey, &requestState{id: id})
	ctx, cancel := h.bound(ctx)
	defer cancel()
	r = r.WithContext(ctx)
	sw := &statusWriter{ResponseWriter: w}
	if !cleanPath(r.URL.Path) {
		// ServeMux would answer a redirect without a body; no route of
		// this API has such a path, so it is simply not found.
		h.writeError(sw, r, identification.Errorf(identification.KindNotFound, "no such route: nothing answers this method on this path"))
		h.logRequest(r, sw.status, start)
		return
	}
	defer func() {
		if p := recover(); p != nil {
			h.log(r).ErrorContext(ctx, "panic", slog.String("panic", fmt.Sprint(p)))
			if !sw.wrote {
				h.writeError(sw, r, fmt.Errorf("panic: %v", p))
			}
		}
		h.logRequest(r, sw.status, start)
	}()
	h.mux.ServeHTTP(sw, r)
}

// bound gives a request's work its deadline: the handler's timeout, or less
// when the request's own deadline, less DeadlineMargin, comes sooner.
func (h *Handler) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	budget := h.timeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-DeadlineMargin)
	}
	return context.WithTimeout(ctx, max(budget, 0))
}

// MaxLoggedSubject is the most of a caller's sub the request line logs.
const MaxLoggedSubject = 128

// logRequest writes the one line logged per request: never a body, never
// actor data, never a path value as sent. The org is logged only when it
// is a valid organisation name (otherwise "invalid" and its length), the
// identification id only once validated, the caller's sub only once
// authenticated, so that an operator can tell who did what.
func (h *Handler) logRequest(r *http.Request, status int, start time.Time) {
	ctx := r.Context()
	if !h.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("request_id", requestIDFrom(ctx)),
		slog.String("method", r.Method),
		slog.String("route", r.Pattern))
	switch org := r.PathValue("org_id"); {
	case ValidOrg(org):
		attrs = append(attrs, slog.String("org", org))
	case org != "":
		attrs = append(attrs, slog.String("org", "invalid"), slog.Int("org_length", len(org)))
	}
	if st := stateFrom(ctx); st != nil {
		if st.identification != "" {
			attrs = append(attrs, slog.String("identification_id", st.identification))
		}
		if st.subject != "" {
			sub, cut := boundSubject(st.subject)
			attrs = append(attrs, slog.String("sub", sub))
			if cut {
				attrs = append(attrs, slog.Int("sub_length", len(st.subject)))
			}
		}
	}
	attrs = append(attrs,
		slog.Int("status", status),
		slog.Int64("duration_us", time.Since(start).Microseconds()))
	h.logger.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}

// boundSubject cuts sub to at most MaxLoggedSubject bytes, at a character
// boundary, and makes it valid UTF-8; cut reports whether it was cut.
func boundSubject(sub string) (s string, cut bool) {
	if len(sub) > MaxLoggedSubject {
		i := MaxLoggedSubject
		for i > 0 && !utf8.RuneStart(sub[i]) {
			i--
		}
		sub, cut = sub[:i], true
	}
	return strings.ToValidUTF8(sub, "\ufffd"), cut
}

// cleanPath reports whether p is already in the form ServeMux routes
// without redirecting: absolute, no empty, "." or ".." segments.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	return c == p || c+"/" == p
}

// unmatched answers requests no route matched: 405 when the path exists
// under another method, 404 otherwise, both with an ErrorsResponse.
func (h *Handler) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range h.methods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		WriteMethodNotAllowed(w, h.docsURL, r.Method, allow...)
		return
	}
	h.writeError(w, r, identification.Errorf(identification.KindNotFound, "no such route: nothing answers this method on this path"))
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func wellFormedID(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
			return ""
		}
	}
	return s
}

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
