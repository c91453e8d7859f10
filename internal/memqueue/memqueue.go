// Package memqueue is an in-process FIFO queue of webhook messages
// (webhooks.Queue) for the dev server and tests, with the semantics the
// sender relies on in an Amazon SQS FIFO queue (the sqs package):
//
//   - Messages are grouped by webhooks.Message.Group. A group's messages are
//     taken one at a time, in the order sent: only a group's head is ever
//     taken, and only while it is visible (not in flight, not hidden until
//     a later time). Groups are independent of one another.
//   - A taken message is in flight until it is settled with its
//     webhooks.Outcome: Done removes it (the group's next message becomes
//     the head, visible at once); otherwise it is hidden until RetryAt (a
//     zero or past RetryAt: visible at once) and its group waits for it.
//   - A message whose Dedup was sent within DedupWindow before, by the
//     queue's clock, is dropped, like SQS's five-minute de-duplication
//     interval: whether or not the first one is still queued.
//   - Received.Attempt counts the receives of that message (1 the first
//     time) and Received.First is the time of its first receive.
//
// Unlike SQS it takes at most one message per group per Receive, so a
// message is received only when it is its group's head, and its Attempt
// and First are never inflated by being carried in a batch behind a
// failing group mate (see the sqs package). There is no visibility
// timeout: a message taken and never settled holds its group for good.
//
// Time is the injected clock's: tests move it by days without sleeping and
// drive the queue with Step; the dev server runs Run on the wall clock.
package memqueue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/idadmin/api/shared/webhooks"
)

// DedupWindow is how long a de-duplication id keeps a later message with
// the same id out of the queue (SQS's de-duplication interval).
const DedupWindow = 5 * time.Minute

// entry is one queued message.
type entry struct {
	msg webhooks.Message
	// seq is the message's place in the order of all sends.
	seq      uint64
	receives int
	first    time.Time
	inFlight bool
	// hiddenUntil is when a message retried becomes visible again.
	hiddenUntil time.Time
}

// Queue is an in-process FIFO queue. The zero value is not usable: call New.
type Queue struct {
	clock func() time.Time

	mu sync.Mutex
	// groups holds each group's messages, head first; a group with none is
	// removed.
	groups map[string][]*entry
	// sent is when each de-duplication id was last accepted.
	sent map[string]time.Time
	seq  uint64
	// wake has a token when something may have become visible (a Send, a
	// settled message): Run waits on it.
	wake chan struct{}
}

var _ webhooks.Queue = (*Queue)(nil)

// New returns an empty queue on clock (time.Now for the dev server).
func New(clock func() time.Time) *Queue {
	return &Queue{clock: clock, groups: map[string][]*entry{}, sent: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// Send queues msgs, in order, each at the end of its group, dropping those
// whose Dedup was accepted within DedupWindow (by the clock) before. It
// never fails; it is safe for concurrent use.
func (q *Queue) Send(_ context.Context, msgs []webhooks.Message) error {
	q.mu.Lock()
	now := q.clock()
	for id, at := range q.sent {
		if now.Sub(at) >= DedupWindow {
			delete(q.sent, id)
		}
	}
	added := false
	for _, m := range msgs {
		id := m.Dedup()
		if at, ok := q.sent[id]; ok && now.Sub(at) < DedupWindow {
			continue
		}
		q.sent[id] = now
		q.seq++
		g := m.Group()
		q.groups[g] = append(q.groups[g], &entry{msg: m, seq: q.seq})
		added = true
	}
	q.mu.Unlock()
	if added {
		q.signal()
	}
	return nil
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// visible reports whether e, a group's head, may be taken at now.
func visible(e *entry, now time.Time) bool {
	return !e.inFlight && !now.Before(e.hiddenUntil)
}

// Receive takes up to max messages (max <= 0: no limit): of each group its
// head, if visible now, oldest sent first. Each is in flight until Settle.
func (q *Queue) Receive(max int) []webhooks.Received {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock()
	var heads []*entry
	for _, es := range q.groups {
		if visible(es[0], now) {
			heads = append(heads, es[0])
		}
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].seq < heads[j].seq })
	if max > 0 && len(heads) > max {
		heads = heads[:max]
	}
	out := make([]webhooks.Received, len(heads))
	for i, e := range heads {
		e.inFlight = true
		e.receives++
		if e.receives == 1 {
			e.first = now
		}
		out[i] = webhooks.Received{Message: e.msg, Attempt: e.receives, First: e.first}
	}
	return out
}

// ErrNotInFlight is Settle's error for a message that is not in flight: not
// received, or settled already.
var ErrNotInFlight = errors.New("memqueue: message not in flight")

// Settle ends the flight of messages Receive returned, outcomes[i] being
// received[i]'s: Done removes it, otherwise it is hidden until RetryAt and
// its group waits. It settles what it can and returns an error for the
// rest (a length mismatch, a message not in flight).
func (q *Queue) Settle(received []webhooks.Received, outcomes []webhooks.Outcome) error {
	if len(received) != len(outcomes) {
		return fmt.Errorf("memqueue: %d outcomes for %d messages", len(outcomes), len(received))
	}
	var errs []error
	q.mu.Lock()
	for i, r := range received {
		g := r.Message.Group()
		es := q.groups[g]
		// Only a group's head is ever taken: it is the one in flight.
		if len(es) == 0 || !es[0].inFlight || es[0].msg.Dedup() != r.Message.Dedup() {
			errs = append(errs, fmt.Errorf("%w: %s in group %s", ErrNotInFlight, r.Message.Dedup(), g))
			continue
		}
		head := es[0]
		head.inFlight = false
		if outcomes[i].Done {
			es[0] = nil
			if len(es) == 1 {
				delete(q.groups, g)
			} else {
				q.groups[g] = es[1:]
			}
			continue
		}
		head.hiddenUntil = outcomes[i].RetryAt
	}
	q.mu.Unlock()
	q.signal()
	return errors.Join(errs...)
}

// Len is how many messages are queued, in flight or not.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, es := range q.groups {
		n += len(es)
	}
	return n
}

// NextVisible is the earliest time a head not in flight becomes visible
// (possibly in the past: one is visible now), and false when there is none
// (the queue is empty or every head is in flight).
func (q *Queue) NextVisible() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	found := false
	for _, es := range q.groups {
		if h := es[0]; !h.inFlight && (!found || h.hiddenUntil.Before(next)) {
			next, found = h.hiddenUntil, true
		}
	}
	return next, found
}

// Handler delivers received messages and says what became of each:
// outcomes[i] is received[i]'s.
type Handler func(ctx context.Context, received []webhooks.Received) []webhooks.Outcome

// Step hands handle every message visible now (each visible group's head)
// in one call, settles them with its outcomes, and returns how many it
// handled. A Done head makes its group's next message visible at once, for
// the next Step: one Step takes at most one message per group.
func (q *Queue) Step(ctx context.Context, handle Handler) (int, error) {
	received := q.Receive(0)
	if len(received) == 0 {
		return 0, nil
	}
	return len(received), q.Settle(received, handle(ctx, received))
}

// Run steps until ctx ends: at once after a Step that handled something,
// otherwise when a Send or Settle signals or when the next hidden message
// becomes visible by the clock, whichever comes first (so a message sent
// to an idle queue is handled at once, not at a poll). maxWait bounds a
// wait (a clock other than the wall clock moves without Run knowing);
// zero means a second. A Settle error (a handler's outcomes of the wrong
// length) goes to onErr when it is not nil.
func (q *Queue) Run(ctx context.Context, handle Handler, maxWait time.Duration, onErr func(error)) {
	if maxWait <= 0 {
		maxWait = time.Second
	}
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	for ctx.Err() == nil {
		n, err := q.Step(ctx, handle)
		if err != nil && onErr != nil {
			onErr(err)
		}
		if n > 0 {
			continue
		}
		wait := maxWait
		if next, ok := q.NextVisible(); ok {
			wait = min(wait, max(next.Sub(q.clock()), 0))
		}
		if wait == 0 {
			// A head is visible but Step took nothing: it was taken in
			// between; look again.
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-timer.C:
		}
	}
}
