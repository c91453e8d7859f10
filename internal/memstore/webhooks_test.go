package memstore_test

import (
	"testing"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/webhooks"
)

// TestWebhooksContract holds the in-memory webhooks store, which the
// handler-tree tests stand in for the table with, to the contract the
// DynamoDB store meets.
func TestWebhooksContract(t *testing.T) {
	storetest.RunWebhooks(t, func(*testing.T) webhooks.Store { return memstore.NewWebhooks() })
}
