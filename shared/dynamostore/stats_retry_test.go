package dynamostore_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/stats"
)

// TestStatsWriteRetriesOnlyThrottles: a statistics write (an ADD, which
// counts twice if applied twice) is retried when DynamoDB refused it for
// throughput, and never after an answer that may follow an applied write
// (a 500): that failure loses the counts rather than risk counting them
// twice.
func TestStatsWriteRetriesOnlyThrottles(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   int32
	}{
		{"internal error", http.StatusInternalServerError, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}`, 1},
		{"throttled", http.StatusBadRequest, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/x-amz-json-1.0")
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			defer srv.Close()
			client := localengine.NewClient(srv.URL, func(o *dynamodb.Options) {
				o.RetryMaxAttempts = 3
				o.Credentials = aws.AnonymousCredentials{}
			})
			store := dynamostore.New(client, dynamostore.Options{Table: "t"})
			err := store.AddStats(t.Context(), "acme", time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), stats.Counts{"cr|ty|OTP": 1})
			if err == nil {
				t.Fatal("the write succeeded against a failing table")
			}
			if got := calls.Load(); got != c.want {
				t.Errorf("%d attempts, want %d", got, c.want)
			}
		})
	}
}
