package localstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var (
	start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	admin = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
)

// TestStreamFilterParses: the stream's filter is read from its one
// pattern, and a pattern with a rule the reader does not evaluate is
// refused rather than half-applied.
func TestStreamFilterParses(t *testing.T) {
	if f := localstream.StreamFilter(); f.String() != strings.Join(dynamostore.StreamFilterPatterns, "\n") {
		t.Errorf("StreamFilter reads %s, want dynamostore.StreamFilterPatterns", f)
	}
	for _, bad := range []string{
		``, `[]`, `{}`, `{"dynamodb": {}}`, `{"eventName": []}`, `{"eventName": "INSERT"}`,
		`{"eventName": [{"anything-but": ["REMOVE"]}]}`, `{"dynamodb": {"NewImage": {"n": {"N": [{"numeric": [">", 1]}]}}}}`,
		`{"eventName": [{"exists": "yes"}]}`, `{"eventName": [{"prefix": "IN", "exists": true}]}`,
	} {
		if _, err := localstream.ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%s) accepted it", bad)
		}
	}
}

// TestFilterRules: literals, lists of values, exists and prefix, as
// Lambda's filter rule syntax means them.
func TestFilterRules(t *testing.T) {
	event := map[string]any{"eventName": "MODIFY", "dynamodb": map[string]any{
		"Keys":     map[string]any{"sk": map[string]any{"S": "D#1"}},
		"NewImage": map[string]any{"kind": map[string]any{"S": "delivery"}, "tries": map[string]any{"N": "2"}, "tags": map[string]any{"SS": []any{"a", "b"}}}}}
	for pattern, want := range map[string]bool{
		`{"eventName": ["MODIFY"]}`:                                             true,
		`{"eventName": ["INSERT", "MODIFY"]}`:                                   true,
		`{"eventName": ["INSERT"]}`:                                             false,
		`{"dynamodb": {"Keys": {"sk": {"S": ["P"]}}}}`:                          false,
		`{"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "D#"}]}}}}`:             true,
		`{"dynamodb": {"OldImage": {"kind": {"S": ["delivery"]}}}}`:             false,
		`{"dynamodb": {"OldImage": [{"exists": false}]}}`:                       true,
		`{"dynamodb": {"NewImage": {"tries": {"N": ["2"]}}}}`:                   true,
		`{"dynamodb": {"NewImage": {"tries": {"N": [2]}}}}`:                     false, // a number attribute is a string in the record
		`{"dynamodb": {"NewImage": {"tags": {"SS": ["b"]}}}}`:                   true,
		`{"dynamodb": {"NewImage": {"kind": {"S": [{"exists": true}]}}}}`:       true,
		`{"eventName": ["MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["P"]}}}}`: false,
	} {
		f, err := localstream.ParseFilter(pattern)
		if err != nil {
			t.Fatalf("%s: %v", pattern, err)
		}
		if got := f.AdmitsEvent(event); got != want {
			t.Errorf("%s admits %v, want %v", pattern, got, want)
		}
	}
}

// TestTheSampleEventPassesTheFilter: the stream function's sample event
// (events/stream.json, a record as Lambda delivers it: the create of an
// OTP identification) passes the filter read from the pattern as Lambda
// evaluates it, on the record's own JSON; the same record of a claim item
// does not.
func TestTheSampleEventPassesTheFilter(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample struct{ Records []map[string]any }
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&sample); err != nil || len(sample.Records) == 0 {
		t.Fatalf("events/stream.json: %v, %d records", err, len(sample.Records))
	}
	f := localstream.StreamFilter()
	for _, rec := range sample.Records {
		if !f.AdmitsEvent(rec) {
			t.Errorf("the filter drops the sample record %v", rec["dynamodb"])
		}
	}
	claim := strings.Replace(strings.Replace(string(raw), `"S": "P"`, `"S": "D#1"`, 1), `"S": "process"`, `"S": "delivery"`, 1)
	dec = json.NewDecoder(strings.NewReader(claim))
	dec.UseNumber()
	if err := dec.Decode(&sample); err != nil {
		t.Fatal(err)
	}
	if f.AdmitsEvent(sample.Records[0]) {
		t.Error("the filter admits a claim item's record")
	}
	// A guard event: its INSERT reaches the processor, its published
	// mark (a MODIFY) and a counter's change do not.
	guardEvent := func(name, kind string) map[string]any {
		return map[string]any{"eventName": name, "dynamodb": map[string]any{
			"Keys":     map[string]any{"pk": map[string]any{"S": "ORG#acme#GUARDEVENTS#3"}, "sk": map[string]any{"S": "E#01795255302000000000#0a1b2c3d"}},
			"NewImage": map[string]any{"kind": map[string]any{"S": kind}}}}
	}
	for _, c := range []struct {
		name, kind string
		want       bool
	}{{"INSERT", "guard-event", true}, {"MODIFY", "guard-event", false}, {"INSERT", "guard-counter", false}, {"MODIFY", "guard-counter", false}} {
		if got := f.AdmitsEvent(guardEvent(c.name, c.kind)); got != c.want {
			t.Errorf("a %s of a %s: admitted %v, want %v", c.name, c.kind, got, c.want)
		}
	}
}

// flow is a table, its store, a service and the processor on one engine,
// with a reader of the table's stream.
type flow struct {
	client *dynamodb.Client
	table  string
	store  *dynamostore.Store
	svc    *identification.Service
	proc   *stream.Processor
	reader *localstream.Reader
	sent   int
	mu     sync.Mutex
}

func (f *flow) Send(context.Context, identification.Message) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent++
	return "msg", nil
}

func (f *flow) Publish(context.Context, []identification.Event) error { return nil }

func newFlow(t *testing.T, e enginetest.Engine) *flow {
	t.Helper()
	client, table, _ := enginetest.NewTable(t, e)
	f := &flow{client: client, table: table, store: dynamostore.New(client, dynamostore.Options{Table: table})}
	clock := func() time.Time { return start }
	f.svc = identification.NewService(f.store, identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()))
	f.proc = &stream.Processor{Store: f.store, Decoder: f.store, Keys: fixture.CodeKeys(), Publisher: f, Now: clock,
		Senders: map[string]identification.Sender{"SMS": f}}
	reader, err := localstream.New(t.Context(), client, localengine.NewStreamsClient(e.Endpoint), table, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.reader = reader
	return f
}

func (f *flow) createOTP(t *testing.T, key string) *identification.Identification {
	t.Helper()
	in := identification.CreateOTP{Actor: &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
		Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "P1D"}
	var once identification.Once
	if key != "" {
		once = func(c identification.Created) identification.Idempotency {
			return identification.Idempotency{Key: identification.IdempotencyKeyHash("acme", key), Request: "POST otp", Status: 201,
				Body: []byte(`{}`), ProcessID: c.ID, At: start}
		}
	}
	c, _, err := f.svc.CreateOTPOnce(t.Context(), "acme", in, admin, once)
	if err != nil {
		t.Fatal(err)
	}
	return c.Identification
}

// rawRecords reads every record of the table's stream since the last read,
// unfiltered, as the engine keeps them.
func rawRecords(t *testing.T, e enginetest.Engine, client *dynamodb.Client, table string, after map[string]bool) []types.Record {
	t.Helper()
	streams := localengine.NewStreamsClient(e.Endpoint)
	desc, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := desc.Table.LatestStreamArn
	sd, err := streams.DescribeStream(t.Context(), &dynamodbstreams.DescribeStreamInput{StreamArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Record
	for _, sh := range sd.StreamDescription.Shards {
		it, err := streams.GetShardIterator(t.Context(), &dynamodbstreams.GetShardIteratorInput{StreamArn: arn, ShardId: sh.ShardId,
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for next := it.ShardIterator; next != nil; {
			recs, err := streams.GetRecords(t.Context(), &dynamodbstreams.GetRecordsInput{ShardIterator: next})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs.Records {
				if id := aws.ToString(r.Dynamodb.SequenceNumber); !after[id] {
					after[id] = true
					out = append(out, r)
				}
			}
			if len(recs.Records) == 0 {
				break
			}
			next = recs.NextShardIterator
		}
	}
	return out
}

func keyS(m map[string]types.AttributeValue, name string) string {
	if v, ok := m[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// TestTheStreamFilterOnRecordedRecords records what a table's stream holds
// after a create with an Idempotency-Key (the process item and the key's
// record), the processor's delivery and publication (a claim item, a
// published item, the outcome), a delete (the tombstone) and a removal by
// key (as TTL removes an item), and holds the filter to it: the records
// of the process item that leave a process or a tombstone pass, every
// other record is dropped.
func TestTheStreamFilterOnRecordedRecords(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		f := newFlow(t, e)
		i := f.createOTP(t, "key-1")
		for round := 0; round < 5; round++ {
			recs, err := f.reader.Poll(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.proc.Process(t.Context(), recs); err != nil {
				t.Fatal(err)
			}
		}
		if f.sent != 1 {
			t.Fatalf("%d codes sent, want 1", f.sent)
		}
		// A cancel: its events' mark moves the published item (the
		// create's version was marked by the code's claim, the
		// delivery's outcome by the published item's first write).
		if _, err := f.svc.Cancel(t.Context(), i.Ref(), "", admin); err != nil {
			t.Fatal(err)
		}
		recs, err := f.reader.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.proc.Process(t.Context(), recs); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Delete(t.Context(), i.Ref(), true, admin); err != nil {
			t.Fatal(err)
		}
		if err := f.store.Purge(t.Context(), i.Ref()); err != nil {
			t.Fatal(err)
		}

		filter := localstream.StreamFilter()
		kept, dropped := map[string]int{}, map[string]int{}
		for _, r := range rawRecords(t, e, f.client, f.table, map[string]bool{}) {
			sk, kind := keyS(r.Dynamodb.Keys, "sk"), keyS(r.Dynamodb.NewImage, "kind")
			what := string(r.EventName) + " " + sk
			if kind != "" {
				what += " " + kind
			}
			want := sk == "P" && (kind == "process" || kind == "tombstone")
			if got := filter.Admits(r); got != want {
				t.Errorf("%s: admitted %v, want %v", what, got, want)
			}
			if want {
				kept[what]++
			} else {
				dropped[what]++
			}
		}
		t.Logf("kept %v; dropped %v", kept, dropped)
		for _, w := range []string{"INSERT P process", "MODIFY P process", "MODIFY P tombstone"} {
			if kept[w] == 0 {
				t.Errorf("no %s record kept", w)
			}
		}
		for _, w := range []string{"INSERT I idempotency", "INSERT D#1 delivery", "INSERT B#pub published", "MODIFY B#pub published", "REMOVE P"} {
			if dropped[w] == 0 {
				t.Errorf("no %s record to drop: %v", w, dropped)
			}
		}
	})
}

// counting counts the calls the reader makes of its processor and the
// records it hands it.
type counting struct {
	p       *stream.Processor
	mu      sync.Mutex
	calls   int
	records []stream.Record
}

func (c *counting) Process(ctx context.Context, recs []stream.Record) (int, error) {
	c.mu.Lock()
	c.calls++
	c.records = append(c.records, recs...)
	c.mu.Unlock()
	return c.p.Process(ctx, recs)
}

func (c *counting) seen() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, len(c.records)
}

// TestBookkeepingWritesWakeNoProcessor: the dev server's reader hands its
// processor the records of process items only: a claim and published
// marks written while it runs, and the records they make, call it no more.
func TestBookkeepingWritesWakeNoProcessor(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		f := newFlow(t, e)
		c := &counting{p: f.proc}
		settle := func() (int, int) {
			// The engines' streams are read within a poll or two.
			var calls, recs int
			for still := 0; still < 10; {
				time.Sleep(50 * time.Millisecond)
				c2, r2 := c.seen()
				if c2 == calls && r2 == recs {
					still++
				} else {
					still = 0
				}
				calls, recs = c2, r2
			}
			return calls, recs
		}

		// A process whose code the test claims itself before the reader
		// runs: its create is one record for the processor (which finds
		// the code claimed, and marks v1 published), the claim none.
		i := f.createOTP(t, "")
		got, err := f.store.DecodeItem(getRaw(t, f.client, f.table, i.Ref()))
		if err != nil || got.Code == nil {
			t.Fatalf("decode: %+v, %v", got, err)
		}
		if _, ok, err := f.store.ClaimDelivery(t.Context(), got.Process, got.Code.Nonce, start, false); !ok || err != nil {
			t.Fatalf("claim: %v, %v", ok, err)
		}
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); f.reader.Run(ctx, c, 20*time.Millisecond) }()
		defer func() { stop(); <-done }()
		calls, recs := settle()
		if recs != 1 || calls != 1 {
			t.Fatalf("after a create and a claim: %d calls with %d records, want the create's record alone", calls, recs)
		}
		dropped := f.reader.Dropped()
		if dropped != 2 {
			t.Errorf("the filter dropped %d records, want 2: the claim's and the processor's mark of v1", dropped)
		}

		// Bookkeeping alone: published marks moving forward, a stale claim
		// taken again.
		for v := int64(2); v <= 4; v++ {
			p := *got.Process
			p.Version = v
			if ok, err := f.store.MarkPublished(t.Context(), &p); !ok || err != nil {
				t.Fatalf("mark v%d: %v, %v", v, ok, err)
			}
		}
		if _, ok, err := f.store.ClaimDelivery(t.Context(), got.Process, got.Code.Nonce, start.Add(dynamostore.ClaimTimeout), false); !ok || err != nil {
			t.Fatalf("claim again: %v, %v", ok, err)
		}
		if c2, r2 := settle(); c2 != calls || r2 != recs {
			t.Errorf("4 bookkeeping writes made %d more calls of the processor with %d records, want none", c2-calls, r2-recs)
		}
		if n := f.reader.Dropped() - dropped; n != 4 {
			t.Errorf("the filter dropped %d records of the 4 bookkeeping writes", n)
		}
		if f.sent != 0 {
			t.Errorf("%d codes sent under the test's own claim", f.sent)
		}
	})
}

func getRaw(t *testing.T, client *dynamodb.Client, table string, ref identification.Ref) map[string]ddbtypes.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "ORG#" + ref.Org + "#" + string(ref.Type) + "#" + ref.ID},
			"sk": &ddbtypes.AttributeValueMemberS{Value: "P"}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}
