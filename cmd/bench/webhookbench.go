package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// receiver is a webhook receiver on a loopback port: it verifies every
// delivery's signature as docs/webhooks.md tells a receiver to, answers
// 204 after delay, and notes when the first delivery of each process's
// event of type want arrived.
type receiver struct {
	URL    string
	secret atomic.Pointer[string]
	delay  time.Duration
	want   string

	srv      *http.Server
	mu       sync.Mutex
	arrived  map[string]time.Time
	verified atomic.Int64
	bad      atomic.Int64
}

func startReceiver(delay time.Duration, want string) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{URL: "http://" + ln.Addr().String() + "/hooks", delay: delay, want: want, arrived: map[string]time.Time{}}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *receiver) close() { r.srv.Close() }

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<10))
	if err != nil || !r.valid(req.Header, body) {
		r.bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.verified.Add(1)
	if r.want != "" {
		var d struct {
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &d) == nil && d.Type == r.want {
			r.mu.Lock()
			if _, ok := r.arrived[d.Data.ID]; !ok {
				r.arrived[d.Data.ID] = at
			}
			r.mu.Unlock()
		}
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	w.WriteHeader(http.StatusNoContent)
}

// valid checks a delivery's signature with the receiver's secret: one of
// the v1 signatures of webhook-signature is the HMAC of
// "<webhook-id>.<webhook-timestamp>.<body>".
func (r *receiver) valid(h http.Header, body []byte) bool {
	secret := r.secret.Load()
	if secret == nil {
		return false
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return false
	}
	want, err := webhooks.Signature(*secret, h.Get("webhook-id"), ts, body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// webhookLatency records webhook_ms.p50 and webhook_ms.p99: a dev server of
// its own (WEBHOOK_ALLOW_LOOPBACK=true, so that it may post to a loopback
// receiver over http), on dynoxide and a fresh table, with one endpoint
// registered through the API for every event type, takes the steady load
// of delivery_ms (o.deliveryRate creates a second for o.deliveryFor); each
// create's time runs from its answer arriving here to the receiver's
// taking its identification.created delivery, signature verified (both on
// this machine's clock). The path is the product's: the stream processor
// reads the change, the fan-out queues one message per endpoint, the
// sender signs and posts it and logs the delivery. A delivery not taken
// within 10 s of the end of the load counts with the time it was waited
// for, a lower bound, so that it shows in the p99.
func webhookLatency(ctx context.Context, env *engineEnv, bins binaries, dir string, o options, res *results) error {
	table, drop, err := env.newTable(ctx, "webhooks")
	if err != nil {
		return err
	}
	defer drop()
	srv, err := startDevServerEnv(ctx, env, bins.devserver, table, dir, "devserver-webhooks", []string{app.WebhookLoopbackEnv + "=true"})
	if err != nil {
		return err
	}
	defer srv.stop()
	recv, err := startReceiver(0, "identification.created")
	if err != nil {
		return err
	}
	defer recv.close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

	settings, err := srv.mint(auth.ScopeSettings)
	if err != nil {
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+"/v1/orgs/acme/webhooks",
		strings.NewReader(`{"url":"`+recv.URL+`","events":["*"],"description":"bench"}`))
	req.Header.Set("Authorization", "Bearer "+settings)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("register the webhook: %w", err)
	}
	var registered struct{ Secret string }
	err = json.NewDecoder(resp.Body).Decode(&registered)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || registered.Secret == "" {
		return fmt.Errorf("register the webhook: HTTP %d (%v)", resp.StatusCode, err)
	}
	recv.secret.Store(&registered.Secret)

	load := steadyCreates(ctx, srv, hc, o)
	all := func() bool {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for id := range load.answered {
			if _, ok := recv.arrived[id]; !ok {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !all(); time.Sleep(50 * time.Millisecond) {
	}
	recv.mu.Lock()
	msv, missing := load.latencies(recv.arrived, time.Now())
	recv.mu.Unlock()
	if len(msv) == 0 {
		return fmt.Errorf("webhooks: no create succeeded (%d failed: %s)", load.failed, load.firstErr)
	}
	if n := recv.bad.Load(); n > 0 {
		return fmt.Errorf("webhooks: %d deliveries failed the receiver's signature check", n)
	}
	p50, p99, most := nearestRank(msv, 50), nearestRank(msv, 99), msv[len(msv)-1]
	res.set("webhook_ms.p50", p50)
	res.set("webhook_ms.p99", p99)
	res.set("webhook_ms.max", most)
	res.set("webhook_missing", float64(missing))
	note := fmt.Sprintf("%d creates at %.0f/s for %s through a dev server on dynoxide (stream read every 100 ms), one endpoint for every event type "+
		"(%d deliveries verified); max %.0f ms; %d not delivered, %d creates failed",
		len(load.answered), o.deliveryRate, o.deliveryFor, recv.verified.Load(), most, missing, load.failed)
	if load.firstErr != "" {
		note += " (" + load.firstErr + ")"
	}
	res.note("webhook_ms.p99", note)
	res.note("webhook_ms.p50", fmt.Sprintf("from a create's answer to its identification.created delivery at a loopback receiver, signature checked; %d creates", len(load.answered)))
	step("  %d creates: webhook p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d missing", len(load.answered), p50, p99, most, missing)
	return nil
}

// webhookConcurrency is how many deliveries the sender and the raw loop
// each have in flight: one, as one webhook-sender function instance has
// (a batch of one message per invocation, one invocation at a time) and
// as the dev server's sender has. AWS scales the sender by running more
// instances, each with DynamoDB to itself; here they would all queue at
// the one local engine (at 8 in flight the sender's two calls a delivery
// are dynoxide's whole throughput, about 1,100 calls a second on two
// cores), which measures the engine rather than the sender.
const webhookConcurrency = 1

// webhookReceiverDelay is how long the receiver of webhook_vs_posts.10ms
// takes to answer: a receiver a short network trip away.
const webhookReceiverDelay = 10 * time.Millisecond

// webhookChunk is how many deliveries each side makes before the other
// takes its turn: the two alternate, so that drift (dynoxide slows as a
// table's stream grows) falls on both alike.
const webhookChunk = 50

// webhookVsRaw records webhook_vs_raw and, as information,
// webhook_vs_posts.instant and webhook_vs_posts.10ms. In each of o.rounds
// rounds, on a fresh table, o.webhookN events are delivered to one
// endpoint registered through webhooks.Service by the webhook sender
// (webhooks.Sender with the egress client and the DynamoDB store, as the
// webhook-sender function runs it: the endpoint read, its secret opened,
// the body signed, posted over a connection of its own to the address
// checked, the delivery logged), one message per Handle as the function's
// batch of one, webhookConcurrency at a time; and as many by a raw loop,
// the two alternating by webhookChunk.
//
//   - webhook_vs_raw: the raw loop does the same work outside the
//     process: the sender's DynamoDB calls (its GetItem and PutItem,
//     recorded from the sender's first delivery and replayed with the
//     delivery's ids substituted, as the routes' baselines replay theirs)
//     and the same HTTP exchange (the same bodies and headers,
//     precomputed, posted over a new connection each, as the sender must
//     connect to the address it checked on every attempt) through a plain
//     http.Client, to a receiver answering at once: what is left is the
//     sender's own code (the endpoint decoded, its secret opened, the body
//     signed, the address checked, the delivery encoded).
//   - webhook_vs_posts: the raw loop only posts, over kept-alive
//     connections, to a receiver answering at once and to one answering
//     after webhookReceiverDelay: the whole cost of a delivery's
//     bookkeeping and its own connection beside a bare post.
//
// Each figure is the median over the rounds of the sender's deliveries a
// second over the raw loop's.
func webhookVsRaw(ctx context.Context, env *engineEnv, o options, res *results) error {
	for _, c := range []struct {
		key   string
		delay time.Duration
		calls bool
		goal  string
	}{
		{"webhook_vs_raw", 0, true, "a raw loop making the same DynamoDB calls and posting the same bodies, a connection each"},
		{"webhook_vs_posts.instant", 0, false, "a raw loop posting the same bodies over kept-alive connections"},
		{"webhook_vs_posts.10ms", webhookReceiverDelay, false, "a raw loop posting the same bodies over kept-alive connections"},
	} {
		var ratios, senderRates, rawRates []float64
		for round := range o.rounds {
			if err := env.restart(ctx); err != nil {
				return err
			}
			s, raw, err := webhookOnce(ctx, env, o.webhookN, c.delay, c.calls)
			if err != nil {
				return fmt.Errorf("%s: %w", c.key, err)
			}
			ratios, senderRates, rawRates = append(ratios, s/raw), append(senderRates, s), append(rawRates, raw)
			step("  %s round %d: sender %.0f deliveries/s, raw %.0f/s: %.2f", c.key, round+1, s, raw, s/raw)
		}
		res.set(c.key, median(ratios))
		res.set(c.key+".sender_per_s", median(senderRates))
		res.set(c.key+".raw_per_s", median(rawRates))
		res.note(c.key, fmt.Sprintf("receiver answering after %s: the sender %.0f deliveries/s vs %s %.0f/s, %d at a time; %d events each per round, %d rounds",
			c.delay, median(senderRates), c.goal, median(rawRates), webhookConcurrency, o.webhookN, o.rounds))
	}
	return nil
}

// webhookOnce delivers n events by the sender and n by the raw loop
// (making the sender's DynamoDB calls too with calls), alternating by
// webhookChunk, and returns both rates, deliveries a second.
func webhookOnce(ctx context.Context, env *engineEnv, n int, delay time.Duration, calls bool) (senderRate, rawRate float64, err error) {
	table, drop, err := env.newTable(ctx, "webhooks")
	if err != nil {
		return 0, 0, err
	}
	defer drop()
	recv, err := startReceiver(delay, "")
	if err != nil {
		return 0, 0, err
	}
	defer recv.close()

	rec := &callRecorder{}
	client := dynamodb.New(env.client.Options(), rec.install)
	store := dynamostore.New(client, dynamostore.Options{Table: table})
	keys := fixture.CodeKeys()
	out := egress.New(egress.Options{AllowLoopback: true})
	svc := webhooks.NewService(store, keys, app.WebhookURLCheck(out), memqueue.New(time.Now), nil)
	url := recv.URL
	ep, secret, err := svc.Register(ctx, "acme", webhooks.Input{URL: &url, Events: []string{"*"}, HasEvents: true})
	if err != nil {
		return 0, 0, fmt.Errorf("register: %w", err)
	}
	recv.secret.Store(&secret)
	sender := &webhooks.Sender{Store: store, Sealer: keys, Post: app.WebhookPoster(out)}

	now := time.Now().UTC().Truncate(time.Second)
	message := func() webhooks.Message {
		return webhooks.Message{OrgID: "acme", EndpointID: ep.ID, Event: identification.Event{DetailType: "identification.created", OrgID: "acme",
			ID: uuid.Must(uuid.NewV7()).String(), Type: identification.TypeOTP, Status: identification.StatusCreated, Version: 1, At: now}}
	}
	deliver := func(m webhooks.Message) error {
		o := sender.Handle(ctx, []webhooks.Received{{Message: m, Attempt: 1, First: now}})
		if !o[0].Done {
			return fmt.Errorf("the sender did not deliver %s", m.ID())
		}
		return nil
	}
	// The sender's calls for one delivery, recorded from a first one
	// that is not timed.
	first := message()
	rec.start()
	if err := deliver(first); err != nil {
		return 0, 0, err
	}
	recorded := rec.stop()
	if len(recorded) != 2 {
		return 0, 0, fmt.Errorf("the sender made %d DynamoDB calls for one delivery, not a GetItem and a PutItem", len(recorded))
	}
	get, okGet := recorded[0].(*dynamodb.GetItemInput)
	put, okPut := recorded[1].(*dynamodb.PutItemInput)
	if !okGet || !okPut {
		return 0, 0, fmt.Errorf("the sender's calls for one delivery were %T and %T, not a GetItem and a PutItem", recorded[0], recorded[1])
	}

	type post struct {
		body    []byte
		headers map[string]string
		put     *dynamodb.PutItemInput
	}
	senderMsgs, posts := make([]webhooks.Message, n), make([]post, n)
	for i := range n {
		senderMsgs[i] = message()
		m := message()
		body, err := webhooks.Body(m.Event, false)
		if err != nil {
			return 0, 0, err
		}
		sig, err := webhooks.SignatureHeader([]string{secret}, m.ID(), now.Unix(), body)
		if err != nil {
			return 0, 0, err
		}
		p := post{body: body, headers: map[string]string{"Content-Type": "application/json", "webhook-id": m.ID(),
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig}}
		if calls {
			in := *put
			in.Item = substitute(put.Item, strings.NewReplacer(first.ID(), m.ID(), first.Event.ID, m.Event.ID))
			p.put = &in
		}
		posts[i] = p
	}

	// With calls, a connection per post, as the sender's; without, kept
	// alive.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: calls, MaxIdleConns: webhookConcurrency, MaxIdleConnsPerHost: webhookConcurrency},
		Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	raw := func(i int) error {
		p := posts[i]
		if p.put != nil {
			if _, err := env.client.GetItem(ctx, get); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(p.body))
		if err != nil {
			return err
		}
		for k, v := range p.headers {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("raw post: HTTP %d", resp.StatusCode)
		}
		if p.put != nil {
			if _, err := env.client.PutItem(ctx, p.put); err != nil {
				return err
			}
		}
		return nil
	}
	send := func(i int) error { return deliver(senderMsgs[i]) }
	var sent, posted time.Duration
	for from := 0; from < n; from += webhookChunk {
		to := min(from+webhookChunk, n)
		d, err := concurrently(from, to, raw)
		if err != nil {
			return 0, 0, err
		}
		posted += d
		if d, err = concurrently(from, to, send); err != nil {
			return 0, 0, err
		}
		sent += d
	}
	if b, v := recv.bad.Load(), recv.verified.Load(); b > 0 || v != int64(2*n+1) {
		return 0, 0, fmt.Errorf("the receiver verified %d of %d deliveries (%d bad)", v, 2*n+1, b)
	}
	return float64(n) / sent.Seconds(), float64(n) / posted.Seconds(), nil
}

// callRecorder records the input of every DynamoDB call a client makes
// while it is started.
type callRecorder struct {
	mu     sync.Mutex
	on     bool
	inputs []any
}

func (r *callRecorder) install(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.callRecorder",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				r.mu.Lock()
				if r.on {
					r.inputs = append(r.inputs, in.Parameters)
				}
				r.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (r *callRecorder) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on, r.inputs = true, nil
}

func (r *callRecorder) stop() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on = false
	return r.inputs
}

// substitute is item with rep applied to every string in it, nested ones
// too.
func substitute(item map[string]types.AttributeValue, rep *strings.Replacer) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = substituteValue(v, rep)
	}
	return out
}

func substituteValue(v types.AttributeValue, rep *strings.Replacer) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: rep.Replace(v.Value)}
	case *types.AttributeValueMemberM:
		return &types.AttributeValueMemberM{Value: substitute(v.Value, rep)}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = substituteValue(e, rep)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return v
}

// concurrently runs do(i) for i in [from, to), webhookConcurrency at a
// time, and returns how long it took; the first error stops it.
func concurrently(from, to int, do func(int) error) (time.Duration, error) {
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	start := time.Now()
	for range webhookConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				if err := do(i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return 0, *p
	}
	return time.Since(start), nil
}
