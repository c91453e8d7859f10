package app

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestAWriteThatMeetsATransactionIsTriedAgain: DynamoDB refuses a write
// to an item a transaction holds (an action with an Idempotency-Key, a
// delete with its key's erasure) with TransactionConflictException; the
// write changed nothing, and the functions' client tries it again rather
// than failing the request.
func TestAWriteThatMeetsATransactionIsTriedAgain(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if n == 1 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}`))
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	client := NewDynamoDB(Config{Region: "eu-west-1", Endpoint: srv.URL})
	_, err := client.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{TableName: aws.String("t"),
		Key:              map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}, "sk": &types.AttributeValueMemberS{Value: "P"}},
		UpdateExpression: aws.String("SET a = :a"), ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberN{Value: "1"}}})
	if err != nil || calls != 2 {
		t.Errorf("UpdateItem after a TransactionConflictException: %v after %d calls; want success on the second", err, calls)
	}
}
