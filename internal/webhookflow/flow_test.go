// Package webhookflow tests webhooks end to end on the real pieces: the
// DynamoDB store on both local engines, the stream processor reading the
// table's stream, the in-process FIFO queue, the sender, and the egress
// client posting to a receiver on loopback that checks every signature
// with its own implementation of the Standard Webhooks specification.
package webhookflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
	"github.com/idadmin/api/shared/webhooks"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var start = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// received is one request the receiver got.
type received struct {
	id, timestamp, signature string
	body                     []byte
	status                   int
}

// receiver is an endpoint on loopback: it records every request and
// answers with what answer says for the n-th request (from 1).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int) int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{answer: func(int) int { return http.StatusNoContent }}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body := make([]byte, 0, 512)
		buf := make([]byte, 512)
		for {
			n, err := req.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		r.mu.Lock()
		status := r.answer(len(r.got) + 1)
		r.got = append(r.got, received{id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"),
			signature: req.Header.Get("webhook-signature"), body: body, status: status})
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// verify is a receiver's check of a request, written from the Standard
// Webhooks specification: HMAC-SHA256 under the secret's bytes (the base64
// after "whsec_") over "{webhook-id}.{webhook-timestamp}.{body}", any one of
// the space-separated "v1,<base64>" signatures matching.
func verify(secret string, r received) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(r.id + "." + r.timestamp + "."))
	m.Write(r.body)
	want := m.Sum(nil)
	for _, sig := range strings.Split(r.signature, " ") {
		if b64, ok := strings.CutPrefix(sig, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

// payload is a delivery's body as a receiver reads it.
type payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		OrgID   string `json:"org_id"`
		ID      string `json:"id"`
		Version int64  `json:"version"`
		Sandbox *bool  `json:"sandbox"`
	} `json:"data"`
}

func mustPayload(t *testing.T, b []byte) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return p
}

// resolver answers every name with the addresses of the current answer.
type resolver struct {
	mu     sync.Mutex
	answer []netip.Addr
}

func (r *resolver) set(addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = nil
	for _, a := range addrs {
		r.answer = append(r.answer, netip.MustParseAddr(a))
	}
}

func (r *resolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.answer) == 0 {
		return nil, errors.New("no such host")
	}
	return append([]netip.Addr(nil), r.answer...), nil
}

// rig is one engine's table with everything that delivers webhooks.
type rig struct {
	store    *dynamostore.Store
	svc      *identification.Service
	hooks    *webhooks.Service
	sender   *webhooks.Sender
	queue    *memqueue.Queue
	proc     *stream.Processor
	reader   *localstream.Reader
	resolver *resolver
	mu       sync.Mutex
	now      time.Time
}

func (r *rig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

func (r *rig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

func (r *rig) setNow(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.now) {
		r.now = t
	}
}

// newRig wires the store, the services, the stream processor with the
// webhooks' fan-out as its publisher, the queue and the sender on e. With
// allowLoopback the egress client may post to the loopback receiver.
func newRig(t *testing.T, e enginetest.Engine, allowLoopback bool) *rig {
	t.Helper()
	client, table, _ := enginetest.NewTable(t, e)
	keys := fixture.CodeKeys()
	r := &rig{store: dynamostore.New(client, dynamostore.Options{Table: table}), now: start, resolver: &resolver{}}
	r.svc = identification.NewService(r.store, identification.WithClock(r.clock), identification.WithCodeKeys(keys))
	r.queue = memqueue.New(r.clock)
	out := egress.New(egress.Options{AllowLoopback: allowLoopback, Resolver: r.resolver, Timeout: 5 * time.Second})
	r.hooks = webhooks.NewService(r.store, keys, app.WebhookURLCheck(out), r.queue, r.clock)
	r.sender = &webhooks.Sender{Store: r.store, Sealer: keys, Post: app.WebhookPoster(out), Now: r.clock, Jitter: func() float64 { return 0.5 }}
	sms := &outbox{}
	r.proc = &stream.Processor{Store: r.store, Decoder: r.store, Keys: keys, Now: r.clock,
		Publisher: &webhooks.Fanout{Endpoints: r.store, Queue: r.queue, Now: r.clock},
		Senders:   map[string]identification.Sender{"SMS": sms, "EMAIL": sms}}
	reader, err := localstream.New(t.Context(), client, localengine.NewStreamsClient(e.Endpoint), table, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.reader = reader
	return r
}

// outbox takes the codes the processor sends.
type outbox struct{ n atomic.Int64 }

func (o *outbox) Send(context.Context, identification.Message) (string, error) {
	return "msg-" + strconv.FormatInt(o.n.Add(1), 10), nil
}

// drain hands the processor what the stream holds until it runs dry.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for range 200 {
		recs, err := r.reader.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return
		}
		if n, err := r.proc.Process(t.Context(), recs); err != nil {
			t.Fatalf("process: %d of %d: %v", n, len(recs), err)
		}
	}
	t.Fatal("the stream did not run dry")
}

// drainWhile processes the stream until work is done, and then once more.
func (r *rig) drainWhile(t *testing.T, work *sync.WaitGroup) {
	t.Helper()
	done := make(chan struct{})
	go func() { work.Wait(); close(done) }()
	for {
		select {
		case <-done:
			r.drain(t)
			return
		default:
			r.drain(t)
		}
	}
}

// deliverAll steps the queue, moving the clock to each next retry, until
// it is empty; it returns how many steps it took.
func (r *rig) deliverAll(t *testing.T) int {
	t.Helper()
	for steps := 0; ; steps++ {
		if steps > 5000 {
			t.Fatal("the queue does not empty")
		}
		n, err := r.queue.Step(t.Context(), r.sender.Handle)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			continue
		}
		next, ok := r.queue.NextVisible()
		if !ok {
			return steps
		}
		r.setNow(next)
	}
}

var admin = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}

func (r *rig) createOTP(t *testing.T) *identification.Identification {
	t.Helper()
	in := identification.CreateOTP{
		Actor: &identification.Actor{Name: "Zacarías Distinctname", Email: "zacarias@example.com",
			MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
		Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "P1D",
	}
	i, err := r.svc.CreateOTP(t.Context(), "acme", in, admin)
	if err != nil {
		t.Error(err)
		return nil
	}
	return i.Identification
}

func (r *rig) register(t *testing.T, url string, events ...string) (*webhooks.Endpoint, string) {
	t.Helper()
	e, secret, err := r.hooks.Register(t.Context(), "acme", webhooks.Input{URL: &url, Events: events, HasEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

// TestEveryEventOnceInOrder: 200 processes created and cancelled at once,
// the stream processed and the queue delivered while they are: the
// receiver gets every event of every process (created, code sent,
// cancelled) exactly once per webhook-id, each process's in version order,
// each signature verified, with nothing of the actor in any body.
func TestEveryEventOnceInOrder(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e, true)
		rcv := newReceiver(t)
		_, secret := r.register(t, rcv.srv.URL+"/hooks", "*")
		ctx, stop := context.WithCancel(t.Context())
		var running sync.WaitGroup
		running.Go(func() { r.queue.Run(ctx, r.sender.Handle, 50*time.Millisecond, func(err error) { t.Error(err) }) })
		const processes, workers = 200, 20
		// Each worker creates its processes, then cancels them once the
		// stream has sent their codes, while the stream is processed and
		// the queue delivers: created, code sent, cancelled.
		created := make(chan *identification.Identification, processes)
		var work sync.WaitGroup
		for range workers {
			work.Go(func() {
				for range processes / workers {
					if i := r.createOTP(t); i != nil {
						created <- i
					}
				}
			})
		}
		r.drainWhile(t, &work)
		close(created)
		n := 0
		for i := range created {
			n++
			work.Go(func() {
				if _, err := r.svc.Cancel(t.Context(), i.Ref(), "no longer needed", admin); err != nil {
					t.Error(err)
				}
			})
		}
		r.drainWhile(t, &work)
		want := 3 * processes
		deadline := time.Now().Add(60 * time.Second)
		for len(rcv.requests()) < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		running.Wait()
		got := rcv.requests()
		seen := map[string]int{}
		last := map[string]int64{}
		types := map[string]int{}
		for _, req := range got {
			seen[req.id]++
			if !verify(secret, req) {
				t.Fatalf("a signature does not verify: %s", req.id)
			}
			if strings.Contains(string(req.body), "Zacar") || strings.Contains(string(req.body), "612345678") || strings.Contains(string(req.body), "example.com") {
				t.Fatalf("a body holds actor data: %s", req.body)
			}
			p := mustPayload(t, req.body)
			if p.Data.Version <= last[p.Data.ID] {
				t.Errorf("process %s: version %d arrived after %d", p.Data.ID, p.Data.Version, last[p.Data.ID])
			}
			last[p.Data.ID] = p.Data.Version
			types[p.Type]++
			if p.Data.Sandbox == nil || *p.Data.Sandbox {
				t.Errorf("body %s: want sandbox false", req.body)
			}
		}
		for id, k := range seen {
			if k != 1 {
				t.Errorf("webhook-id %s arrived %d times", id, k)
			}
		}
		if len(seen) != want || len(last) != n || n != processes {
			t.Errorf("%d webhook-ids for %d processes, want %d (%v)", len(seen), len(last), want, types)
		}
		for _, typ := range []string{"identification.created", "identification.code.sent", "identification.cancelled"} {
			if types[typ] != n {
				t.Errorf("%d %s, want %d", types[typ], typ, n)
			}
		}
	})
}

// TestFailuresLoseNothingAndKeepOrder: a receiver that fails every other
// attempt, then answers nothing but 503 for hours, loses nothing: every
// event arrives (the clock moved to each retry), in version order per
// process; the log shows each delivery's attempts and last answer. A
// receiver that fails for three days gets its deliveries FAILED and its
// endpoint DISABLED with a reason; a replay, once it is enabled again,
// sends the same webhook-id.
func TestFailuresLoseNothingAndKeepOrder(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e, true)
		rcv := newReceiver(t)
		ep, secret := r.register(t, rcv.srv.URL+"/hooks", "*")
		var down atomic.Bool
		rcv.answer = func(n int) int {
			if down.Load() || n%2 == 1 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}
		var procs []*identification.Identification
		for range 10 {
			procs = append(procs, r.createOTP(t))
		}
		r.drain(t) // created; the codes sent
		for _, i := range procs[:5] {
			if _, err := r.svc.Cancel(t.Context(), i.Ref(), "changed", admin); err != nil {
				t.Fatal(err)
			}
		}
		r.drain(t) // cancelled
		// Down for five hours of retries, then back to failing every other.
		down.Store(true)
		for range 40 {
			if _, err := r.queue.Step(t.Context(), r.sender.Handle); err != nil {
				t.Fatal(err)
			}
			if next, ok := r.queue.NextVisible(); ok {
				r.setNow(next)
			}
			if r.clock().Sub(start) > 5*time.Hour {
				break
			}
		}
		down.Store(false)
		r.deliverAll(t)
		delivered := map[string]bool{}
		last := map[string]int64{}
		for _, req := range rcv.requests() {
			if req.status != http.StatusOK {
				continue
			}
			if !verify(secret, req) {
				t.Fatalf("a signature does not verify: %s", req.id)
			}
			if delivered[req.id] {
				t.Errorf("webhook-id %s delivered twice", req.id)
			}
			delivered[req.id] = true
			p := mustPayload(t, req.body)
			if p.Data.Version <= last[p.Data.ID] {
				t.Errorf("process %s: version %d delivered after %d", p.Data.ID, p.Data.Version, last[p.Data.ID])
			}
			last[p.Data.ID] = p.Data.Version
		}
		if want := 10*2 + 5; len(delivered) != want {
			t.Errorf("%d events delivered, want %d", len(delivered), want)
		}
		page, err := r.hooks.Deliveries(t.Context(), "acme", ep.ID, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		retried := 0
		for _, d := range page.Items {
			if d.Status != webhooks.DeliveryDelivered || d.DeliveredAt == nil || d.LastStatusCode != http.StatusOK || d.NextAttemptAt != nil {
				t.Errorf("delivery %+v: want DELIVERED with its code and time", d)
			}
			if d.Attempts > 1 {
				retried++
			}
		}
		if len(page.Items) != len(delivered) || retried == 0 {
			t.Errorf("the log holds %d deliveries (%d tried more than once), want %d, some retried", len(page.Items), retried, len(delivered))
		}
		got, err := r.hooks.Get(t.Context(), "acme", ep.ID)
		if err != nil || got.Status != webhooks.StatusEnabled {
			t.Fatalf("endpoint %+v, %v: want ENABLED after it recovered", got, err)
		}

		// Three days of nothing but failures.
		down.Store(true)
		lost := r.createOTP(t)
		r.drain(t)
		firstFail := r.clock()
		for steps := 0; ; steps++ {
			if steps > 500 {
				t.Fatal("the deliveries are never given up")
			}
			if _, err := r.queue.Step(t.Context(), r.sender.Handle); err != nil {
				t.Fatal(err)
			}
			next, ok := r.queue.NextVisible()
			if !ok {
				break
			}
			r.setNow(next)
		}
		// The first event's delivery is tried for three days, the last
		// try when they are up; that try's failure, three days after the
		// endpoint's first, disables the endpoint. The next event of the
		// process, which waited behind it, is never tried.
		if span := r.clock().Sub(firstFail); span < webhooks.GiveUpAfter {
			t.Errorf("gave up %s after the first failure, want at least %s", span, webhooks.GiveUpAfter)
		}
		got, err = r.hooks.Get(t.Context(), "acme", ep.ID)
		if err != nil || got.Status != webhooks.StatusDisabled || got.DisabledReason == "" {
			t.Fatalf("endpoint %+v, %v: want DISABLED with its reason after three days of failures", got, err)
		}
		page, err = r.hooks.Deliveries(t.Context(), "acme", ep.ID, 2, "")
		if err != nil {
			t.Fatal(err)
		}
		var failed *webhooks.Delivery
		for n, d := range page.Items {
			switch {
			case d.IdentificationID != lost.ID || d.Status != webhooks.DeliveryFailed:
				t.Errorf("delivery %+v: want the lost process's, FAILED", d)
			case d.EventType == "identification.created":
				failed = &page.Items[n]
			case d.LastError != "the endpoint is disabled" || d.Attempts != 0 || d.NextAttemptAt != nil:
				// The next event: its turn came when the endpoint had been
				// disabled, so it was dropped untried, saying why (a
				// replay sends it once the endpoint is enabled again).
				t.Errorf("delivery %+v: want dropped untried as the endpoint is disabled", d)
			}
		}
		if failed == nil || failed.Attempts < 15 || failed.LastStatusCode != http.StatusInternalServerError || failed.LastError == "" || failed.NextAttemptAt != nil {
			t.Fatalf("the newest deliveries %+v: want the lost process's FAILED after 15 or more attempts, its last code and error", page.Items)
		}
		if page.Next == "" {
			t.Error("a page of 2 of more deliveries has no next cursor")
		}
		// A disabled endpoint receives nothing; enabled again, a replay
		// sends the same webhook-id.
		if err := r.hooks.Replay(t.Context(), "acme", ep.ID, failed.ID); err != nil {
			t.Fatal(err)
		}
		before := len(rcv.requests())
		r.deliverAll(t)
		if len(rcv.requests()) != before {
			t.Error("a disabled endpoint was sent a replay")
		}
		enabled := webhooks.StatusEnabled
		if _, err := r.hooks.Change(t.Context(), "acme", ep.ID, webhooks.Input{Status: &enabled}); err != nil {
			t.Fatal(err)
		}
		down.Store(false)
		rcv.answer = func(int) int { return http.StatusNoContent }
		if err := r.hooks.Replay(t.Context(), "acme", ep.ID, failed.ID); err != nil {
			t.Fatal(err)
		}
		r.deliverAll(t)
		reqs := rcv.requests()
		if lastReq := reqs[len(reqs)-1]; lastReq.id != failed.ID || lastReq.status != http.StatusNoContent || !verify(secret, lastReq) {
			t.Errorf("the replay arrived as %s (%d), want %s, verified", lastReq.id, lastReq.status, failed.ID)
		}
	})
}

// TestRotationSignsWithBothFor24Hours: after a rotation, deliveries carry a
// signature under each secret for 24 hours, so a receiver holding either
// verifies them; after that only the new secret signs.
func TestRotationSignsWithBothFor24Hours(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e, true)
		rcv := newReceiver(t)
		ep, old := r.register(t, rcv.srv.URL+"/hooks", "webhook.test")
		_, rotated, err := r.hooks.Rotate(t.Context(), "acme", ep.ID)
		if err != nil || rotated == old || !strings.HasPrefix(rotated, "whsec_") {
			t.Fatalf("rotate = %q, %v", rotated, err)
		}
		send := func() received {
			t.Helper()
			if _, err := r.hooks.Test(t.Context(), "acme", ep.ID); err != nil {
				t.Fatal(err)
			}
			r.deliverAll(t)
			reqs := rcv.requests()
			return reqs[len(reqs)-1]
		}
		r.advance(webhooks.RotationGrace - time.Minute)
		within := send()
		if !verify(old, within) || !verify(rotated, within) || len(strings.Fields(within.signature)) != 2 {
			t.Errorf("within the grace: signatures %q; want one under each secret", within.signature)
		}
		r.advance(2 * time.Minute)
		after := send()
		if verify(old, after) || !verify(rotated, after) || len(strings.Fields(after.signature)) != 1 {
			t.Errorf("after the grace: signatures %q; want the new secret's only", after.signature)
		}
		if p := mustPayload(t, after.body); p.Type != webhooks.TestEvent {
			t.Errorf("the test event's type is %q", p.Type)
		}
	})
}

// TestNoRequestWhereItMustNotGo: registration refuses URLs to loopback,
// private, link-local and metadata addresses in every spelling, and names
// that resolve to them; a name that resolved to a public address when
// registered and to loopback when delivered is refused at the attempt,
// and the listener on loopback sees no connection; a receiver's redirect
// is a failed attempt, never followed.
func TestNoRequestWhereItMustNotGo(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e, false)
		var connections atomic.Int32
		ln := newReceiver(t)
		ln.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				connections.Add(1)
			}
		}
		port := ln.srv.Listener.Addr().(*net.TCPAddr).Port
		r.resolver.set("10.1.2.3")
		for _, url := range []string{
			"https://127.0.0.1/x", "https://10.0.0.1/x", "https://169.254.169.254/latest/meta-data", "https://[::1]/x",
			"https://[::ffff:127.0.0.1]/x", "https://0x7f000001/x", "https://2130706433/x", "http://hooks.example.com/x",
			"https://internal.example.com/x", // resolves to 10.1.2.3
			"https://" + strings.Repeat("a", 2050) + ".example.com/",
		} {
			_, _, err := r.hooks.Register(t.Context(), "acme", webhooks.Input{URL: &url, Events: []string{"*"}, HasEvents: true})
			var ie *identification.Error
			if !errors.As(err, &ie) || ie.Kind != identification.KindInvalid || len(ie.Fields) != 1 || ie.Fields[0].Path != "url" {
				t.Errorf("register %.60s: %v, want a 400 at url", url, err)
			} else if strings.Contains(ie.Fields[0].Message, "127.0.0.1") || strings.Contains(ie.Fields[0].Message, "10.") {
				t.Errorf("register %.60s: the message %q repeats the address", url, ie.Fields[0].Message)
			}
		}
		// Public when registered, loopback when delivered.
		r.resolver.set("93.184.216.34")
		ep, _ := r.register(t, "https://hooks.example.com:"+strconv.Itoa(port)+"/x", "*")
		r.resolver.set("127.0.0.1")
		r.createOTP(t)
		r.drain(t)
		if _, err := r.queue.Step(t.Context(), r.sender.Handle); err != nil {
			t.Fatal(err)
		}
		if n := connections.Load(); n != 0 {
			t.Errorf("%d connections to loopback", n)
		}
		page, err := r.hooks.Deliveries(t.Context(), "acme", ep.ID, 10, "")
		if err != nil || len(page.Items) != 1 || page.Items[0].LastError != egress.ReasonPrivateAddress || page.Items[0].Status != webhooks.DeliveryPending {
			t.Errorf("deliveries %+v, %v: want one PENDING, failed for private_address", page.Items, err)
		}

		// A redirect (loopback allowed, as the dev server does): not followed.
		r2 := newRig(t, e, true)
		target := newReceiver(t)
		redirecting := newReceiver(t)
		redirecting.answer = func(int) int { return http.StatusFound }
		redirecting.srv.Config.Handler = http.RedirectHandler(target.srv.URL+"/elsewhere", http.StatusFound)
		ep2, _ := r2.register(t, redirecting.srv.URL+"/x", "webhook.test")
		if _, err := r2.hooks.Test(t.Context(), "acme", ep2.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := r2.queue.Step(t.Context(), r2.sender.Handle); err != nil {
			t.Fatal(err)
		}
		if n := len(target.requests()); n != 0 {
			t.Errorf("the redirect was followed: %d requests at its target", n)
		}
		page, err = r2.hooks.Deliveries(t.Context(), "acme", ep2.ID, 10, "")
		if err != nil || len(page.Items) != 1 || page.Items[0].LastStatusCode != http.StatusFound || page.Items[0].Status != webhooks.DeliveryPending {
			t.Errorf("deliveries %+v, %v: want one PENDING, answered 302", page.Items, err)
		}
	})
}
