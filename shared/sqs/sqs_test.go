package sqs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sqs"
	"github.com/idadmin/api/shared/webhooks"
)

// These tests run against moto_server (5.2), which keeps a FIFO queue's
// groups, order, visibility changes and redrive policy as SQS does. Where
// it differs, and what is not tested here:
//
//   - moto de-duplicates only against messages still in the queue: the same
//     message sent again after the first was deleted, within SQS's five
//     minutes, is queued again by moto and dropped by SQS. The tests send
//     duplicates while the first is queued.
//   - moto counts the 12-hour visibility limit from the message's send, SQS
//     from its receive; MaxVisibility is checked on a message sent just
//     before.
//   - Lambda's event source mapping is not run: the tests receive with
//     ReceiveMessage, build the event Lambda would, and delete what the
//     answer does not list, as Lambda does. How Lambda reads the answer is
//     its documentation's (see Settle).
//   - A per-entry failure of SendMessageBatch cannot be caused in moto: it
//     is faked in the client.
func TestMain(m *testing.M) { mototest.Main(m) }

// queueSeq gives every test a queue of its own on the shared moto_server.
var queueSeq atomic.Int64

// sentCalls records the groups of each SendMessageBatch call's entries.
type sentCalls struct {
	calls [][]string
}

// newQueue creates a FIFO queue on moto_server, de-duplicated on the ids
// Send gives (ContentBasedDeduplication off), with its client recording
// the SendMessageBatch calls in calls when it is not nil.
func newQueue(t *testing.T, calls *sentCalls) *sqs.Queue {
	t.Helper()
	return newQueueWith(t, calls, nil)
}

// newQueueWith is newQueue with more queue attributes.
func newQueueWith(t *testing.T, calls *sentCalls, attrs map[string]string) *sqs.Queue {
	t.Helper()
	endpoint := mototest.Start(t)
	client := sqs.NewClient("eu-west-1", endpoint, nil)
	if calls != nil {
		client = awssqs.New(client.Options(), func(o *awssqs.Options) {
			o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
				return s.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if b, ok := in.Parameters.(*awssqs.SendMessageBatchInput); ok {
						var groups []string
						for _, e := range b.Entries {
							groups = append(groups, aws.ToString(e.MessageGroupId))
						}
						calls.calls = append(calls.calls, groups)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.After)
			})
		})
	}
	name := fmt.Sprintf("webhooks-%d-%d.fifo", time.Now().UnixNano()%1e6, queueSeq.Add(1))
	all := map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": "60"}
	for k, v := range attrs {
		all[k] = v
	}
	out, err := client.CreateQueue(context.Background(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: all})
	if err != nil {
		t.Fatal(err)
	}
	return &sqs.Queue{Client: client, URL: aws.ToString(out.QueueUrl)}
}

// msg is version v of process p's event to endpoint "ep".
func msg(p string, v int64) webhooks.Message {
	return webhooks.Message{OrgID: "acme", EndpointID: "ep", Event: identification.Event{
		DetailType: "identification.updated", OrgID: "acme", ID: p, Type: "EMAIL", Version: v,
		At: time.Date(2026, 12, 1, 8, 0, 0, int(v), time.UTC),
	}}
}

func name(m webhooks.Message) string { return fmt.Sprintf("%s/%d", m.Event.ID, m.Event.Version) }

// receive makes one ReceiveMessage call for up to 10 messages and returns
// them as Lambda's event holds them.
func receive(t *testing.T, q *sqs.Queue) events.SQSEvent {
	t.Helper()
	out, err := q.Client.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	for _, m := range out.Messages {
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
			Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs",
		})
	}
	return ev
}

// names decodes ev's bodies into "p/v" names.
func names(t *testing.T, ev events.SQSEvent) []string {
	t.Helper()
	var out []string
	for _, r := range ev.Records {
		m, err := webhooks.DecodeMessage([]byte(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, name(m))
	}
	return out
}

// deleteAll deletes ev's records, as Lambda does with those not listed.
func deleteAll(t *testing.T, q *sqs.Queue, ev events.SQSEvent) {
	t.Helper()
	for _, r := range ev.Records {
		if _, err := q.Client.DeleteMessage(context.Background(), &awssqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(r.ReceiptHandle)}); err != nil {
			t.Fatal(err)
		}
	}
}

// drain receives and deletes until a receive gives nothing, and returns
// what it received, in order.
func drain(t *testing.T, q *sqs.Queue) []string {
	t.Helper()
	var got []string
	for range 100 {
		ev := receive(t, q)
		if len(ev.Records) == 0 {
			return got
		}
		got = append(got, names(t, ev)...)
		deleteAll(t, q, ev)
	}
	t.Fatal("the queue never drained")
	return nil
}

// TestSendKeepsEachGroupsOrder sends 25 messages across 3 groups in one
// Send: each call holds at most 10 entries and one message of a group, and
// every group is received whole, in order.
func TestSendKeepsEachGroupsOrder(t *testing.T) {
	t.Parallel()
	calls := &sentCalls{}
	q := newQueue(t, calls)
	var msgs []webhooks.Message
	want := map[string][]string{}
	for i := range 25 {
		p := []string{"a", "b", "c"}[i%3]
		v := int64(i/3 + 1)
		msgs = append(msgs, msg(p, v))
		want[p] = append(want[p], fmt.Sprintf("%s/%d", p, v))
	}
	if err := q.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if len(calls.calls) != 9 {
		t.Errorf("%d calls, want 9 (a has 9 messages)", len(calls.calls))
	}
	for i, c := range calls.calls {
		if len(c) > sqs.MaxBatch || len(slices.Compact(slices.Sorted(slices.Values(c)))) != len(c) {
			t.Errorf("call %d: groups %v: more than one message of a group", i+1, c)
		}
	}
	got := map[string][]string{}
	for _, n := range drain(t, q) {
		p := n[:1]
		got[p] = append(got[p], n)
	}
	for p := range want {
		if !slices.Equal(got[p], want[p]) {
			t.Errorf("group %s: received %v, want %v", p, got[p], want[p])
		}
	}
}

// TestSendDeDuplicates: the same message sent twice (a stream record
// handled again) is received once; its replay is received again.
func TestSendDeDuplicates(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	ctx := context.Background()
	replay := msg("a", 1)
	replay.Replay = "0193a000-0000-7000-8000-00000000000f"
	for _, batch := range [][]webhooks.Message{{msg("a", 1), msg("a", 2)}, {msg("a", 1), msg("a", 2)}, {replay}} {
		if err := q.Send(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := drain(t, q), []string{"a/1", "a/2", "a/1"}; !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

// TestLongGroupAndDedupIDsAreHashed: an organisation of 64 characters and
// UUID ids make a group of 138 characters, and a replay id may hold any
// character: SQS would refuse both as they are.
func TestLongGroupAndDedupIDsAreHashed(t *testing.T) {
	t.Parallel()
	m := msg("0193a000-0000-7000-8000-000000000001", 1)
	m.OrgID = strings.Repeat("o", 64)
	m.EndpointID = "0193a000-0000-7000-8000-0000000000e1"
	m.Replay = "réplay #1"
	if len(m.Group()) <= 128 {
		t.Fatalf("group %q is short", m.Group())
	}
	for _, id := range []string{sqs.GroupID(m), sqs.DedupID(m)} {
		if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Errorf("id %q: want a hex SHA-256", id)
		}
	}
	short := msg("p", 1)
	if sqs.GroupID(short) != short.Group() || sqs.DedupID(short) != short.Dedup() {
		t.Errorf("ids %q %q: want the group and dedup as they are", sqs.GroupID(short), sqs.DedupID(short))
	}
	q := newQueue(t, nil)
	if err := q.Send(context.Background(), []webhooks.Message{m}); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, q)
	if len(ev.Records) != 1 || ev.Records[0].Attributes["MessageGroupId"] != sqs.GroupID(m) {
		t.Fatalf("received %+v", ev.Records)
	}
	b := sqs.ReadEvent(ev, time.Now())
	if len(b.Received) != 1 || b.Received[0].Message.Replay != m.Replay || b.Received[0].Message.Group() != m.Group() {
		t.Errorf("read %+v", b.Received)
	}
}

// TestReadEvent reads Attempt and First from the record's attributes.
func TestReadEvent(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	if err := q.Send(context.Background(), []webhooks.Message{msg("a", 1)}); err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	ev := receive(t, q)
	after := time.Now().Add(time.Second)
	b := sqs.ReadEvent(ev, time.Time{})
	if len(b.Received) != 1 || len(b.Poisoned()) != 0 {
		t.Fatalf("read %+v", b)
	}
	r := b.Received[0]
	if name(r.Message) != "a/1" || r.Attempt != 1 || r.First.Before(before) || r.First.After(after) {
		t.Errorf("received %s attempt %d first %v, want a/1 attempt 1 first between %v and %v", name(r.Message), r.Attempt, r.First, before, after)
	}
	// Received again (its visibility ended): the second attempt, first
	// received as before.
	if _, err := q.Client.ChangeMessageVisibility(context.Background(), &awssqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(ev.Records[0].ReceiptHandle)}); err != nil {
		t.Fatal(err)
	}
	again := sqs.ReadEvent(receive(t, q), time.Time{})
	if len(again.Received) != 1 || again.Received[0].Attempt != 2 || !again.Received[0].First.Equal(r.First) {
		t.Errorf("again: %+v, want attempt 2 first %v", again.Received, r.First)
	}
	// Without the attributes (never from Lambda): attempt 1, first now.
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	ev.Records[0].Attributes = nil
	if r := sqs.ReadEvent(ev, now).Received[0]; r.Attempt != 1 || !r.First.Equal(now) {
		t.Errorf("without attributes: attempt %d first %v", r.Attempt, r.First)
	}
}

func failures(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func ids(ev events.SQSEvent, idx ...int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, ev.Records[i].MessageId)
	}
	return out
}

// idsOf are the ids of ev's records named ns, in ev's order.
func idsOf(t *testing.T, ev events.SQSEvent, ns ...string) []string {
	t.Helper()
	var out []string
	for i, n := range names(t, ev) {
		if slices.Contains(ns, n) {
			out = append(out, ev.Records[i].MessageId)
		}
	}
	return out
}

// outcomesOf are b.Received's outcomes, by name (absent: the zero one).
func outcomesOf(b *sqs.Batch, by map[string]webhooks.Outcome) []webhooks.Outcome {
	out := make([]webhooks.Outcome, len(b.Received))
	for i, r := range b.Received {
		out[i] = by[name(r.Message)]
	}
	return out
}

// without are ev's records but those named ns.
func without(t *testing.T, ev events.SQSEvent, ns ...string) events.SQSEvent {
	t.Helper()
	var out events.SQSEvent
	for i, n := range names(t, ev) {
		if !slices.Contains(ns, n) {
			out.Records = append(out.Records, ev.Records[i])
		}
	}
	return out
}

// TestSettleHidesAFailureAndHoldsItsGroup: a1 fails (retry in 2 s), a2
// behind it is not attempted, b1 is delivered. The answer lists a1 and a2;
// until a1's RetryAt nothing of a's group is received, then a1 comes
// before a2.
func TestSettleHidesAFailureAndHoldsItsGroup(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	ctx := context.Background()
	if err := q.Send(ctx, []webhooks.Message{msg("a", 1), msg("a", 2), msg("b", 1), msg("b", 2)}); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, q)
	// Send's rounds: a1 b1, then a2 b2.
	if got, want := names(t, ev), []string{"a/1", "b/1", "a/2", "b/2"}; !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v", got, want)
	}
	now := time.Now()
	b := sqs.ReadEvent(ev, now)
	outcomes := outcomesOf(b, map[string]webhooks.Outcome{"a/1": {RetryAt: now.Add(1500 * time.Millisecond)}, "b/1": {Done: true}, "b/2": {Done: true}})
	resp, err := q.Settle(ctx, b, outcomes, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := failures(resp), idsOf(t, ev, "a/1", "a/2"); !slices.Equal(got, want) {
		t.Fatalf("failures %v, want a/1 and a/2 %v", got, want)
	}
	deleteAll(t, q, without(t, ev, "a/1", "a/2")) // Lambda deletes the rest
	// At once: a1 is hidden and holds its group, a2 (visible again) waits
	// behind it.
	if again := receive(t, q); len(again.Records) != 0 {
		t.Fatalf("at once: received %v, want nothing", names(t, again))
	}
	time.Sleep(2500 * time.Millisecond) // ceil(1.5 s) = 2 s
	// a2 comes too: Settle made it visible at once. Had it stayed in
	// flight for the queue's 60 s, it would hold the group (moto_server,
	// like SQS, returns no message of a group with one in flight) and a1
	// would wait for it past its RetryAt.
	again := receive(t, q)
	if got, want := names(t, again), []string{"a/1", "a/2"}; !slices.Equal(got, want) {
		t.Fatalf("after RetryAt: received %v, want %v", got, want)
	}
	if r := sqs.ReadEvent(again, time.Now()).Received; r[0].Attempt != 2 || r[1].Attempt != 2 {
		t.Errorf("attempts %d %d: want 2 2 (a2 rode along behind a1 the first time)", r[0].Attempt, r[1].Attempt)
	}
	deleteAll(t, q, again)
}

// TestSettleCapsTheVisibility: a RetryAt three days on hides the message
// for MaxVisibility, which SQS takes.
func TestSettleCapsTheVisibility(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	ctx := context.Background()
	if err := q.Send(ctx, []webhooks.Message{msg("a", 1)}); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, q)
	now := time.Now()
	resp, err := q.Settle(ctx, sqs.ReadEvent(ev, now), []webhooks.Outcome{{RetryAt: now.Add(72 * time.Hour)}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures %v", resp.BatchItemFailures)
	}
	if again := receive(t, q); len(again.Records) != 0 {
		t.Errorf("received %v, want nothing", names(t, again))
	}
}

// TestPoisonGoesToTheDeadLetterQueueWithItsRiders: a poison record,
// listed with its visibility untouched, comes again after the queue's
// visibility timeout, and after maxReceiveCount receives the redrive
// policy moves it to the dead-letter queue. The message behind it in its
// group, received in the same batches though never attempted, has the
// same receive count and goes to the dead-letter queue with it: SQS (and
// moto_server) count every receive, and Lambda takes a group's messages
// in one batch. The sqs package's documentation says what follows for the
// event source mapping.
func TestPoisonGoesToTheDeadLetterQueueWithItsRiders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dlq := newQueue(t, nil)
	attrs, err := dlq.Client.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq.URL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	q := newQueueWith(t, nil, map[string]string{"VisibilityTimeout": "1",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + attrs.Attributes["QueueArn"] + `","maxReceiveCount":"2"}`})
	if _, err := q.Client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("not json"),
		MessageGroupId: aws.String(sqs.GroupID(msg("a", 1))), MessageDeduplicationId: aws.String("poison")}); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []webhooks.Message{msg("a", 1), msg("b", 1)}); err != nil {
		t.Fatal(err)
	}
	for receive := 1; receive <= 2; receive++ {
		ev := receiveWait(t, q, 3)
		b := sqs.ReadEvent(ev, time.Now())
		if receive == 1 && (len(ev.Records) != 3 || len(b.Received) != 1) || receive == 2 && (len(ev.Records) != 2 || len(b.Received) != 0) || len(b.Poisoned()) != 1 {
			t.Fatalf("receive %d: %d records, %d poisoned, %d received", receive, len(ev.Records), len(b.Poisoned()), len(b.Received))
		}
		resp, err := q.Settle(ctx, b, outcomesOf(b, map[string]webhooks.Outcome{"b/1": {Done: true}}), time.Now())
		if err != nil || len(resp.BatchItemFailures) != 2 {
			t.Fatalf("receive %d: %v, failures %v", receive, err, resp.BatchItemFailures)
		}
		if receive == 1 {
			deleteAll(t, q, without(t, events.SQSEvent{Records: ev.Records[1:]}, "a/1"))
		}
	}
	time.Sleep(1500 * time.Millisecond)
	if ev := receive(t, q); len(ev.Records) != 0 {
		t.Fatalf("after the poison's second receive: %d records, want none", len(ev.Records))
	}
	dead := receive(t, dlq)
	if len(dead.Records) != 2 || dead.Records[0].Body != "not json" || names(t, events.SQSEvent{Records: dead.Records[1:]})[0] != "a/1" {
		t.Errorf("dead-letter queue: %d records, want the poison and a/1", len(dead.Records))
	}
}

// receiveWait is receive with a long poll of up to wait seconds.
func receiveWait(t *testing.T, q *sqs.Queue, wait int32) events.SQSEvent {
	t.Helper()
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		ev := receive(t, q)
		if len(ev.Records) > 0 || time.Now().After(deadline) {
			return ev
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSettlePoison: a record that does not decode is listed with its
// visibility untouched, and so is the record behind it in its group, which
// is not handed to the sender; another group goes on.
func TestSettlePoison(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	ctx := context.Background()
	// The poison message is sent as it is, not through Send.
	if _, err := q.Client.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(`{"org":"acme"}`),
		MessageGroupId: aws.String(sqs.GroupID(msg("a", 1))), MessageDeduplicationId: aws.String("poison")}); err != nil {
		t.Fatal(err)
	}
	if err := q.Send(ctx, []webhooks.Message{msg("a", 1), msg("b", 1)}); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, q)
	if len(ev.Records) != 3 {
		t.Fatalf("received %d records", len(ev.Records))
	}
	now := time.Now()
	b := sqs.ReadEvent(ev, now)
	if len(b.Received) != 1 || name(b.Received[0].Message) != "b/1" || !slices.Equal(b.Poisoned(), ids(ev, 0)) {
		t.Fatalf("received %+v, poisoned %v", b.Received, b.Poisoned())
	}
	resp, err := q.Settle(ctx, b, []webhooks.Outcome{{Done: true}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := failures(resp), ids(ev, 0, 1); !slices.Equal(got, want) {
		t.Fatalf("failures %v, want %v", got, want)
	}
	deleteAll(t, q, events.SQSEvent{Records: ev.Records[2:]})
	// The poison record keeps the visibility of its receive (60 s): its
	// group gives nothing.
	if again := receive(t, q); len(again.Records) != 0 {
		t.Errorf("received %d records, want none", len(again.Records))
	}
}

// TestSettleChecksGroupOrder: an outcome behind a failure in its group is
// an error, and the record is listed all the same. Outcomes of the wrong
// length list every record.
func TestSettleChecksGroupOrder(t *testing.T) {
	t.Parallel()
	q := newQueue(t, nil)
	ctx := context.Background()
	if err := q.Send(ctx, []webhooks.Message{msg("a", 1), msg("a", 2), msg("a", 3), msg("b", 1)}); err != nil {
		t.Fatal(err)
	}
	ev := receive(t, q)
	if len(ev.Records) != 4 {
		t.Fatalf("received %v", names(t, ev))
	}
	now := time.Now()
	b := sqs.ReadEvent(ev, now)
	resp, err := q.Settle(ctx, b, outcomesOf(b, map[string]webhooks.Outcome{"a/1": {Done: true}, "a/2": {RetryAt: now.Add(time.Second)}, "a/3": {Done: true}, "b/1": {Done: true}}), now)
	if !errors.Is(err, sqs.ErrGroupOrder) {
		t.Errorf("error %v, want ErrGroupOrder", err)
	}
	if got, want := failures(resp), idsOf(t, ev, "a/2", "a/3"); !slices.Equal(got, want) {
		t.Errorf("failures %v, want a/2 and a/3 %v", got, want)
	}
	resp, err = q.Settle(ctx, b, []webhooks.Outcome{{Done: true}}, now)
	if err == nil || len(resp.BatchItemFailures) != 4 {
		t.Errorf("one outcome for four: %v, failures %v", err, failures(resp))
	}
}

// TestSendStopsAtAPartialFailure: SQS refuses an entry of the second
// round (faked in the client); Send reports it and sends no later round,
// so no message of that group is queued behind the one refused.
func TestSendStopsAtAPartialFailure(t *testing.T) {
	t.Parallel()
	var calls [][]string
	client := sqs.NewClient("eu-west-1", "http://127.0.0.1:9", nil)
	client = awssqs.New(client.Options(), func(o *awssqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("fake", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				b := in.Parameters.(*awssqs.SendMessageBatchInput)
				var names []string
				for _, e := range b.Entries {
					m, err := webhooks.DecodeMessage([]byte(aws.ToString(e.MessageBody)))
					if err != nil {
						t.Error(err)
					}
					names = append(names, name(m))
				}
				calls = append(calls, names)
				out := &awssqs.SendMessageBatchOutput{}
				if len(calls) == 2 {
					out.Failed = []types.BatchResultErrorEntry{{Id: b.Entries[0].Id, Code: aws.String("InternalError"), SenderFault: false}}
				}
				return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, nil
			}), middleware.Before)
		})
	})
	q := &sqs.Queue{Client: client, URL: "http://127.0.0.1:9/000000000000/q.fifo"}
	err := q.Send(context.Background(), []webhooks.Message{msg("a", 1), msg("a", 2), msg("b", 1), msg("a", 3)})
	if err == nil || !strings.Contains(err.Error(), "1 of the 1 messages") || !strings.Contains(err.Error(), "InternalError") {
		t.Errorf("error %v", err)
	}
	if want := [][]string{{"a/1", "b/1"}, {"a/2"}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("calls %v, want %v", calls, want)
	}
}
