package dynamostore

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// The stream processor's bookkeeping (which code's delivery is claimed and
// how often it was tried, which version's events were published) is no
// change of the process: it lives in small items of its own under the
// process's partition key, never on the process item.
//
//	pk = ORG#<org>#<TYPE>#<id>   sk = D#<seq>   the delivery claim of the process's <seq>-th code (kind delivery)
//	                             sk = B#pub     the last version whose events were published (kind published)
//
// The published mark is the highest published_version of these items: the
// published item's, or a claim's, when the record that issued the code
// marked its version in the claim's write (ClaimDelivery), which spares it
// a write.
//
// So a claim or a published mark rewrites no process (its 1-2 KiB, its
// index copies), and, since the stream function's event source lets only
// the records of process items through (StreamFilterPattern), it wakes
// nothing. Each item holds no actor data and carries the TTL its process
// had when it was written (identification.KeepingOf), so it goes when its
// process does; it is in no index (it has none of their keys).
const (
	skClaimPrefix = "D#"
	skPublished   = "B#pub"
	kindDelivery  = "delivery"
	kindPublished = "published"

	attrClaimedAt = "claimed_at"
	attrTries     = "tries"
)

// StreamFilterPattern is the event filter of the table's stream (Lambda's
// filter rule syntax) for processes: it admits a record only when its item is a process
// item (sort key P) and it has a new image that is a process or a
// tombstone, so a change of a process and its deletion reach the stream
// processor; a bookkeeping item, an idempotency record and a removal by
// TTL do not. template.yaml's StreamEventSourceMapping filters with it and
// StreamBlockFilterPattern (internal/samtemplate's
// TestTemplateStreamProcessing compares them),
// and the dev server's reader of a local engine's stream applies it
// (internal/localstream).
const StreamFilterPattern = `{"dynamodb": {"Keys": {"sk": {"S": ["` + skProcess + `"]}}, "NewImage": {"kind": {"S": ["` + kindProcess + `", "` + kindTombstone + `"]}}}}`

// StreamBlockFilterPattern admits the record of a new guard event (a send
// the sending guard refused or flagged), which the stream processor
// publishes and counts; not its published mark's (a MODIFY).
const StreamBlockFilterPattern = `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["` + kindGuardEvent + `"]}}}}`

// StreamFilterPatterns are the stream function's filters, in
// template.yaml's order: a record any of them admits reaches it.
var StreamFilterPatterns = []string{StreamFilterPattern, StreamBlockFilterPattern}

// claimItem is the delivery claim of one code: when it was last claimed
// (the last try, as the read shows it once the outcome is written) and how
// often. A claim younger than ClaimTimeout holds.
type claimItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Kind      string `dynamodbav:"kind"`
	ClaimedAt int64  `dynamodbav:"claimed_at"`
	Tries     int64  `dynamodbav:"tries"`
	TTL       int64  `dynamodbav:"ttl"`
}

// publishedItem is the published mark of one process (of its published
// item, or of a claim that carries one).
type publishedItem struct {
	PK      string `dynamodbav:"pk"`
	SK      string `dynamodbav:"sk"`
	Kind    string `dynamodbav:"kind"`
	Version int64  `dynamodbav:"published_version"`
	TTL     int64  `dynamodbav:"ttl"`
}

// claimSK is the sort key of the claim of a process's seq-th code (its
// codes_sent when it was issued: codes are counted, never recounted).
func claimSK(seq int) string { return skClaimPrefix + strconv.Itoa(seq) }

func bookkeepingKey(ref identification.Ref, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(partitionKey(ref)), attrSK: str(sk)}
}
