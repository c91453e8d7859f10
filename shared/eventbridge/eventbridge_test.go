package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	eb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/idadmin/api/internal/mototest"
	"github.com/idadmin/api/shared/identification"
)

// testEvents are n events of a few processes, each with its own id, version
// and time, some with a step.
func testEvents(n int) []identification.Event {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	kinds := []string{"identification.in_progress", "identification.step.validated", "identification.code.sent", "identification.validated"}
	out := make([]identification.Event, n)
	for i := range out {
		e := identification.Event{
			DetailType: kinds[i%len(kinds)],
			OrgID:      "acme",
			ID:         fmt.Sprintf("0193a000-0000-7000-8000-%012d", i/3),
			Type:       identification.TypeOTP,
			Status:     identification.Status("IN_PROGRESS"),
			Version:    int64(i + 1),
			At:         at.Add(time.Duration(i) * time.Second),
		}
		if i%4 == 1 {
			e.Previous = identification.Status("PENDING")
			e.Step = &identification.StepRef{Position: 1 + i%2, Type: "OTP", Status: "VALIDATED"}
		}
		out[i] = e
	}
	return out
}

// detailFields are the only keys a detail may have, and a step's: no actor
// data.
var (
	detailFields = map[string]bool{"org_id": true, "id": true, "type": true, "status": true, "previous_status": true, "step": true, "version": true, "at": true}
	stepFields   = map[string]bool{"position": true, "identification_type": true, "status": true}
)

// checkDetail compares a published detail with the event it came from.
func checkDetail(t *testing.T, n int, detail []byte, want identification.Event) {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(detail, &got); err != nil {
		t.Fatalf("event %d: detail %s: %v", n, detail, err)
	}
	for k := range got {
		if !detailFields[k] {
			t.Errorf("event %d: detail has the field %q", n, k)
		}
	}
	if step, ok := got["step"].(map[string]any); ok {
		for k := range step {
			if !stepFields[k] {
				t.Errorf("event %d: step has the field %q", n, k)
			}
		}
	}
	raw, _ := json.Marshal(want)
	var exp map[string]any
	_ = json.Unmarshal(raw, &exp)
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("event %d: detail %v, want %v", n, got, exp)
	}
}

// putRecorder stands in for EventBridge: it keeps each PutEvents request and
// answers with fail(call, entries) failed entries.
type putRecorder struct {
	mu    sync.Mutex
	calls []eb.PutEventsInput
	fail  func(call, entries int) int
}

func (rec *putRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
		return
	}
	var in struct {
		Entries []struct {
			EventBusName, Source, DetailType, Detail string
			Time                                     *float64
		}
	}
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	call := eb.PutEventsInput{}
	for _, e := range in.Entries {
		entry := types.PutEventsRequestEntry{EventBusName: aws.String(e.EventBusName), Source: aws.String(e.Source),
			DetailType: aws.String(e.DetailType), Detail: aws.String(e.Detail)}
		if e.Time != nil {
			entry.Time = aws.Time(time.Unix(0, int64(*e.Time*1e9)).UTC())
		}
		call.Entries = append(call.Entries, entry)
	}
	rec.mu.Lock()
	rec.calls = append(rec.calls, call)
	n := len(rec.calls)
	rec.mu.Unlock()
	failed := 0
	if rec.fail != nil {
		failed = rec.fail(n, len(in.Entries))
	}
	results := make([]map[string]string, len(in.Entries))
	for i := range results {
		if i < failed {
			results[i] = map[string]string{"ErrorCode": "InternalFailure", "ErrorMessage": "entry " + in.Entries[i].Detail}
		} else {
			results[i] = map[string]string{"EventId": fmt.Sprintf("ev-%d-%d", n, i)}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": failed, "Entries": results})
}

func recorderPublisher(t *testing.T, rec *putRecorder) *Publisher {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return New(NewClient("eu-west-1", srv.URL, nil), "idadmin-events")
}

// TestPublishSendsBatchesInOrder records the PutEvents calls for 23 events:
// three calls of 10, 10 and 3 entries, in the order given, each to the bus
// with the API's source, the event's detail type and time, and the event as
// its detail, with no other field.
func TestPublishSendsBatchesInOrder(t *testing.T) {
	rec := &putRecorder{}
	events := testEvents(23)
	if err := recorderPublisher(t, rec).Publish(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 3 || len(rec.calls[0].Entries) != 10 || len(rec.calls[1].Entries) != 10 || len(rec.calls[2].Entries) != 3 {
		t.Fatalf("calls %v", sizes(rec.calls))
	}
	n := 0
	for _, call := range rec.calls {
		for _, e := range call.Entries {
			want := events[n]
			if aws.ToString(e.EventBusName) != "idadmin-events" || aws.ToString(e.Source) != identification.EventSource ||
				aws.ToString(e.DetailType) != want.DetailType {
				t.Errorf("entry %d: bus %q source %q detail type %q", n, aws.ToString(e.EventBusName), aws.ToString(e.Source), aws.ToString(e.DetailType))
			}
			if e.Time == nil || !e.Time.Equal(want.At) {
				t.Errorf("entry %d: time %v, want %v", n, e.Time, want.At)
			}
			checkDetail(t, n, []byte(aws.ToString(e.Detail)), want)
			n++
		}
	}
	rec.calls = nil
	if err := recorderPublisher(t, rec).Publish(context.Background(), nil); err != nil || len(rec.calls) != 0 {
		t.Errorf("no events: %v, %d calls", err, len(rec.calls))
	}
}

func sizes(calls []eb.PutEventsInput) []int {
	out := make([]int, len(calls))
	for i, c := range calls {
		out[i] = len(c.Entries)
	}
	return out
}

// TestPartialFailureStops makes EventBridge refuse 2 entries of the second
// call: Publish returns an error naming how many failed and their error
// code, not their messages, and does not send the third call.
func TestPartialFailureStops(t *testing.T) {
	rec := &putRecorder{fail: func(call, _ int) int {
		if call == 2 {
			return 2
		}
		return 0
	}}
	err := recorderPublisher(t, rec).Publish(context.Background(), testEvents(23))
	if err == nil {
		t.Fatal("a partial failure is not an error")
	}
	if !strings.Contains(err.Error(), "2 of the 10 events 11 to 20 of 23") || !strings.Contains(err.Error(), "InternalFailure") ||
		strings.Contains(err.Error(), "entry ") {
		t.Errorf("error %q", err)
	}
	if len(rec.calls) != 2 {
		t.Errorf("%d calls, want 2: the events after a failure are not sent", len(rec.calls))
	}
	bad := testEvents(1)
	bad[0].DetailType = ""
	rec.calls = nil
	if err := recorderPublisher(t, rec).Publish(context.Background(), bad); err == nil || len(rec.calls) != 0 {
		t.Errorf("an event without a detail type: %v, %d calls", err, len(rec.calls))
	}
}

// TestPublishOnMoto publishes 23 events to a bus in moto_server, an AWS API
// emulator, and reads them back through a rule that sends the API's events
// to an SQS queue: all 23, in order, with their source, detail type, time
// and detail. Publishing to a bus that does not exist is an error.
func TestPublishOnMoto(t *testing.T) {
	endpoint := mototest.Start(t)
	ctx := context.Background()
	client := NewClient("us-east-1", endpoint, nil)
	if _, err := client.CreateEventBus(ctx, &eb.CreateEventBusInput{Name: aws.String("idadmin-events")}); err != nil {
		t.Fatal(err)
	}
	queueURL := sqsCall[struct{ QueueUrl string }](t, endpoint, "CreateQueue", map[string]any{"QueueName": "events"}).QueueUrl
	queueARN := sqsCall[struct{ Attributes map[string]string }](t, endpoint, "GetQueueAttributes",
		map[string]any{"QueueUrl": queueURL, "AttributeNames": []string{"QueueArn"}}).Attributes["QueueArn"]
	pattern, _ := json.Marshal(map[string][]string{"source": {identification.EventSource}})
	if _, err := client.PutRule(ctx, &eb.PutRuleInput{Name: aws.String("to-queue"), EventBusName: aws.String("idadmin-events"),
		EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutTargets(ctx, &eb.PutTargetsInput{Rule: aws.String("to-queue"), EventBusName: aws.String("idadmin-events"),
		Targets: []types.Target{{Id: aws.String("queue"), Arn: aws.String(queueARN)}}}); err != nil {
		t.Fatal(err)
	}

	events := testEvents(23)
	if err := New(client, "idadmin-events").Publish(ctx, events); err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Time       time.Time       `json:"time"`
		Detail     json.RawMessage `json:"detail"`
	}
	for tries := 0; len(got) < len(events) && tries < 10; tries++ {
		out := sqsCall[struct{ Messages []struct{ Body string } }](t, endpoint, "ReceiveMessage",
			map[string]any{"QueueUrl": queueURL, "MaxNumberOfMessages": 10})
		for _, m := range out.Messages {
			got = append(got, struct {
				Source     string          `json:"source"`
				DetailType string          `json:"detail-type"`
				Time       time.Time       `json:"time"`
				Detail     json.RawMessage `json:"detail"`
			}{})
			if err := json.Unmarshal([]byte(m.Body), &got[len(got)-1]); err != nil {
				t.Fatalf("message %s: %v", m.Body, err)
			}
		}
	}
	if len(got) != len(events) {
		t.Fatalf("%d events read back, want %d", len(got), len(events))
	}
	for n, e := range got {
		if e.Source != identification.EventSource || e.DetailType != events[n].DetailType || !e.Time.Equal(events[n].At) {
			t.Errorf("event %d: source %q detail type %q time %v, want %q %v", n, e.Source, e.DetailType, e.Time, events[n].DetailType, events[n].At)
		}
		checkDetail(t, n, e.Detail, events[n])
	}

	err := New(client, "no-such-bus").Publish(ctx, events[:3])
	if err == nil {
		t.Fatal("publishing to a missing bus succeeded")
	}
	if !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("a missing bus: %v", err)
	}
}

// sqsCall makes one call of SQS's JSON protocol on moto (which checks no
// signature) and decodes its answer.
func sqsCall[T any](t *testing.T, endpoint, action string, in any) T {
	t.Helper()
	body, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS."+action)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=local/20261201/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out T
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sqs %s: status %d: %s", action, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("sqs %s: %s: %v", action, raw, err)
	}
	return out
}
