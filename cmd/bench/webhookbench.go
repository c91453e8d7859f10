package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

	const path = "/v1/orgs/acme/identifications/otp"
	var mu sync.Mutex
	answered := map[string]time.Time{}
	failed, firstErr := 0, ""
	var wg sync.WaitGroup
	create := func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+path, strings.NewReader(deliveryBody))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		at := time.Now()
		var created struct{ ID string }
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&created)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusCreated {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil || created.ID == "" {
			failed++
			if firstErr == "" {
				firstErr = fmt.Sprint(err)
			}
			return
		}
		answered[created.ID] = at
	}
	interval := time.Duration(float64(time.Second) / o.deliveryRate)
	start := time.Now()
	for next := start; next.Before(start.Add(o.deliveryFor)); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		wg.Add(1)
		go create()
	}
	wg.Wait()
	all := func() bool {
		mu.Lock()
		defer mu.Unlock()
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for id := range answered {
			if _, ok := recv.arrived[id]; !ok {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !all(); time.Sleep(50 * time.Millisecond) {
	}
	waited := time.Now()
	recv.mu.Lock()
	var msv []float64
	missing := 0
	for id, at := range answered {
		d, ok := recv.arrived[id]
		if !ok {
			missing++
			msv = append(msv, float64(waited.Sub(at))/float64(time.Millisecond))
			continue
		}
		msv = append(msv, float64(d.Sub(at))/float64(time.Millisecond))
	}
	recv.mu.Unlock()
	if len(msv) == 0 {
		return fmt.Errorf("webhooks: no create succeeded (%d failed: %s)", failed, firstErr)
	}
	if n := recv.bad.Load(); n > 0 {
		return fmt.Errorf("webhooks: %d deliveries failed the receiver's signature check", n)
	}
	slices.Sort(msv)
	pct := func(p float64) float64 {
		return msv[min(len(msv)-1, max(0, int(math.Ceil(p/100*float64(len(msv))))-1))]
	}
	res.set("webhook_ms.p50", pct(50))
	res.set("webhook_ms.p99", pct(99))
	res.set("webhook_ms.max", msv[len(msv)-1])
	res.set("webhook_missing", float64(missing))
	note := fmt.Sprintf("%d creates at %.0f/s for %s through a dev server on dynoxide (stream read every 100 ms), one endpoint for every event type "+
		"(%d deliveries verified); max %.0f ms; %d not delivered, %d creates failed",
		len(answered), o.deliveryRate, o.deliveryFor, recv.verified.Load(), msv[len(msv)-1], missing, failed)
	if firstErr != "" {
		note += " (" + firstErr + ")"
	}
	res.note("webhook_ms.p99", note)
	res.note("webhook_ms.p50", fmt.Sprintf("from a create's answer to its identification.created delivery at a loopback receiver, signature checked; %d creates", len(answered)))
	step("  %d creates: webhook p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d missing", len(answered), pct(50), pct(99), msv[len(msv)-1], missing)
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

// webhookReceiverDelay is how long the receiver of webhook_vs_raw takes to
// answer: a receiver a short network trip away. webhook_vs_raw_instant is
// the same measurement with a receiver that answers at once, where nothing
// but the sender's own work (its two DynamoDB calls, a connection per
// attempt, the signature) shows.
const webhookReceiverDelay = 10 * time.Millisecond

// webhookVsRaw records webhook_vs_raw and webhook_vs_raw_instant: in each
// of o.rounds rounds, on a fresh table, o.webhookN events are delivered to
// one endpoint registered through webhooks.Service, by the webhook
// sender (webhooks.Sender with the egress client and the DynamoDB store,
// as the webhook-sender function runs it: the endpoint read, its secret
// opened, the body signed, posted, the delivery logged), one message per
// Handle as the function's batch of one, webhookConcurrency at a time; the
// baseline is a raw loop posting the same bodies with the same headers,
// precomputed, through a plain keep-alive http.Client at the same
// concurrency, measured before the sender and after it. The figure is the
// median over the rounds of the sender's deliveries per second over the
// raw loop's.
func webhookVsRaw(ctx context.Context, env *engineEnv, o options, res *results) error {
	for _, c := range []struct {
		key   string
		delay time.Duration
	}{{"webhook_vs_raw", webhookReceiverDelay}, {"webhook_vs_raw_instant", 0}} {
		var ratios, senderRates, rawRates []float64
		for round := range o.rounds {
			if err := env.restart(ctx); err != nil {
				return err
			}
			s, raw, err := webhookOnce(ctx, env, o.webhookN, c.delay)
			if err != nil {
				return err
			}
			ratios, senderRates, rawRates = append(ratios, s/raw), append(senderRates, s), append(rawRates, raw)
			step("  %s round %d: sender %.0f deliveries/s, raw %.0f/s: %.2f", c.key, round+1, s, raw, s/raw)
		}
		res.set(c.key, median(ratios))
		res.set(c.key+".sender_per_s", median(senderRates))
		res.set(c.key+".raw_per_s", median(rawRates))
		res.note(c.key, fmt.Sprintf("receiver answering after %s: sender %.0f deliveries/s vs a raw keep-alive loop posting the same bodies %.0f/s, "+
			"%d at a time; %d events per round, %d rounds", c.delay, median(senderRates), median(rawRates), webhookConcurrency, o.webhookN, o.rounds))
	}
	return nil
}

// webhookOnce delivers n events by the sender and by the raw loop (half
// before, half after) and returns both rates, deliveries a second.
func webhookOnce(ctx context.Context, env *engineEnv, n int, delay time.Duration) (senderRate, rawRate float64, err error) {
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

	store := dynamostore.New(env.client, dynamostore.Options{Table: table})
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
	msgs := make([]webhooks.Message, n)
	type post struct {
		body    []byte
		headers map[string]string
	}
	posts := make([]post, n)
	for i := range msgs {
		m := webhooks.Message{OrgID: "acme", EndpointID: ep.ID, Event: identification.Event{DetailType: "identification.created", OrgID: "acme",
			ID: uuid.Must(uuid.NewV7()).String(), Type: identification.TypeOTP, Status: identification.StatusCreated, Version: 1, At: now}}
		msgs[i] = m
		body, err := webhooks.Body(m.Event, false)
		if err != nil {
			return 0, 0, err
		}
		sig, err := webhooks.SignatureHeader([]string{secret}, m.ID(), now.Unix(), body)
		if err != nil {
			return 0, 0, err
		}
		posts[i] = post{body, map[string]string{"Content-Type": "application/json", "webhook-id": m.ID(),
			"webhook-timestamp": strconv.FormatInt(now.Unix(), 10), "webhook-signature": sig}}
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: webhookConcurrency, MaxIdleConnsPerHost: webhookConcurrency}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	rawPost := func(i int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(posts[i].body)))
		if err != nil {
			return err
		}
		for k, v := range posts[i].headers {
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
		return nil
	}
	send := func(i int) error {
		o := sender.Handle(ctx, []webhooks.Received{{Message: msgs[i], Attempt: 1, First: now}})
		if !o[0].Done {
			return fmt.Errorf("the sender did not deliver event %d", i)
		}
		return nil
	}
	half := n / 2
	rawA, err := concurrently(0, half, rawPost)
	if err != nil {
		return 0, 0, err
	}
	sent, err := concurrently(0, n, send)
	if err != nil {
		return 0, 0, err
	}
	rawB, err := concurrently(half, n, rawPost)
	if err != nil {
		return 0, 0, err
	}
	if b, v := recv.bad.Load(), recv.verified.Load(); b > 0 || v != int64(2*n) {
		return 0, 0, fmt.Errorf("the receiver verified %d of %d deliveries (%d bad)", v, 2*n, b)
	}
	return float64(n) / sent.Seconds(), float64(n) / (rawA + rawB).Seconds(), nil
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
