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
	"sync/atomic"
	"time"
)

// runtimeAPI is the part of the Lambda Runtime API a Go function uses:
// GET .../invocation/next hands out the next invocation (the one given at
// start first), waiting for one as Lambda's loop does, until the API is
// closed (as in Lambda, where the sandbox is frozen); the function posts
// each invocation's response (or error). For a cold start, the time the
// function first asked for an invocation and the time its first response
// arrived are recorded, so it can be timed from outside the process; for a
// warm invocation (Invoke), the time from handing out the event to the
// arrival of the response: what Lambda's own loop would bill.
type runtimeAPI struct {
	// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
	Addr string

	srv    *http.Server
	closed chan struct{}
	queue  chan *invocation
	first  *invocation
	seq    atomic.Int64

	mu       sync.Mutex
	asked    bool
	nextAt   time.Time // when the function first asked for an invocation (its init was done)
	inflight map[string]*invocation
	initErr  string
}

// invocation is one event handed to the function and its outcome.
type invocation struct {
	id    string
	event []byte

	dispatched time.Time     // when the event was handed out
	done       chan struct{} // closed when the response or an error arrived
	at         time.Time
	response   []byte
	failure    string
}

// The paths of the Runtime API, version 2018-06-01.
const (
	runtimePrefix = "/2018-06-01/runtime/"
	pathNext      = runtimePrefix + "invocation/next"
	pathInitError = runtimePrefix + "init/error"
)

// startRuntimeAPI serves a Runtime API on a free loopback port whose first
// invocation is event with requestID.
func startRuntimeAPI(requestID string, event []byte) (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime api: %w", err)
	}
	a := &runtimeAPI{
		Addr: ln.Addr().String(), closed: make(chan struct{}), queue: make(chan *invocation, 1),
		inflight: map[string]*invocation{},
	}
	a.first = &invocation{id: requestID, event: event, done: make(chan struct{})}
	a.queue <- a.first
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathNext, a.next)
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/response", a.result(false))
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/error", a.result(true))
	mux.HandleFunc("POST "+pathInitError, a.initError)
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

// next hands out the next invocation, waiting for one until Close.
func (a *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	if !a.asked {
		a.asked, a.nextAt = true, time.Now()
	}
	a.mu.Unlock()
	var inv *invocation
	select {
	case inv = <-a.queue:
	case <-a.closed:
		http.Error(w, "sandbox shut down", http.StatusGone)
		return
	case <-r.Context().Done():
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0")
	a.mu.Lock()
	a.inflight[inv.id] = inv
	inv.dispatched = time.Now()
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	w.Write(inv.event)
}

// result records the function's response (or its error report).
func (a *runtimeAPI) result(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		at := time.Now()
		id := r.PathValue("id")
		a.mu.Lock()
		inv := a.inflight[id]
		delete(a.inflight, id)
		a.mu.Unlock()
		if inv == nil {
			http.Error(w, "unknown request id "+id, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		inv.finish(at, body, isError, "invocation error: "+string(body))
	}
}

func (a *runtimeAPI) initError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.WriteHeader(http.StatusAccepted)
	a.mu.Lock()
	a.initErr = "init error: " + strings.TrimSpace(string(body))
	a.mu.Unlock()
	a.first.finish(time.Now(), nil, true, "init error: "+string(body))
}

func (inv *invocation) finish(at time.Time, response []byte, failed bool, failure string) {
	select {
	case <-inv.done:
		return // only the first outcome counts
	default:
	}
	inv.at, inv.response = at, response
	if failed {
		inv.failure = strings.TrimSpace(failure)
	}
	close(inv.done)
}

// Wait returns when the function first asked for an invocation (its init
// was done), when its first response arrived and the response; or an
// error if the function reported one or ctx ended first.
func (a *runtimeAPI) Wait(ctx context.Context) (next, at time.Time, response []byte, err error) {
	select {
	case <-a.first.done:
	case <-ctx.Done():
		return time.Time{}, time.Time{}, nil, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.first.failure != "" {
		return a.nextAt, a.first.at, nil, errors.New(a.first.failure)
	}
	return a.nextAt, a.first.at, a.first.response, nil
}

// Invoke hands event to the function, as a warm invocation, and returns
// the time from handing it out to the arrival of the response, and the
// response.
func (a *runtimeAPI) Invoke(ctx context.Context, event []byte) (time.Duration, []byte, error) {
	inv := &invocation{id: fmt.Sprintf("warm-%d", a.seq.Add(1)), event: event, done: make(chan struct{})}
	select {
	case a.queue <- inv:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	select {
	case <-inv.done:
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	}
	if inv.failure != "" {
		return 0, nil, errors.New(inv.failure)
	}
	return inv.at.Sub(inv.dispatched), inv.response, nil
}

// Close releases waiting requests and stops the server.
func (a *runtimeAPI) Close() {
	close(a.closed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
}
