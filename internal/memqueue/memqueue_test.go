package memqueue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// msg is version v of process p's event to endpoint "ep": group p.
func msg(p string, v int64) webhooks.Message {
	return webhooks.Message{OrgID: "acme", EndpointID: "ep", Event: identification.Event{
		DetailType: "identification.updated", OrgID: "acme", ID: p, Type: "EMAIL", Version: v,
		At: time.Date(2026, 12, 1, 8, 0, 0, int(v), time.UTC),
	}}
}

// name is "p/v" for m.
func name(m webhooks.Message) string { return fmt.Sprintf("%s/%d", m.Event.ID, m.Event.Version) }

func names(rs []webhooks.Received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = name(r.Message)
	}
	return out
}

// recorder is a handler that fails the messages of the groups in fail (until
// retryAt) and delivers the others, recording every delivery attempt.
type recorder struct {
	mu       sync.Mutex
	attempts []webhooks.Received
	// fail maps a process to when its failures are retried; absent: done.
	fail map[string]time.Time
}

func (r *recorder) handle(_ context.Context, rs []webhooks.Received) []webhooks.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]webhooks.Outcome, len(rs))
	for i, m := range rs {
		r.attempts = append(r.attempts, m)
		if at, ok := r.fail[m.Message.Event.ID]; ok {
			out[i] = webhooks.Outcome{RetryAt: at}
		} else {
			out[i] = webhooks.Outcome{Done: true}
		}
	}
	return out
}

func (r *recorder) delivered() []string { return names(r.attempts) }

// drain steps q until a Step handles nothing.
func drain(t *testing.T, q *memqueue.Queue, h memqueue.Handler) {
	t.Helper()
	for range 1000 {
		n, err := q.Step(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the queue never drained")
}

func TestPerGroupOrder(t *testing.T) {
	tests := []struct {
		name string
		send [][]webhooks.Message
		// steps are the messages each Step takes, in order.
		steps [][]string
	}{
		{
			name:  "one group goes one at a time",
			send:  [][]webhooks.Message{{msg("a", 1), msg("a", 2), msg("a", 3)}},
			steps: [][]string{{"a/1"}, {"a/2"}, {"a/3"}},
		},
		{
			name:  "interleaved groups, heads oldest first",
			send:  [][]webhooks.Message{{msg("a", 1), msg("b", 1), msg("a", 2), msg("c", 1), msg("b", 2), msg("a", 3)}},
			steps: [][]string{{"a/1", "b/1", "c/1"}, {"a/2", "b/2"}, {"a/3"}},
		},
		{
			name:  "separate sends append to their groups",
			send:  [][]webhooks.Message{{msg("b", 1)}, {msg("a", 1), msg("b", 2)}, {msg("a", 2)}},
			steps: [][]string{{"b/1", "a/1"}, {"b/2", "a/2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := memqueue.New(newClock().Now)
			for _, s := range tt.send {
				if err := q.Send(context.Background(), s); err != nil {
					t.Fatal(err)
				}
			}
			r := &recorder{}
			for i, want := range tt.steps {
				before := len(r.attempts)
				if _, err := q.Step(context.Background(), r.handle); err != nil {
					t.Fatal(err)
				}
				if got := names(r.attempts[before:]); !slices.Equal(got, want) {
					t.Errorf("step %d took %v, want %v", i+1, got, want)
				}
			}
			if n, _ := q.Step(context.Background(), r.handle); n != 0 || q.Len() != 0 {
				t.Errorf("after the steps: a step took %d, %d left", n, q.Len())
			}
		})
	}
}

func TestAFailingHeadBlocksOnlyItsGroup(t *testing.T) {
	c := newClock()
	q := memqueue.New(c.Now)
	q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("b", 1), msg("a", 2), msg("b", 2), msg("b", 3)})
	retry := c.Now().Add(time.Hour)
	r := &recorder{fail: map[string]time.Time{"a": retry}}
	drain(t, q, r.handle)
	if got, want := r.delivered(), []string{"a/1", "b/1", "b/2", "b/3"}; !slices.Equal(got, want) {
		t.Fatalf("attempts %v, want %v: a's head fails, b goes on", got, want)
	}
	if q.Len() != 2 {
		t.Fatalf("%d queued, want a/1 and a/2", q.Len())
	}
	// a/1 recovers: a's group resumes in order once its hour has passed.
	delete(r.fail, "a")
	c.Add(time.Hour)
	drain(t, q, r.handle)
	if got, want := r.delivered()[4:], []string{"a/1", "a/2"}; !slices.Equal(got, want) {
		t.Errorf("after the retry: %v, want %v", got, want)
	}
}

func TestRetryAtIsHonouredExactly(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
	}{
		{"five seconds", 5 * time.Second},
		{"six hours", 6 * time.Hour},
		{"three days", 72 * time.Hour},
		{"in the past: at once", -time.Minute},
		{"zero RetryAt: at once", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			q := memqueue.New(c.Now)
			q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("a", 2)})
			got := q.Receive(0)
			if len(got) != 1 {
				t.Fatalf("received %v", names(got))
			}
			var retryAt time.Time
			if tt.delay != 0 {
				retryAt = c.Now().Add(tt.delay)
			}
			if err := q.Settle(got, []webhooks.Outcome{{RetryAt: retryAt}}); err != nil {
				t.Fatal(err)
			}
			if tt.delay > 0 {
				c.Add(tt.delay - time.Nanosecond)
				if again := q.Receive(0); len(again) != 0 {
					t.Fatalf("a nanosecond before RetryAt: received %v", names(again))
				}
				if next, ok := q.NextVisible(); !ok || !next.Equal(retryAt) {
					t.Errorf("NextVisible %v %v, want %v", next, ok, retryAt)
				}
				c.Add(time.Nanosecond)
			}
			again := q.Receive(0)
			if len(again) != 1 || name(again[0].Message) != "a/1" || again[0].Attempt != 2 {
				t.Fatalf("at RetryAt: received %v, want a/1 as its second attempt", again)
			}
		})
	}
}

func TestDedupWindow(t *testing.T) {
	replay := msg("a", 1)
	replay.Replay = "r1"
	tests := []struct {
		name   string
		after  time.Duration // between the two sends
		second webhooks.Message
		settle bool // the first is delivered before the second send
		want   int  // messages received in all
	}{
		{"the same message at once", 0, msg("a", 1), false, 1},
		{"the same message after it was delivered", time.Minute, msg("a", 1), true, 1},
		{"the same message a nanosecond inside the window", memqueue.DedupWindow - time.Nanosecond, msg("a", 1), true, 1},
		{"the same message once the window has passed", memqueue.DedupWindow, msg("a", 1), true, 2},
		{"a replay of it", 0, replay, false, 2},
		{"another version", 0, msg("a", 2), false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			q := memqueue.New(c.Now)
			r := &recorder{}
			q.Send(context.Background(), []webhooks.Message{msg("a", 1)})
			if tt.settle {
				drain(t, q, r.handle)
			}
			c.Add(tt.after)
			q.Send(context.Background(), []webhooks.Message{tt.second})
			drain(t, q, r.handle)
			if len(r.attempts) != tt.want {
				t.Errorf("received %v, want %d", r.delivered(), tt.want)
			}
		})
	}
	t.Run("duplicates within one send", func(t *testing.T) {
		q := memqueue.New(newClock().Now)
		q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("a", 1), replay, replay})
		if q.Len() != 2 {
			t.Errorf("%d queued, want 2", q.Len())
		}
	})
}

func TestAttemptAndFirst(t *testing.T) {
	c := newClock()
	start := c.Now()
	q := memqueue.New(c.Now)
	q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("a", 2)})
	c.Add(10 * time.Minute) // queued a while before the first receive
	steps := []struct {
		wait    time.Duration // before this receive
		want    string
		attempt int
		first   time.Duration // from start
		done    bool
	}{
		{0, "a/1", 1, 10 * time.Minute, false},
		{5 * time.Second, "a/1", 2, 10 * time.Minute, false},
		{time.Hour, "a/1", 3, 10 * time.Minute, true},
		{2 * time.Hour, "a/2", 1, 3*time.Hour + 10*time.Minute + 5*time.Second, false},
		{24 * time.Hour, "a/2", 2, 3*time.Hour + 10*time.Minute + 5*time.Second, true},
	}
	for i, s := range steps {
		c.Add(s.wait)
		got := q.Receive(0)
		if len(got) != 1 {
			t.Fatalf("step %d: received %v", i+1, names(got))
		}
		g := got[0]
		if name(g.Message) != s.want || g.Attempt != s.attempt || !g.First.Equal(start.Add(s.first)) {
			t.Errorf("step %d: %s attempt %d first %v, want %s attempt %d first %v",
				i+1, name(g.Message), g.Attempt, g.First.Sub(start), s.want, s.attempt, s.first)
		}
		out := webhooks.Outcome{Done: s.done}
		if !s.done {
			out.RetryAt = c.Now() // visible again at once; the next step waits anyway
		}
		if err := q.Settle(got, []webhooks.Outcome{out}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInFlightAndSettleErrors(t *testing.T) {
	q := memqueue.New(newClock().Now)
	q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("a", 2), msg("b", 1)})
	got := q.Receive(1)
	if len(got) != 1 || name(got[0].Message) != "a/1" {
		t.Fatalf("Receive(1): %v", names(got))
	}
	// While a/1 is in flight its group gives nothing; b still does.
	if again := q.Receive(0); !slices.Equal(names(again), []string{"b/1"}) {
		t.Fatalf("with a/1 in flight: %v, want [b/1]", names(again))
	}
	if err := q.Settle(got, nil); err == nil {
		t.Error("Settle with no outcomes: no error")
	}
	if err := q.Settle(got, []webhooks.Outcome{{Done: true}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Settle(got, []webhooks.Outcome{{Done: true}}); !errors.Is(err, memqueue.ErrNotInFlight) {
		t.Errorf("settled twice: %v, want ErrNotInFlight", err)
	}
	never := []webhooks.Received{{Message: msg("a", 2)}}
	if err := q.Settle(never, []webhooks.Outcome{{Done: true}}); !errors.Is(err, memqueue.ErrNotInFlight) {
		t.Errorf("never received: %v, want ErrNotInFlight", err)
	}
	if q.Len() != 2 {
		t.Errorf("%d queued, want a/2 and b/1", q.Len())
	}
}

func TestConcurrentSendsLoseNothing(t *testing.T) {
	c := newClock()
	q := memqueue.New(c.Now)
	const senders, each = 50, 20
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	stepped := make(chan struct{})
	// A consumer steps while the senders send.
	go func() {
		defer close(stepped)
		for ctx.Err() == nil {
			if _, err := q.Step(ctx, r.handle); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for v := range each {
				// Sender s owns group p<s>; half its sends repeat the last.
				q.Send(context.Background(), []webhooks.Message{msg(fmt.Sprintf("p%d", s), int64(v)), msg(fmt.Sprintf("p%d", s), int64(v))})
			}
		})
	}
	wg.Wait()
	cancel()
	<-stepped
	drain(t, q, r.handle)
	got := map[string][]int64{}
	for _, a := range r.attempts {
		got[a.Message.Event.ID] = append(got[a.Message.Event.ID], a.Message.Event.Version)
	}
	if len(got) != senders {
		t.Fatalf("%d groups delivered, want %d", len(got), senders)
	}
	var want []int64
	for v := range each {
		want = append(want, int64(v))
	}
	for p, vs := range got {
		if !slices.Equal(vs, want) {
			t.Errorf("group %s: delivered %v, want 0 to %d once each, in order", p, vs, each-1)
		}
	}
}

func TestRunDeliversSoonAfterSend(t *testing.T) {
	q := memqueue.New(time.Now)
	ctx, cancel := context.WithCancel(context.Background())
	delivered := make(chan webhooks.Received, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx, func(_ context.Context, rs []webhooks.Received) []webhooks.Outcome {
			out := make([]webhooks.Outcome, len(rs))
			for i, r := range rs {
				delivered <- r
				if r.Attempt == 1 && r.Message.Event.ID == "retry" {
					out[i] = webhooks.Outcome{RetryAt: time.Now().Add(50 * time.Millisecond)}
					continue
				}
				out[i] = webhooks.Outcome{Done: true}
			}
			return out
		}, 10*time.Second, func(err error) { t.Error(err) })
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(20 * time.Millisecond) // Run is waiting, idle
	sent := time.Now()
	q.Send(ctx, []webhooks.Message{msg("a", 1)})
	select {
	case <-delivered:
		if d := time.Since(sent); d > 100*time.Millisecond {
			t.Errorf("delivered %v after the send", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("not delivered")
	}
	// A retry is taken again when its RetryAt comes, not at maxWait.
	q.Send(ctx, []webhooks.Message{msg("retry", 1)})
	for attempt := 1; attempt <= 2; attempt++ {
		select {
		case r := <-delivered:
			if r.Attempt != attempt {
				t.Errorf("attempt %d, want %d", r.Attempt, attempt)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("attempt %d not delivered", attempt)
		}
	}
}
