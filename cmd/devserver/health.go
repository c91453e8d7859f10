package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idadmin/api/shared/httpapi"
)

const (
	// healthTimeout bounds one readiness check of the store.
	healthTimeout = time.Second
	// healthTTL is how long one check's result answers every /healthz.
	healthTTL = time.Second
	// healthRetryAfter is the Retry-After (seconds) of a 503, as the
	// handler tree sends when the store is unavailable (docs/errors.md, MDOC_000).
	healthRetryAfter = "2"
)

// newRouter answers GET /healthz and GET /openapi.yaml itself and hands
// every other request to api untouched. It is not a ServeMux: ServeMux
// answers a path with "//", "/./" or "/../" with a redirect before any
// handler runs, which a client follows, sending its DELETE to another path;
// the handler tree answers such paths 404 with an ErrorsResponse itself.
func newRouter(api, health, spec, dev http.Handler, docsURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if dev != nil && strings.HasPrefix(r.URL.Path, "/dev/orgs/") {
			dev.ServeHTTP(w, r)
			return
		}
		var h http.Handler
		switch r.URL.Path {
		case "/healthz":
			h = health
		case "/openapi.yaml":
			h = spec
		default:
			api.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeErrors(w, http.StatusMethodNotAllowed, docsURL, "MDOC_001", "PARAMETER_ERROR", "method "+r.Method+" is not allowed on this path")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readiness is /healthz: 200 while the store answers check (DescribeTable
// on the table), 503 with an ErrorsResponse (MDOC_000) and Retry-After while
// it does not. One check runs at a time, bounded by timeout, and its result
// answers every request for ttl, so a flood of health checks costs the
// engine at most one call per ttl.
type readiness struct {
	check   func(context.Context) error
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	docsURL string
	logger  *slog.Logger

	mu        sync.Mutex
	checked   bool      // a check has run
	checkedAt time.Time // when the last check ended
	err       error     // its result
}

// ready returns the store's state, checking it again if the last result is
// older than ttl.
func (h *readiness) ready(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checked && h.now().Sub(h.checkedAt) < h.ttl {
		return h.err
	}
	// The result serves other requests too: one client hanging up must not
	// cancel it.
	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	err := h.check(checkCtx)
	cancel()
	switch {
	case err != nil && (!h.checked || h.err == nil):
		h.logger.Warn("store not ready", slog.String("error", err.Error()))
	case err == nil && h.checked && h.err != nil:
		h.logger.Info("store ready again")
	}
	h.checked, h.checkedAt, h.err = true, h.now(), err
	return err
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := h.ready(r.Context()); err != nil {
		w.Header().Set("Retry-After", healthRetryAfter)
		writeErrors(w, http.StatusServiceUnavailable, h.docsURL, "MDOC_000", "INTERNAL_SERVER_ERROR",
			"the service is temporarily unavailable; retry after "+healthRetryAfter+" seconds")
		return
	}
	body := []byte(`{"status":"ok"}`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// writeErrors writes an ErrorsResponse of one error, as the handler tree does.
func writeErrors(w http.ResponseWriter, status int, docsURL, code, title, details string) {
	body, _ := json.Marshal(httpapi.ErrorsResponse{Errors: []httpapi.ErrorItem{
		{Code: code, Title: title, Ref: docsURL + "#" + code, Details: details},
	}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
