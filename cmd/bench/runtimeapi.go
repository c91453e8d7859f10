package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// runtimeAPI is the part of the Lambda Runtime API a Go function uses,
// serving one invocation: the first GET .../invocation/next gets the event,
// later ones wait until the API is closed (as in Lambda, where the sandbox
// is frozen). The time the function's response (or error) arrives is
// recorded, so a cold start can be timed from outside the process.
type runtimeAPI struct {
	// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
	Addr string

	requestID string
	event     []byte
	srv       *http.Server
	closed    chan struct{}

	mu       sync.Mutex
	served   bool
	nextAt   time.Time     // when the function first asked for an invocation (its init was done)
	done     chan struct{} // closed when the response or an error arrived
	at       time.Time
	response []byte
	failure  string
}

// The paths of the Runtime API, version 2018-06-01.
const (
	runtimePrefix = "/2018-06-01/runtime/"
	pathNext      = runtimePrefix + "invocation/next"
	pathInitError = runtimePrefix + "init/error"
)

// startRuntimeAPI serves one invocation of event with requestID on a free
// loopback port.
func startRuntimeAPI(requestID string, event []byte) (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime api: %w", err)
	}
	a := &runtimeAPI{
		Addr: ln.Addr().String(), requestID: requestID, event: event,
		closed: make(chan struct{}), done: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathNext, a.next)
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/response", a.result(false))
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/error", a.result(true))
	mux.HandleFunc("POST "+pathInitError, a.initError)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

// next hands out the event once; a second call waits for Close.
func (a *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	first := !a.served
	if first {
		a.served, a.nextAt = true, time.Now()
	}
	a.mu.Unlock()
	if !first {
		select {
		case <-a.closed:
		case <-r.Context().Done():
		}
		http.Error(w, "sandbox shut down", http.StatusGone)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", a.requestID)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	w.WriteHeader(http.StatusOK)
	w.Write(a.event)
}

// result records the function's response (or its error report).
func (a *runtimeAPI) result(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		at := time.Now()
		if id := r.PathValue("id"); id != a.requestID {
			http.Error(w, "unknown request id "+id, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		a.finish(at, body, isError, "invocation error: "+string(body))
	}
}

func (a *runtimeAPI) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusAccepted)
	a.finish(time.Now(), nil, true, "init error: "+string(body))
}

func (a *runtimeAPI) finish(at time.Time, response []byte, failed bool, failure string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.done:
		return // only the first outcome counts
	default:
	}
	a.at, a.response = at, response
	if failed {
		a.failure = strings.TrimSpace(failure)
	}
	close(a.done)
}

// Wait returns when the function first asked for an invocation (its init
// was done), when its response arrived and the response; or an error if
// the function reported one or ctx ended first.
func (a *runtimeAPI) Wait(ctx context.Context) (next, at time.Time, response []byte, err error) {
	select {
	case <-a.done:
	case <-ctx.Done():
		return time.Time{}, time.Time{}, nil, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failure != "" {
		return a.nextAt, a.at, nil, errors.New(a.failure)
	}
	return a.nextAt, a.at, a.response, nil
}

// Close releases waiting requests and stops the server.
func (a *runtimeAPI) Close() {
	close(a.closed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
}
