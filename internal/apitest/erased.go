package apitest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/enginetest"
)

// checkErased reads every item of table, as the test left it, and reports
// each Idempotency-Key record of a deleted process that still holds the
// answer it kept (a body, a code's nonce) or any actor value sent through
// Do: what a delete erases is erased from the key records too. Every Env
// runs it when its test ends, on whichever engine the test ran.
func checkErased(e enginetest.Engine, table string) error {
	client, _ := enginetest.NewClientWithCounter(e) // without the test's injected faults
	ctx := context.Background()
	deleted := map[string]bool{}
	var records []map[string]any
	pages := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: &table})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s for erased records: %w", table, err)
		}
		for _, av := range page.Items {
			var m map[string]any
			if err := attributevalue.UnmarshalMap(av, &m); err != nil {
				return fmt.Errorf("unmarshal an item of %s: %w", table, err)
			}
			pk, _ := m["pk"].(string)
			switch {
			case strings.Contains(pk, "#IDEM#"):
				records = append(records, m)
			case m["kind"] == "tombstone":
				id, _ := m["id"].(string)
				deleted[id] = true
			}
		}
	}
	pii.mu.Lock()
	values := make([]string, 0, len(pii.values))
	for v := range pii.values {
		values = append(values, v)
	}
	pii.mu.Unlock()
	var found []string
	for _, m := range records {
		id, _ := m["process_id"].(string)
		if !deleted[id] {
			continue
		}
		for _, attr := range []string{"body", "code_nonce"} {
			if _, ok := m[attr]; ok {
				found = append(found, fmt.Sprintf("the key record of deleted process %s keeps its %s", id, attr))
			}
		}
		for k, v := range m {
			if b, ok := v.([]byte); ok {
				m[k] = string(b) // a kept body, compared as text
			}
		}
		raw, _ := json.Marshal(m)
		for _, v := range values {
			if strings.Contains(string(raw), v) {
				found = append(found, fmt.Sprintf("the key record of deleted process %s holds an actor value", id))
				break
			}
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("%d erasure failures: %s", len(found), strings.Join(found, "; "))
	}
	return nil
}
