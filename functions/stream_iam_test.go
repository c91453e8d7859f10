package functions_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
	"github.com/idadmin/api/shared/webhooks"
)

// streamPoller is what the stream function's role must allow for Lambda's
// poller of the table's stream, which reads the stream with the function's
// role (the event source mapping): no call of the processor's, so granted
// as AWS documents it rather than derived.
var streamPoller = []string{
	"dynamodb:DescribeStream on " + samtemplateTableStream,
	"dynamodb:GetRecords on " + samtemplateTableStream,
	"dynamodb:GetShardIterator on " + samtemplateTableStream,
	"dynamodb:ListStreams on " + tableARN + "/stream/*",
}

const samtemplateTableStream = "IdentificationsTable.StreamArn"

// streamSender answers every send, or fails every send while failing.
type streamSender struct {
	mu      sync.Mutex
	failing bool
	sent    int
}

func (s *streamSender) Send(context.Context, identification.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return "", errors.New("provider down")
	}
	s.sent++
	return "msg", nil
}

type streamEvents struct{}

func (streamEvents) Publish(context.Context, []identification.Event) error { return nil }

// TestTemplateStreamPolicyGrantsWhatTheProcessorCalls derives the stream
// function's DynamoDB grants on the table from what its processor is seen
// to call, as TestTemplatePoliciesGrantWhatRoutesCall does for the routes,
// and holds the function's policy in template.yaml to exactly that. On
// each engine the processor, with the store the stream function builds
// (app.NewDeps) on a recording client, handles the table's stream through
// the event source's filter after: creates whose codes it delivers, one
// provider failing, the batch replayed (the claims held), a claim taken
// again after ClaimTimeout, a resend, a cancel, a delete's tombstone, a
// send the guard refused (its event, its mark, the statistics); its
// publisher is the stream function's, the webhooks' fan-out behind the
// events' bus, with an endpoint of the organisation registered. Each
// call's needs (enginetest.NeedsOf: a transaction's item actions) are
// granted on the table, and sending to the webhook queue
// (sqs:SendMessage) on the queue when the fan-out queued. The stream's own actions are the poller's
// (streamPoller).
func TestTemplateStreamPolicyGrantsWhatTheProcessorCalls(t *testing.T) {
	tmpl := mustWiredTemplate(t)
	var fn *function
	for _, f := range mustFunctions(t, tmpl) {
		if f.Name == app.StreamName {
			fn = &f
		}
	}
	if fn == nil {
		t.Fatalf("template has no function with CodeUri %s%s", codeURIPrefix, app.StreamName)
	}
	// The table's actions and the webhook queue's are the processor's
	// (the dead-letter queue's is Lambda's on-failure destination's).
	var granted []string
	for _, g := range mustGrants(t, *fn) {
		if strings.HasPrefix(g, "dynamodb:") || strings.HasSuffix(g, " on "+webhookQueueARN) {
			granted = append(granted, g)
		}
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		client, table, _ := enginetest.NewTable(t, e)
		now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		svc := identification.NewService(app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, client, nil).Dynamo,
			identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()))

		recorded, counter := enginetest.NewClientWithCounter(e)
		store := app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, recorded, nil).Dynamo
		sender := &streamSender{}
		// The publisher the stream function builds: the events' bus, then
		// the webhooks' fan-out to the organisation's endpoints (one
		// registered, wanting every event) on a recorded queue.
		if err := seedEndpoint(t.Context(), app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, client, nil).Dynamo,
			webhookRef{org: "acme", endpoint: newWebhookRef("acme").endpoint}, clock()); err != nil {
			t.Fatal(err)
		}
		queue := &queueRecorder{Queue: memqueue.New(clock)}
		publisher := app.Publishers(streamEvents{}, &webhooks.Fanout{Endpoints: store, Queue: queue, Now: clock})
		p := &stream.Processor{Store: store, Decoder: store, Keys: fixture.CodeKeys(), Publisher: publisher, Now: clock,
			Blocks: store, Stats: store, Countries: numbers.CountryOf,
			Senders: map[string]identification.Sender{"SMS": sender}, Sleep: func(context.Context, time.Duration) {}}
		reader, err := localstream.New(t.Context(), client, localengine.NewStreamsClient(e.Endpoint), table, nil)
		if err != nil {
			t.Fatal(err)
		}
		var all []stream.Record
		drain := func() {
			for round := 0; round < 10; round++ {
				recs, err := reader.Poll(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) == 0 {
					return
				}
				all = append(all, recs...)
				if n, err := p.Process(t.Context(), recs); err != nil {
					t.Fatalf("process: %d of %d: %v", n, len(recs), err)
				}
			}
		}
		create := func() *identification.Identification {
			c, err := svc.CreateOTP(t.Context(), "acme", identification.CreateOTP{
				Actor:   &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
				Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "P1D"}, systemCaller)
			if err != nil {
				t.Fatal(err)
			}
			return c.Identification
		}

		sent := create()
		drain()
		sender.failing = true
		failed := create()
		drain()
		sender.failing = false
		// The batch again: every claim held, every version published.
		if _, err := p.Process(t.Context(), all); err != nil {
			t.Fatal(err)
		}
		// A claim whose holder never wrote back, taken again later.
		stale := create()
		firstRecords, _ := reader.Poll(t.Context())
		claimer := *p
		claimer.Store = crashBeforeWriteBack{store}
		if _, err := claimer.Process(t.Context(), firstRecords); err == nil {
			t.Fatal("the crash before the write-back did not fail the record")
		}
		advance(2 * time.Minute)
		if _, err := p.Process(t.Context(), firstRecords); err != nil {
			t.Fatal(err)
		}
		advance(time.Minute)
		if _, err := svc.Resend(t.Context(), failed.Ref(), systemCaller); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Cancel(t.Context(), stale.Ref(), "", systemCaller); err != nil {
			t.Fatal(err)
		}
		if err := svc.Delete(t.Context(), sent.Ref(), true, systemCaller); err != nil {
			t.Fatal(err)
		}
		// A send the guard refused: its event published and counted.
		if err := app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, client, nil).Dynamo.RecordGuardEvent(t.Context(),
			guard.Event{Org: "acme", At: clock(), Rule: identification.RuleCountry, Mode: identification.GuardEnforce, Channel: "SMS",
				Country: "GB", Type: identification.TypeOTP, ID: "refused-1"}); err != nil {
			t.Fatal(err)
		}
		drain()
		if sender.sent != 4 {
			t.Errorf("%d codes sent, want 4 (the first create's, the crashed claim's and its retake's, the resend's)", sender.sent)
		}

		want := map[string]string{}
		for _, g := range streamPoller {
			want[g] = "Lambda's poller of the table's stream"
		}
		if queue.take() == 0 {
			t.Errorf("no event was queued for the organisation's webhook endpoint")
		} else {
			want["sqs:SendMessage on "+webhookQueueARN] = "the webhooks' fan-out"
		}
		for _, c := range counter.Calls() {
			for _, n := range c.Needs {
				g := n.Action + " on " + tableARN
				if n.Index != "" {
					g = n.Action + " on " + tableARN + "/index/" + n.Index
				}
				if _, ok := want[g]; !ok {
					want[g] = c.Op
				}
			}
		}
		t.Logf("stream function: calls %v; needs:", counter.ByOperation())
		for _, g := range slices.Sorted(maps.Keys(want)) {
			t.Logf("  %s (%s)", g, want[g])
		}
		for _, g := range granted {
			if _, ok := want[g]; !ok {
				t.Errorf("function %s grants %s, which its processor never called", fn.LogicalID, g)
			}
		}
		for _, g := range slices.Sorted(maps.Keys(want)) {
			if !slices.Contains(granted, g) {
				t.Errorf("function %s lacks %s, which %s needed", fn.LogicalID, g, want[g])
			}
		}
	})
}

var systemCaller = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}

// crashBeforeWriteBack is a store whose processor dies after the send:
// the claim is taken, the code sent, nothing written back.
type crashBeforeWriteBack struct{ stream.Store }

func (crashBeforeWriteBack) FinishDelivery(context.Context, identification.Ref, string, identification.Delivery, time.Time) (*identification.Identification, error) {
	return nil, errors.New("crash")
}
