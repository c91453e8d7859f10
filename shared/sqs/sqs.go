// Package sqs queues webhook messages (webhooks.Message) in an Amazon SQS
// FIFO queue, and is the webhook sender Lambda function's side of that
// queue: it reads the function's SQS event (ReadEvent) and settles what
// the sender did with each message (Queue.Settle).
//
// A message's group is its webhooks.Message.Group and its de-duplication
// id its webhooks.Message.Dedup, both as SQS takes them (GroupID, DedupID):
// the queue has ContentBasedDeduplication off.
//
// Lambda takes several messages of a group in one batch (SQS returns a
// group's messages together), and SQS counts a receive for each of them,
// attempted or not. So a message that rides in batches behind a failing
// group mate, though never attempted (Settle lists it), has its
// ApproximateReceiveCount and ApproximateFirstReceiveTimestamp moved by
// every receive of the one ahead: its Received.Attempt and First are
// overstated (First may be days old at its first attempt, and
// webhooks.NextAttempt then gives it up early), and it reaches the
// redrive policy's maxReceiveCount with the message ahead: behind a
// poison message, it goes to the dead-letter queue with it. The event
// source mapping should therefore take batches of one message (BatchSize
// 1: only a group's head is received, as in the memqueue package), or the
// sender must not rely on Attempt and First (count attempts in its
// deliveries log instead) and maxReceiveCount must be far above the
// receives a group can see while a delivery is retried (about 20 in
// webhooks.GiveUpAfter) times the messages it may hold.
package sqs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/idadmin/api/shared/webhooks"
)

// MaxBatch is the most entries one SendMessageBatch or
// ChangeMessageVisibilityBatch call takes.
const MaxBatch = 10

// MaxVisibility is the longest Settle hides a message for: SQS refuses a
// visibility timeout that ends more than 12 hours after the message was
// received, and a Lambda function runs at most 15 minutes after it was.
const MaxVisibility = 12*time.Hour - 15*time.Minute

// NewClient creates an SQS client for region, signing with creds (the
// function's own, which the composition root, shared/app, read once). Like
// the DynamoDB client it builds aws.Config by hand instead of loading the
// shared config files. With endpoint set (a local emulator) it calls that
// endpoint; nil creds are placeholder ones, for such an emulator.
func NewClient(region, endpoint string, creds aws.CredentialsProvider) *sqs.Client {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Queue is one FIFO queue (webhooks.Queue), by its URL.
type Queue struct {
	Client *sqs.Client
	URL    string
}

var _ webhooks.Queue = (*Queue)(nil)

// maxID is the longest MessageGroupId or MessageDeduplicationId SQS takes.
const maxID = 128

// sqsID is s as SQS takes it for a group or de-duplication id: s itself
// when it is 1 to 128 of the characters SQS allows (alphanumerics and
// punctuation), otherwise the hexadecimal SHA-256 of s (64 characters).
// The two never meet: a hash has no punctuation, while every Group holds a
// "/" and every Dedup a "_".
func sqsID(s string) string {
	if s != "" && len(s) <= maxID && strings.IndexFunc(s, func(r rune) bool { return !allowed(r) }) < 0 {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// allowed reports whether SQS takes r in a group or de-duplication id:
// a-z, A-Z, 0-9 and !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
func allowed(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r))
}

// GroupID is m's MessageGroupId: m.Group(), hashed when SQS would refuse it
// (an organisation of 64 characters and two UUIDs make 138).
func GroupID(m webhooks.Message) string { return sqsID(m.Group()) }

// DedupID is m's MessageDeduplicationId: m.Dedup(), hashed when SQS would
// refuse it (a replay's id is the caller's).
func DedupID(m webhooks.Message) string { return sqsID(m.Dedup()) }

// Send queues msgs with SendMessageBatch, each group's messages in the
// order given.
//
// A call holds at most MaxBatch entries and at most one message of a
// group: the n-th message of every group goes in the n-th round of calls,
// and a round is sent only when the one before was wholly accepted. SQS
// reports each entry of a batch on its own and does not say that a failed
// entry stops the later ones of its group, so with two messages of a group
// in one call the first could fail and the second be queued: the retry
// would then queue the first behind it. Rounds keep that from happening,
// at the cost of as many calls as the largest group has messages.
//
// Send stops at the first call that fails or that SQS accepts only in part
// (entries in Failed), and returns an error naming how many failed; the
// later rounds are not sent. It does not retry: that is the caller's (the
// stream record fails and is retried), and the retry sends everything
// again: what was queued already is dropped by SQS's de-duplication on
// DedupID within its five-minute interval (a retry later than that queues
// it twice: the receiver sees the same webhook-id twice).
func (q *Queue) Send(ctx context.Context, msgs []webhooks.Message) error {
	var rounds [][]types.SendMessageBatchRequestEntry
	seen := map[string]int{}
	for i, m := range msgs {
		body, err := webhooks.EncodeMessage(m)
		if err != nil {
			return fmt.Errorf("sqs: encode message %d of %d: %w", i+1, len(msgs), err)
		}
		g := GroupID(m)
		r := seen[g]
		seen[g]++
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], types.SendMessageBatchRequestEntry{
			Id:                     aws.String(strconv.Itoa(i)),
			MessageBody:            aws.String(string(body)),
			MessageGroupId:         aws.String(g),
			MessageDeduplicationId: aws.String(DedupID(m)),
		})
	}
	for r, entries := range rounds {
		for start := 0; start < len(entries); start += MaxBatch {
			call := entries[start:min(start+MaxBatch, len(entries))]
			out, err := q.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: call})
			if err != nil {
				return fmt.Errorf("sqs: send messages (round %d of %d, %d of its %d from %d): %w",
					r+1, len(rounds), len(call), len(entries), start+1, err)
			}
			if n := len(out.Failed); n > 0 {
				return fmt.Errorf("sqs: %d of the %d messages of a call were not queued (round %d of %d; %s)",
					n, len(call), r+1, len(rounds), failures(out.Failed))
			}
		}
	}
	return nil
}

// failures lists the failed entries' codes, each once with its count;
// their messages are left out.
func failures(failed []types.BatchResultErrorEntry) string {
	count := map[string]int{}
	for _, f := range failed {
		code := aws.ToString(f.Code)
		if code == "" {
			code = "no error code"
		}
		count[code]++
	}
	codes := make([]string, 0, len(count))
	for c, n := range count {
		codes = append(codes, c+" x"+strconv.Itoa(n))
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// The record attributes ReadEvent reads.
const (
	attrReceiveCount = "ApproximateReceiveCount"
	attrFirstReceive = "ApproximateFirstReceiveTimestamp"
	attrGroup        = "MessageGroupId"
)

// Batch is one SQS event as the sender takes it (ReadEvent).
type Batch struct {
	// Received are the messages the sender may attempt, in the event's
	// order: every record but the poison ones and those behind a poison
	// one in its group.
	Received []webhooks.Received
	records  []record
}

// record is one of the event's records.
type record struct {
	id, receipt, group string
	// received is the record's index in Batch.Received; -1 when it is not
	// there (poison, or behind poison in its group).
	received int
	poison   bool
}

// ReadEvent reads the records of an SQS event, in order. Each body is
// decoded with webhooks.DecodeMessage; Attempt is the record's
// ApproximateReceiveCount and First its ApproximateFirstReceiveTimestamp
// (milliseconds). Lambda always sets both; when one is missing or not a
// number, Attempt is 1 and First is now.
//
// A record whose body does not decode is poison: not in Received, and
// Settle reports it a failure without touching its visibility, so that the
// queue's redrive policy moves it to the dead-letter queue after
// maxReceiveCount receives. The records behind it in its group (the
// MessageGroupId attribute; every later record when it has none) are not
// in Received either: Settle reports them failures, to come again behind
// it. Poisoned lists the poison records' ids.
func ReadEvent(ev events.SQSEvent, now time.Time) *Batch {
	b := &Batch{records: make([]record, 0, len(ev.Records))}
	blocked := map[string]bool{}
	blockAll := false
	for _, r := range ev.Records {
		rec := record{id: r.MessageId, receipt: r.ReceiptHandle, group: r.Attributes[attrGroup], received: -1}
		m, err := webhooks.DecodeMessage([]byte(r.Body))
		if err != nil {
			rec.poison = true
			if rec.group == "" {
				blockAll = true
			}
			blocked[rec.group] = true
			b.records = append(b.records, rec)
			continue
		}
		if rec.group == "" {
			rec.group = GroupID(m)
		}
		if !blockAll && !blocked[rec.group] {
			rec.received = len(b.Received)
			b.Received = append(b.Received, webhooks.Received{Message: m, Attempt: receiveCount(r), First: firstReceive(r, now)})
		}
		b.records = append(b.records, rec)
	}
	return b
}

func receiveCount(r events.SQSMessage) int {
	n, err := strconv.Atoi(r.Attributes[attrReceiveCount])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func firstReceive(r events.SQSMessage, now time.Time) time.Time {
	ms, err := strconv.ParseInt(r.Attributes[attrFirstReceive], 10, 64)
	if err != nil || ms <= 0 {
		return now
	}
	return time.UnixMilli(ms).UTC()
}

// Poisoned are the ids of the records whose body did not decode.
func (b *Batch) Poisoned() []string {
	var ids []string
	for _, r := range b.records {
		if r.poison {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// ErrGroupOrder is Settle's error for an outcome other than the zero one
// given to a message behind one of its group that is not done.
var ErrGroupOrder = errors.New("sqs: a message was settled behind one of its group that is not done")

// Settle applies the sender's outcomes to b, outcomes[i] being
// b.Received[i]'s, and returns the Lambda function's answer: the records
// Lambda is to leave in the queue (BatchItemFailures). Lambda deletes the
// others once the function returns (the event source mapping must have
// FunctionResponseTypes ReportBatchItemFailures).
//
//   - Done: not listed; Lambda deletes it.
//   - Not Done: listed, and hidden with ChangeMessageVisibility for
//     max(0, ceil(RetryAt-now)) seconds, at most MaxVisibility. The zero
//     Outcome (not attempted) is visible again at once.
//   - A poison record: listed, its visibility untouched (the redrive
//     policy's way to the dead-letter queue).
//
// FIFO order: once a record of a group is not done (a failure, a poison
// record, or not attempted), every later record of that group in the
// batch is listed too, and made visible again at once (the one before it
// still holds the group: SQS returns none of a group's messages while one
// of them is in flight). The caller must not attempt them: it goes through
// Received in order and, per group (Message.Group), gives the zero Outcome
// to every message behind the first that is not Done. Settle checks it: an
// outcome other than the zero one behind such a message is listed all the
// same (a message delivered out of order may be delivered again, never
// lost) and reported with ErrGroupOrder.
//
// This is the rule of the Lambda developer guide ("Handling errors for an
// SQS event source in Lambda", Implementing partial batch responses): with
// a FIFO queue the function should stop processing messages after the
// first failure and return all failed and unprocessed messages in
// batchItemFailures, to preserve the ordering of messages in the queue.
// Settle applies it per message group, which is all SQS FIFO orders (as
// Powertools for AWS Lambda's SQS FIFO batch processor does with
// skip_group_on_error): the messages of other groups are deleted as they
// went. A listed id is always one of the batch's, so that Lambda never
// takes the answer for a failure of the whole batch.
//
// Settle always returns the answer; an error (outcomes of the wrong length,
// ErrGroupOrder, a visibility change SQS refused: that message comes again
// after the queue's visibility timeout instead of at RetryAt) is for the
// log, and the function should still return the answer rather than fail
// the invocation, which would make Lambda take every record of the batch
// again. With outcomes of the wrong length every record is listed.
func (q *Queue) Settle(ctx context.Context, b *Batch, outcomes []webhooks.Outcome, now time.Time) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	fail := func(r record) {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.id})
	}
	if len(outcomes) != len(b.Received) {
		for _, r := range b.records {
			fail(r)
		}
		return resp, fmt.Errorf("sqs: %d outcomes for %d messages: every record is left in the queue", len(outcomes), len(b.Received))
	}
	var (
		errs    []error
		changes []types.ChangeMessageVisibilityBatchRequestEntry
		blocked = map[string]bool{}
	)
	for i, r := range b.records {
		if r.poison {
			blocked[r.group] = true
			fail(r)
			continue
		}
		var o webhooks.Outcome
		if r.received >= 0 {
			o = outcomes[r.received]
		}
		if blocked[r.group] || blocked[""] {
			if o != (webhooks.Outcome{}) && r.received >= 0 {
				errs = append(errs, fmt.Errorf("%w: record %s (outcome done %t, retry at %v)", ErrGroupOrder, r.id, o.Done, o.RetryAt))
			}
			o = webhooks.Outcome{}
		}
		if o.Done {
			continue
		}
		blocked[r.group] = true
		fail(r)
		changes = append(changes, types.ChangeMessageVisibilityBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			ReceiptHandle:     aws.String(r.receipt),
			VisibilityTimeout: visibility(o.RetryAt, now),
		})
	}
	for start := 0; start < len(changes); start += MaxBatch {
		call := changes[start:min(start+MaxBatch, len(changes))]
		out, err := q.Client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.URL), Entries: call})
		if err != nil {
			errs = append(errs, fmt.Errorf("sqs: change the visibility of %d messages: %w", len(call), err))
			continue
		}
		if n := len(out.Failed); n > 0 {
			errs = append(errs, fmt.Errorf("sqs: the visibility of %d of %d messages was not changed (%s)", n, len(call), failures(out.Failed)))
		}
	}
	return resp, errors.Join(errs...)
}

// visibility is the visibility timeout, in seconds, that hides a message
// until at: max(0, ceil(at-now)), at most MaxVisibility.
func visibility(at, now time.Time) int32 {
	if at.IsZero() {
		return 0
	}
	d := min(max(at.Sub(now), 0), MaxVisibility)
	return int32(math.Ceil(d.Seconds()))
}

// NewWebhookQueue is the webhook queue at url in region (endpoint, when
// set, a local emulator), signing with creds: what app.WithWebhooks takes.
func NewWebhookQueue(region, endpoint string, creds aws.CredentialsProvider, url string) webhooks.Queue {
	return &Queue{Client: NewClient(region, endpoint, creds), URL: url}
}

// LambdaBatch is one Lambda event's batch of q: Read keeps the batch it
// read for Settle (app.SQSBatch). A new one serves each event.
type LambdaBatch struct {
	Queue *Queue
	batch *Batch
}

// Read reads ev (ReadEvent) and returns the messages to attempt.
func (b *LambdaBatch) Read(ev events.SQSEvent, now time.Time) []webhooks.Received {
	b.batch = ReadEvent(ev, now)
	return b.batch.Received
}

// Settle settles the outcomes of what Read returned (Queue.Settle).
func (b *LambdaBatch) Settle(ctx context.Context, outcomes []webhooks.Outcome, now time.Time) (events.SQSEventResponse, error) {
	return b.Queue.Settle(ctx, b.batch, outcomes, now)
}
