package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
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
			httpapi.WriteMethodNotAllowed(w, docsURL, r.Method, "GET, HEAD")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readiness is /healthz: 200 while every dependency answers its check
// (the store: DescribeTable on the table; the evidence bucket: a read of a
// key that holds nothing), 503 with an ErrorsResponse (MDOC_000) naming the
// dependencies down, and Retry-After, while one does not. The checks run
// at once, one round at a time, each bounded by timeout, and a round's
// result answers every request for ttl, so a flood of health checks costs
// each dependency at most one call per ttl.
type readiness struct {
	checks  []dependency
	timeout time.Duration
	ttl     time.Duration
	now     func() time.Time
	docsURL string
	logger  *slog.Logger

	mu        sync.Mutex
	checked   bool      // a round has run
	checkedAt time.Time // when the last round ended
	down      []string  // the dependencies its checks found down, in checks' order
}

// dependency is one thing the dev server needs to answer, and its check.
type dependency struct {
	name  string // as /healthz names it: "store", "evidence bucket"
	check func(context.Context) error
}

// ready returns the names of the dependencies that are down (none: ready),
// checking them again if the last result is older than ttl.
func (h *readiness) ready(ctx context.Context) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.checked && h.now().Sub(h.checkedAt) < h.ttl {
		return h.down
	}
	// The result serves other requests too: one client hanging up must not
	// cancel it.
	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.timeout)
	errs := make([]error, len(h.checks))
	var wg sync.WaitGroup
	for i, d := range h.checks {
		wg.Go(func() { errs[i] = d.check(checkCtx) })
	}
	wg.Wait()
	cancel()
	var down []string
	for i, d := range h.checks {
		wasDown := h.checked && slices.Contains(h.down, d.name)
		switch err := errs[i]; {
		case err != nil:
			down = append(down, d.name)
			if !wasDown {
				h.logger.Warn(d.name+" not ready", slog.String("error", err.Error()))
			}
		case wasDown:
			h.logger.Info(d.name + " ready again")
		}
	}
	h.checked, h.checkedAt, h.down = true, h.now(), down
	return down
}

func (h *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if down := h.ready(r.Context()); len(down) > 0 {
		w.Header().Set("Retry-After", healthRetryAfter)
		httpapi.WriteError(w, h.docsURL, identification.Errorf(identification.KindUnavailable,
			"the service is temporarily unavailable (%s not answering); retry after %s seconds", strings.Join(down, ", "), healthRetryAfter))
		return
	}
	checks := make(map[string]string, len(h.checks))
	for _, d := range h.checks {
		checks[d.name] = "ok"
	}
	body, _ := json.Marshal(map[string]any{"status": "ok", "checks": checks})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
