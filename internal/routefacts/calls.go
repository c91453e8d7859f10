package routefacts

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/httpapi"
)

// reads and writes are the DynamoDB operations as CheckSuccess counts
// them.
var (
	reads  = map[string]bool{"GetItem": true, "Query": true, "BatchGetItem": true, "TransactGetItems": true, "Scan": true}
	writes = map[string]bool{"PutItem": true, "UpdateItem": true, "DeleteItem": true, "TransactWriteItems": true, "BatchWriteItem": true}
)

// CheckSuccess reports where ops, the DynamoDB operations one successful
// request of rt made in the order they started (without an
// Idempotency-Key, on a process that owed no settlement), break the rules
// every route keeps. Every change is one conditional write or one
// transaction (docs/architecture.md), so:
//
//   - a request reads at most once, before it writes (a listing's page is
//     one read: its Query calls, one per partition and shard it reads and
//     any it reads ahead, then one BatchGetItem of the processes they
//     found);
//   - a GET reads once and writes nothing;
//   - an idempotent route's action is one write and nothing else (with a
//     key, the key's record joins that write in one transaction);
//   - any other route writes at most once, after its read; but for a
//     validate, which counts the attempt and then writes the outcome: two
//     UpdateItem, and no read;
//   - a webhook route that reads an endpoint's deliveries log (the log, a
//     replay) first reads the endpoint, which must be the organisation's
//     (404 otherwise, though its log outlives it): two reads, GetItem
//     first.
//
// A route that issues codes (one that needs the code keys) may also read
// its organisation's settings (settings.Cache: one GetItem, kept for
// settings.CacheTTL per function) before it writes: that read, the last
// GetItem before the first write, is set aside before the rules above are
// applied.
//
// The counts are measured (enginetest.CallCounter), never declared per
// route.
func CheckSuccess(rt httpapi.Route, ops []string) error {
	ops = withoutSettingsRead(rt, ops)
	var nReads, nWrites int
	for n, op := range ops {
		switch {
		case op == "Query" && n > 0 && ops[n-1] == "Query":
			// The same listing page reading another shard, or ahead.
		case op == "BatchGetItem" && isListing(rt) && n > 0 && (ops[n-1] == "Query" || ops[n-1] == "BatchGetItem"):
			// The same listing page reading the processes it found (again
			// for the keys DynamoDB left unprocessed, if it throttled).
		case reads[op] && n == 1 && readsWebhookLog(rt) && ops[0] == "GetItem":
			nReads++
		case reads[op]:
			if nWrites > 0 || nReads > 0 {
				return fmt.Errorf("%s: calls %v: a read after a read or a write (%s, call %d)", rt.Name, ops, op, n+1)
			}
			nReads++
		case writes[op]:
			nWrites++
		default:
			return fmt.Errorf("%s: calls %v: %s is neither a read nor a write a request makes", rt.Name, ops, op)
		}
	}
	validate := len(ops) == 2 && ops[0] == "UpdateItem" && ops[1] == "UpdateItem"
	switch {
	case len(ops) == 0:
		return fmt.Errorf("%s: no DynamoDB call", rt.Name)
	case rt.Method == http.MethodGet && (nReads != 1 && !(readsWebhookLog(rt) && nReads == 2) || nWrites != 0):
		return fmt.Errorf("%s: calls %v, want one read and no write (a GET)", rt.Name, ops)
	case rt.Idempotent && (nWrites != 1 || nReads != 0):
		return fmt.Errorf("%s: calls %v, want one write and no read (an idempotent action: one write, or with its key one transaction)", rt.Name, ops)
	case nWrites > 1 && !validate:
		return fmt.Errorf("%s: calls %v, want at most one write (two UpdateItem only for a validate's count and outcome)", rt.Name, ops)
	}
	return nil
}

// withoutSettingsRead is ops without the read of the organisation's
// settings a route that issues codes may make: the last GetItem before the
// first write.
func withoutSettingsRead(rt httpapi.Route, ops []string) []string {
	if !readsSettings(rt) {
		return ops
	}
	last := -1
	for n, op := range ops {
		if writes[op] {
			break
		}
		if op == "GetItem" {
			last = n
		}
	}
	if last < 0 || !slices.ContainsFunc(ops[last:], func(op string) bool { return writes[op] }) {
		return ops
	}
	return slices.Delete(slices.Clone(ops), last, last+1)
}

// readsSettings reports whether rt may read its organisation's settings:
// it issues codes (it needs the code keys, and is neither a GET nor the
// validation of a code, which issues none).
func readsSettings(rt httpapi.Route) bool {
	return rt.Method != http.MethodGet && slices.Contains(rt.Needs, httpapi.NeedCodeKeys) &&
		rt.Name != httpapi.ValidateOTP.Name && rt.Name != httpapi.ValidateChainOTP.Name
}

// MaxSuccessCalls is the most DynamoDB calls one success of rt makes on a
// table that holds only the process it acts on (where a listing's page
// has nothing to read ahead for), as CheckSuccess's rules allow: for a
// listing's page of one partition (no filter, one status, or a person),
// a Query per shard of the organisation's partitions and one BatchGetItem;
// one for any other GET and an idempotent action, two for the others; one
// more for a route that may read its organisation's settings.
func MaxSuccessCalls(rt httpapi.Route) int {
	if readsSettings(rt) {
		return maxCalls(rt) + 1
	}
	return maxCalls(rt)
}

func maxCalls(rt httpapi.Route) int {
	if isListing(rt) {
		return dynamostore.ListShards + 1
	}
	if rt.Name == httpapi.GetGuardEvents.Name {
		return guard.Shards // a Query of each of the organisation's event partitions
	}
	if rt.Name == httpapi.GetStats.Name {
		return dynamostore.StatsShards // a Query of each of an hour's shards (a page of a day's)
	}
	if readsWebhookLog(rt) {
		return 2
	}
	if rt.Method == http.MethodGet || rt.Idempotent {
		return 1
	}
	return 2
}

// isListing reports whether rt lists an organisation's processes.
func isListing(rt httpapi.Route) bool {
	return rt.Name == httpapi.ListOTP.Name || rt.Name == httpapi.ListChain.Name
}

// readsWebhookLog reports whether rt reads a webhook endpoint and then its
// deliveries log.
func readsWebhookLog(rt httpapi.Route) bool {
	return rt.Name == httpapi.ListWebhookDeliveries.Name || rt.Name == httpapi.ReplayWebhookDelivery.Name
}
