package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"

	"github.com/aws/smithy-go/middleware"
)

// servePprof serves net/http/pprof on addr, a loopback address (PPROF_ADDR,
// off when empty), on a listener of its own so that the API's router never
// answers /debug/, and calls (the AWS calls counted so far) on
// /debug/calls. It returns the address it listens on ("" when off) and a
// stop function; a non-loopback host is refused.
func servePprof(addr string, calls http.Handler, logger *slog.Logger) (string, func(), error) {
	if addr == "" {
		return "", func() {}, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("PPROF_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, fmt.Errorf("PPROF_ADDR %q: the profiler listens on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("PPROF_ADDR: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/calls", calls)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	bound := ln.Addr().String()
	logger.Info("pprof listening", slog.String("addr", "http://"+bound+"/debug/pprof/"))
	return bound, func() { srv.Close() }, nil
}

// callCounts counts the AWS calls the dev server makes, by operation, for
// the profiler's /debug/calls page: how many calls a load costs the engine.
type callCounts struct {
	mu     sync.Mutex
	counts map[string]int
}

// addTo adds the counting middleware to an operation's stack.
func (c *callCounts) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("devserver.callCounts",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetServiceID(ctx) + " " + middleware.GetOperationName(ctx)
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]int{}
			}
			c.counts[op]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// ServeHTTP writes the counts, one "<service> <operation> <n>" a line.
func (c *callCounts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, op := range slices.Sorted(maps.Keys(c.counts)) {
		fmt.Fprintf(w, "%s %d\n", op, c.counts[op])
	}
}
