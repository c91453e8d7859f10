package benchbaseline

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestDecodeAttributeValue(t *testing.T) {
	raw := `{"s":{"S":"x"},"n":{"N":"12"},"b":{"B":"AQI="},"t":{"BOOL":true},"z":{"NULL":true},
		"ss":{"SS":["a","b"]},"ns":{"NS":["1"]},"bs":{"BS":["AQ=="]},"m":{"M":{"k":{"S":"v"}}},"l":{"L":[{"N":"1"},{"S":"y"}]}}`
	var m avMap
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if s := m["s"].(*types.AttributeValueMemberS).Value; s != "x" {
		t.Errorf("S = %q", s)
	}
	if b := m["b"].(*types.AttributeValueMemberB).Value; len(b) != 2 || b[1] != 2 {
		t.Errorf("B = %v", b)
	}
	if v := m["m"].(*types.AttributeValueMemberM).Value["k"].(*types.AttributeValueMemberS).Value; v != "v" {
		t.Errorf("M.k = %q", v)
	}
	if l := m["l"].(*types.AttributeValueMemberL).Value; len(l) != 2 || l[1].(*types.AttributeValueMemberS).Value != "y" {
		t.Errorf("L = %v", l)
	}
	for _, bad := range []string{`{"S":"a","N":"1"}`, `{"X":"a"}`, `[]`} {
		if _, err := DecodeAttributeValue([]byte(bad)); err == nil {
			t.Errorf("DecodeAttributeValue(%s): no error", bad)
		}
	}
}

// TestReplay plays a plan against a stub DynamoDB: every call is made, in
// order, with the invocation's id in place of the recorded one, and an
// unknown request member fails the start.
func TestReplay(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("X-Amz-Target")+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	t.Setenv("DYNAMODB_ENDPOINT", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CODE_KEY_SECRET_ARN", "")
	const old = "0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81"
	plan := Plan{Status: 204, ID: old, IDParam: "id", Calls: []Call{
		{Op: "GetItem", Body: json.RawMessage(`{"TableName":"t","Key":{"pk":{"S":"ORG#acme#OTP#` + old + `"}},"ConsistentRead":true}`)},
		{Op: "UpdateItem", Body: json.RawMessage(`{"TableName":"t","Key":{"pk":{"S":"ORG#acme#OTP#` + old + `"}},"UpdateExpression":"SET #a = :a","ExpressionAttributeNames":{"#a":"a"},"ExpressionAttributeValues":{":a":{"N":"1"}},"ReturnValues":"ALL_NEW"}`)},
	}}
	raw, _ := json.Marshal(plan)
	h, err := New(string(raw), GetItem(), UpdateItem())
	if err != nil {
		t.Fatal(err)
	}
	const id = "01a23406-c792-730b-937a-8702195ab25d"
	resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{PathParameters: map[string]string{"id": id}})
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("handler = %v, %v; want 204", resp, err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "DynamoDB_20120810.GetItem ") || !strings.HasPrefix(got[1], "DynamoDB_20120810.UpdateItem ") {
		t.Fatalf("calls = %q", got)
	}
	for _, g := range got {
		if !strings.Contains(g, id) || strings.Contains(g, old) {
			t.Errorf("call %s: want the invocation's id in place of the recorded one", g)
		}
	}
	if !strings.Contains(got[1], `"UpdateExpression":"SET #a = :a"`) || !strings.Contains(got[1], `"ReturnValues":"ALL_NEW"`) {
		t.Errorf("update = %s, want the recorded expression", got[1])
	}

	if _, err := New(string(raw), GetItem()); err == nil {
		t.Error("New with an operation the baseline does not link: no error")
	}
	plan.Calls[0].Body = json.RawMessage(`{"TableName":"t","Key":{},"Unheard":1}`)
	raw, _ = json.Marshal(plan)
	if _, err := New(string(raw), GetItem(), UpdateItem()); err == nil {
		t.Error("New with a request member the baseline does not know: no error")
	}
}

// TestReplayMakesAPagesQueriesAtOnce: a listing's page, recorded as two
// Queries and a BatchGetItem, is replayed as the route makes it: both
// Queries at once (the stub answers neither until both have arrived), then
// the BatchGetItem of the recorded keys.
func TestReplayMakesAPagesQueriesAtOnce(t *testing.T) {
	var mu sync.Mutex
	var got []string
	both := make(chan struct{})
	var queries int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		target := r.Header.Get("X-Amz-Target")
		mu.Lock()
		got = append(got, target+" "+string(body))
		if strings.HasSuffix(target, ".Query") {
			if queries++; queries == 2 {
				close(both)
			}
		}
		mu.Unlock()
		if strings.HasSuffix(target, ".Query") {
			select {
			case <-both:
			case <-time.After(5 * time.Second):
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"__type":"com.amazon.coral.validate#ValidationException","message":"the other Query never came"}`))
				return
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	t.Setenv("DYNAMODB_ENDPOINT", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("CODE_KEY_SECRET_ARN", "")
	query := json.RawMessage(`{"TableName":"t","IndexName":"list-by-org","KeyConditionExpression":"#0 = :0","ExpressionAttributeNames":{"#0":"l_org"},"ExpressionAttributeValues":{":0":{"S":"acme#OTP#00"}},"Limit":3,"ScanIndexForward":false}`)
	plan := Plan{Status: 200, Calls: []Call{{Op: "Query", Body: query}, {Op: "Query", Body: query},
		{Op: "BatchGetItem", Body: json.RawMessage(`{"RequestItems":{"t":{"Keys":[{"pk":{"S":"ORG#acme#OTP#x"},"sk":{"S":"P"}}],"ConsistentRead":true}}}`)}}}
	raw, _ := json.Marshal(plan)
	h, err := New(string(raw), Query(), BatchGetItem())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("handler = %v, %v; want 200", resp, err)
	}
	if len(got) != 3 || !strings.HasPrefix(got[2], "DynamoDB_20120810.BatchGetItem ") || !strings.Contains(got[2], `"ORG#acme#OTP#x"`) ||
		!strings.Contains(got[2], `"ConsistentRead":true`) {
		t.Fatalf("calls = %q, want two Queries then the recorded BatchGetItem", got)
	}
}

// TestReadSecret makes the start-up's GetSecretValue as codekey does: the
// JSON 1.1 action, signed for secretsmanager with the environment's
// credentials; a refusal fails the start.
func TestReadSecret(t *testing.T) {
	var target, auth string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, auth = r.Header.Get("X-Amz-Target"), r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if status != http.StatusOK {
			w.WriteHeader(status)
			w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
			return
		}
		w.Write([]byte(`{"SecretString":"{\"id\":\"k1\",\"key\":\"0123456789abcdef0123456789abcdef\"}"}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIABENCH")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "bench")
	t.Setenv("AWS_SESSION_TOKEN", "")
	if err := readSecret(context.Background(), "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench"); err != nil {
		t.Fatal(err)
	}
	if target != "secretsmanager.GetSecretValue" || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIABENCH/") || !strings.Contains(auth, "/us-east-1/secretsmanager/aws4_request") {
		t.Errorf("X-Amz-Target %q, Authorization %q", target, auth)
	}
	status = http.StatusBadRequest
	if err := readSecret(context.Background(), "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing"); err == nil {
		t.Error("a refused read: no error")
	}
}
