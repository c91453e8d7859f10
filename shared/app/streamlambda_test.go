package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// toLambda is an attribute value as Lambda delivers it in a stream event.
func toLambda(v types.AttributeValue) events.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberM:
		m := map[string]events.DynamoDBAttributeValue{}
		for k, e := range x.Value {
			m[k] = toLambda(e)
		}
		return events.NewMapAttribute(m)
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = toLambda(e)
		}
		return events.NewListAttribute(l)
	}
	panic("unexpected attribute value")
}

type recordingSender struct{ sent []identification.Message }

func (s *recordingSender) Send(_ context.Context, m identification.Message) (string, error) {
	s.sent = append(s.sent, m)
	return "m-1", nil
}

type failingStore struct{ stream.Store }

func (failingStore) ClaimDelivery(context.Context, *identification.Identification, string, time.Time, bool) (identification.Delivery, bool, error) {
	return identification.Delivery{}, false, errors.New("store unavailable")
}

// TestStreamHandlerOnLambdaEvents feeds the stream function's handler the
// item a create wrote, as Lambda's event carries it: the code is delivered,
// and when a record fails the partial batch response names it.
func TestStreamHandlerOnLambdaEvents(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		client, table, _ := enginetest.NewTable(t, e)
		store := dynamostore.New(client, dynamostore.Options{Table: table})
		now := time.Now().UTC().Truncate(time.Second)
		svc := identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys()), identification.WithClock(func() time.Time { return now }))
		created, err := svc.CreateOTP(t.Context(), "acme", identification.CreateOTP{
			Actor:   &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
			Channel: &identification.Channel{Type: "SMS"}}, identification.Caller{Kind: identification.CallerAdmin})
		if err != nil {
			t.Fatal(err)
		}
		out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORG#acme#OTP#" + created.ID}, "sk": &types.AttributeValueMemberS{Value: "P"}}})
		if err != nil {
			t.Fatal(err)
		}
		image := map[string]events.DynamoDBAttributeValue{}
		for k, v := range out.Item {
			image[k] = toLambda(v)
		}
		ev := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{{EventName: "INSERT",
			Change: events.DynamoDBStreamRecord{SequenceNumber: "100", NewImage: image}}}}

		sender := &recordingSender{}
		p := &stream.Processor{Store: store, Decoder: store, Keys: fixture.CodeKeys(), Senders: map[string]identification.Sender{"SMS": sender},
			Now: func() time.Time { return now }}
		resp, err := NewStreamHandler(p)(t.Context(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("response %+v, %v", resp, err)
		}
		if len(sender.sent) != 1 || sender.sent[0].To != "+34612345678" {
			t.Fatalf("sent %+v", sender.sent)
		}
		got, _ := store.Get(t.Context(), created.Ref())
		if got.OTP.Delivery.Status != identification.DeliverySent {
			t.Errorf("delivery %+v", got.OTP.Delivery)
		}

		// A store that fails: the record is reported for a retry.
		p.Store = failingStore{store}
		second := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "101", NewImage: image}}
		first := ev.Records[0]
		first.Change.NewImage = map[string]events.DynamoDBAttributeValue{"kind": events.NewStringAttribute("tombstone"),
			"pk": events.NewStringAttribute("x"), "sk": events.NewStringAttribute("P")}
		resp, err = NewStreamHandler(p)(t.Context(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{first, second}})
		if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "101" {
			t.Errorf("response %+v, %v; want record 101 reported", resp, err)
		}
	})
}

// sampleStore is the processor's store for the sample event: every claim
// is granted, every write-back recorded.
type sampleStore struct{ finished []string }

func (*sampleStore) ClaimDelivery(_ context.Context, _ *identification.Identification, _ string, at time.Time, _ bool) (identification.Delivery, bool, error) {
	return identification.Delivery{Status: identification.DeliveryPending, Attempts: 1, LastTried: at}, true, nil
}

func (s *sampleStore) FinishDelivery(_ context.Context, ref identification.Ref, _ string, outcome identification.Delivery, _ time.Time) (*identification.Identification, error) {
	if outcome.Status == identification.DeliverySent {
		s.finished = append(s.finished, ref.ID)
	}
	return nil, nil
}

func (*sampleStore) MarkPublished(context.Context, *identification.Identification) (bool, error) {
	return true, nil
}
func (*sampleStore) Published(context.Context, identification.Ref) (int64, error) { return 0, nil }

type samplePublisher struct{ events []identification.Event }

func (p *samplePublisher) Publish(_ context.Context, evs []identification.Event) error {
	p.events = append(p.events, evs...)
	return nil
}

// TestStreamSampleEvent drives events/stream.json (the sample of make
// invoke FN=stream) through the stream function's handler: its record is a
// new OTP identification whose code the service sends, so it is delivered
// to the number in the image and its creation published.
func TestStreamSampleEvent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	keys, err := identification.NewCodeKeys("k1", []byte("sample-key-sample-key-sample-key-sample"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, sender, pub := &sampleStore{}, &recordingSender{}, &samplePublisher{}
	// The image is decoded as the stream function decodes it, by the
	// DynamoDB store's decoder (which reads no table).
	decoder := dynamostore.New(nil, dynamostore.Options{Table: "sample"})
	p := &stream.Processor{Store: store, Decoder: decoder, Keys: keys, Senders: map[string]identification.Sender{"SMS": sender}, Publisher: pub,
		Now: func() time.Time { return time.Date(2026, 11, 21, 10, 1, 0, 0, time.UTC) }}
	resp, err := NewStreamHandler(p)(t.Context(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %+v, %v", resp, err)
	}
	if len(sender.sent) != 1 || sender.sent[0].To != "+34612345678" || sender.sent[0].Language != "ES" || len(store.finished) != 1 {
		t.Errorf("sent %+v, finished %v", sender.sent, store.finished)
	}
	if len(pub.events) != 1 || pub.events[0].DetailType != "identification.created" {
		t.Errorf("published %+v", pub.events)
	}
}
