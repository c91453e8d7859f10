package dynamostore

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// The listing indexes. Each is partitioned by one facet of a process and
// sorted by its position (ls: created_at, then id), so that a facet's page,
// newest first, is one Query per partition of the facet. Every facet value
// starts with the organisation and the type:
//
//	list-by-org         l_org         <org>#<TYPE>#<shard>
//	find-by-email       l_email       <org>#<TYPE>#<keyed hash of the e-mail address>
//	find-by-phone       l_phone       <org>#<TYPE>#<keyed hash of the E.164 number>
//	find-by-document    l_document    <org>#<TYPE>#<keyed hash of the document number>
//
// They hold keys, never the process: list-by-org only its keys, the
// find-by indexes the hashes the rest of a person's query is filtered on,
// which never change. So no actor value is in any index, and no index
// holds anything a process's changes change: each entry is written by the
// create and removed by the delete, nothing else, and costs one write
// unit whatever the process's size. A page reads the keys, then the page's
// processes with one BatchGetItem.
//
// No index holds the status: every status move would write its entry
// twice (a delete and a put), 5 of a verification's write units (see
// docs/architecture.md). A page asking for statuses filters them on the
// processes read instead (filteredPage): it considers at most a bounded
// number of keys, so a rare status's page may be short, or empty, with a
// cursor to go on from.
//
// The organisation's own partition (list-by-org) is split into ListShards
// shards by id, so that one organisation's writes spread over ListShards
// partition keys (see ListShards); a page reads every shard and merges
// them by position. A person's partitions are not split: one person's
// processes are never many a second.
const (
	IndexByOrg      = "list-by-org"
	IndexByEmail    = "find-by-email"
	IndexByPhone    = "find-by-phone"
	IndexByDocument = "find-by-document"

	attrPosition = "ls"
	attrListOrg  = "l_org"
)

// ListShards is the number of partition keys one organisation's processes
// of one type are written to in list-by-org: shard = FNV-1a(id) mod
// ListShards.
//
// A partition key takes at most 1,000 write units a second, and the goal
// is one organisation completing 1,000 verifications a second with its
// hottest key taking at most one unit per verification. An index entry
// holds keys, well under 1 KB: one unit per write. A create writes one
// entry and nothing ever moves it: 1 unit per verification, 1/8 on each
// shard, 125 units a second at the goal, an eighth of a partition's limit.
//
// Reading costs the other way: a page Queries every shard. 8 keeps the
// hottest key well under its limit (room for bursts of creates 8 times
// the goal) and a page at 8 Queries; changing it re-keys every process
// (cmd/backfill rewrites the keys of a table).
const ListShards = 8

// ListIndexes are the listing indexes, each with its partition attribute.
var ListIndexes = map[string]string{
	IndexByOrg: attrListOrg, IndexByEmail: "l_email",
	IndexByPhone: "l_phone", IndexByDocument: "l_document",
}

// legacyAttrs are listing keys of earlier releases, which the indexes they
// fed (list-by-month, list-by-status, list-by-org-status) no longer read;
// items written before may still carry them, a delete removes them with
// the rest, and cmd/backfill removes l_org_status (attrLegacyOrgStatus).
var legacyAttrs = []string{"l_month", "l_status", attrLegacyOrgStatus}

const attrLegacyOrgStatus = "l_org_status"

func facetPrefix(org string, t identification.Type) string { return org + "#" + string(t) + "#" }

// facetOf is the facet value of a keyed hash, "" (no index entry) for none.
func facetOf(prefix, hash string) string {
	if hash == "" {
		return ""
	}
	return prefix + hash
}

// listShard is the shard of the process id: two digits, 00 to ListShards-1.
func listShard(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("%02d", h.Sum32()%ListShards)
}

// orgFacet is the list-by-org partition of the process id of org and t.
func orgFacet(org string, t identification.Type, id string) string {
	return facetPrefix(org, t) + listShard(id)
}

// shards are the ListShards partitions of a sharded facet: prefix, then
// each shard's two digits.
func shards(prefix string) []string {
	out := make([]string, ListShards)
	for n := range out {
		out[n] = fmt.Sprintf("%s%02d", prefix, n)
	}
	return out
}

// source is one partition a page reads, with the filter that makes what it
// reads exactly what the query asks for.
type source struct {
	index  string
	attr   string
	value  string
	filter *expression.ConditionBuilder
	// atLeast is the smallest Limit of its Queries: a filter that may
	// drop many of the items read (one person's processes, filtered by
	// another value) reads ahead, so that one Query still fills the page.
	atLeast int
	// upTo, when not 0, is how many keys the source reads (rather than
	// the page's Limit+1): a page whose statuses are filtered once its
	// processes are read (filteredPage).
	upTo int
}

// personReadAhead is how many of one person's processes a filtered Query
// reads at least, and how many keys a person's page asking for statuses
// considers: more than a person is expected to have in an organisation
// within the retention period.
const personReadAhead = 250

// shardReadAhead is how many keys of each of the organisation's shards a
// page asking for statuses considers: ListShards × 50 = 400 processes at
// most, newest first, of which the page keeps those in the asked statuses.
const shardReadAhead = 50

// filterBatch is how many processes one BatchGetItem of a page asking
// for statuses reads after its first (which reads the page's Limit+1): so
// such a page makes at most 1 + ⌈(keys considered − Limit − 1)/filterBatch⌉
// BatchGetItem calls: 4 for a person's (personReadAhead; 3 more per
// previous code key kept), 5 for the organisation's (ListShards ×
// shardReadAhead).
const filterBatch = maxBatchGet

// Reading a page's processes: BatchGetItem takes at most 100 keys (a page
// holds at most identification.MaxListLimit), and the keys DynamoDB leaves
// unprocessed (it throttled them) are asked again, at most
// maxBatchGetTries calls in all, the waits between them doubling from
// batchGetBackoff.
const (
	maxBatchGet      = 100
	maxBatchGetTries = 4
	batchGetBackoff  = 20 * time.Millisecond
)

// candidate is one index entry a page may show: its table key and its
// position.
type candidate struct {
	pk, sk, position string
}

// List answers one page of f (identification.Lister). It reads the facet
// that narrows the query most: a document number, an e-mail address or a
// phone (one person's processes, filtered by the rest of the query); else
// the shards of each asked status; else the shards of the organisation.
// Each partition is read below the page's start for at most Limit+1 keys,
// all at once, and the keys are merged by position: the first Limit are
// the page's, one more means another page follows. Then one BatchGetItem
// reads the page's processes, strongly consistent, so each is exactly what
// its read answers. A process deleted, or moved out of the asked statuses,
// between the index's answer and that read is left out: then the page
// holds fewer than Limit, and the next starts below the last one it
// considered (ListPage.Next).
func (s *Store) List(ctx context.Context, f identification.ListFilter) (identification.ListPage, error) {
	sources := s.sources(f)
	lists := make([][]candidate, len(sources))
	errs := make([]error, len(sources))
	if len(sources) == 1 {
		lists[0], errs[0] = s.read(ctx, sources[0], f)
	} else {
		var wg sync.WaitGroup
		for n, src := range sources {
			wg.Go(func() { lists[n], errs[n] = s.read(ctx, src, f) })
		}
		wg.Wait()
	}
	var all []candidate
	for n := range lists {
		if errs[n] != nil {
			return identification.ListPage{}, errs[n]
		}
		all = append(all, lists[n]...)
	}
	slices.SortFunc(all, func(a, b candidate) int {
		switch {
		case a.position > b.position:
			return -1
		case a.position < b.position:
			return 1
		}
		return 0
	})
	if sources[0].upTo > 0 {
		// Past the last key a capped source read, another source's
		// keys are not all of that range's: the page considers the
		// keys down to the highest such last key.
		capped, cutoff := false, ""
		for n, l := range lists {
			if len(l) >= sources[n].upTo {
				capped, cutoff = true, max(cutoff, l[len(l)-1].position)
			}
		}
		if capped {
			end, _ := slices.BinarySearchFunc(all, cutoff, func(c candidate, p string) int { return strings.Compare(p, c.position) })
			all = all[:end+1]
		}
		return s.filteredPage(ctx, all, capped, f)
	}
	page := identification.ListPage{More: len(all) > f.Limit}
	if page.More {
		all = all[:f.Limit]
		page.Next = all[len(all)-1].position
	}
	items, err := s.batchGet(ctx, all)
	if err != nil {
		return identification.ListPage{}, err
	}
	page.Items = make([]*identification.Identification, 0, len(all))
	for _, c := range all {
		it, ok := items[c.pk]
		if !ok || it.Kind != kindProcess || !listedIn(it, f) {
			continue
		}
		i, _ := fromItem(it)
		page.Items = append(page.Items, i)
	}
	return page, nil
}

// filteredPage answers a page filtered by status, from cs, its keys
// newest first (capped: a partition had more than it read). No index
// holds the status (a status move would write it), so the statuses are
// filtered on the processes as read: a first BatchGetItem reads the page's
// Limit+1, and, while fewer than Limit+1 are in the asked statuses, the
// next filterBatch keys are read, until the page is full or the keys are
// all read. A page that runs out of keys of a capped partition ends there,
// short (even empty), with a cursor below the last key it read.
func (s *Store) filteredPage(ctx context.Context, cs []candidate, capped bool, f identification.ListFilter) (identification.ListPage, error) {
	var page identification.ListPage
	var kept []*identification.Identification
	var last candidate
	for start := 0; start < len(cs); {
		n := filterBatch
		if start == 0 {
			n = min(f.Limit+1, filterBatch)
		}
		chunk := cs[start:min(start+n, len(cs))]
		start += len(chunk)
		items, err := s.batchGet(ctx, chunk)
		if err != nil {
			return identification.ListPage{}, err
		}
		for _, c := range chunk {
			it, ok := items[c.pk]
			if !ok || it.Kind != kindProcess || !listedIn(it, f) {
				continue
			}
			if len(kept) == f.Limit {
				page.Items, page.More, page.Next = kept, true, last.position
				return page, nil
			}
			i, _ := fromItem(it)
			kept, last = append(kept, i), c
		}
	}
	page.Items = kept
	if kept == nil {
		page.Items = []*identification.Identification{}
	}
	if capped && len(cs) > 0 {
		page.More, page.Next = true, cs[len(cs)-1].position
	}
	return page, nil
}

// listedIn reports whether it, as read now, still belongs to f's listing:
// what the index answered may have changed since (its status; everything
// else a listing filters on never changes).
func listedIn(it item, f identification.ListFilter) bool {
	if len(f.Statuses) == 0 {
		return true
	}
	st := identification.Status(it.Status)
	if st.Open() && it.ExpiresAt <= f.Now.Unix() {
		return false
	}
	return slices.Contains(f.Statuses, st)
}

// batchGet reads the items of cs (at most maxBatchGet) with one
// BatchGetItem, asking again for the keys DynamoDB left unprocessed. It
// answers them by partition key; a key with no item is absent.
func (s *Store) batchGet(ctx context.Context, cs []candidate) (map[string]item, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	if len(cs) > maxBatchGet {
		return nil, fmt.Errorf("batch get: %d keys, more than %d", len(cs), maxBatchGet)
	}
	keys := make([]map[string]types.AttributeValue, len(cs))
	for n, c := range cs {
		keys[n] = map[string]types.AttributeValue{attrPK: str(c.pk), attrSK: str(c.sk)}
	}
	table := aws.ToString(s.table)
	pending := map[string]types.KeysAndAttributes{table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	out := make(map[string]item, len(cs))
	wait := batchGetBackoff
	for try := 1; ; try++ {
		got, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, classify("batch get item", err)
		}
		for _, av := range got.Responses[table] {
			it, err := decodeItem(av)
			if err != nil {
				return nil, err
			}
			out[it.PK] = it
		}
		left, ok := got.UnprocessedKeys[table]
		if !ok || len(left.Keys) == 0 {
			return out, nil
		}
		if try == maxBatchGetTries {
			return nil, &identification.Error{Kind: identification.KindUnavailable, Message: "the store is unavailable; retry later",
				Err: fmt.Errorf("batch get item: %d of %d keys still unprocessed after %d calls", len(left.Keys), len(cs), try)}
		}
		pending = map[string]types.KeysAndAttributes{table: left}
		select {
		case <-ctx.Done():
			return nil, classify("batch get item", ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (s *Store) sources(f identification.ListFilter) []source {
	prefix := facetPrefix(f.Org, f.Type)
	values := func(hashes []string) []string {
		out := make([]string, len(hashes))
		for n, h := range hashes {
			out[n] = prefix + h
		}
		return out
	}
	actor := []struct {
		index  string
		hashes []string
	}{{IndexByDocument, f.Document}, {IndexByEmail, f.Email}, {IndexByPhone, f.Phone}}
	for n, a := range actor {
		if a.hashes == nil {
			continue
		}
		// One person's processes: the other values asked are a filter
		// on a partition that holds only theirs (on the hashes the
		// index projects for it: the template's find-by indexes), the
		// statuses a filter on the processes read (filteredPage).
		var conds []expression.ConditionBuilder
		for _, other := range actor[n+1:] {
			if other.hashes != nil {
				conds = append(conds, in(ListIndexes[other.index], values(other.hashes)))
			}
		}
		src := source{index: a.index, attr: ListIndexes[a.index]}
		if len(f.Statuses) > 0 {
			src.upTo = personReadAhead
		}
		if len(conds) > 0 {
			src.atLeast = personReadAhead
			c := conds[0]
			for _, more := range conds[1:] {
				c = c.And(more)
			}
			src.filter = &c
		}
		// One source per key a value may have been hashed under, each
		// reading its own partition.
		var out []source
		for _, v := range values(a.hashes) {
			one := src
			one.value = v
			out = append(out, one)
		}
		return out
	}
	out := make([]source, 0, ListShards)
	for _, v := range shards(prefix) {
		src := source{index: IndexByOrg, attr: attrListOrg, value: v}
		if len(f.Statuses) > 0 {
			src.upTo = shardReadAhead
		}
		out = append(out, src)
	}
	return out
}

func in(attr string, values []string) expression.ConditionBuilder {
	ops := make([]expression.OperandBuilder, len(values))
	for n, v := range values {
		ops[n] = expression.Value(v)
	}
	return name(attr).In(ops[0], ops[1:]...)
}

// bounds are the page's position bounds: below before (exclusive), at or
// below created_to, at or above created_from.
func bounds(f identification.ListFilter) (upper string, lower string) {
	upper = "~" // above every position
	if !f.To.IsZero() {
		upper = fmt.Sprintf("%011d$", f.To.Unix()) // '$' sorts after '#': all of that second
	}
	if f.Before != "" && f.Before < upper {
		upper = f.Before
	}
	if !f.From.IsZero() {
		lower = fmt.Sprintf("%011d#", f.From.Unix())
	}
	return upper, lower
}

// read reads src's partition below the page's start until it has Limit+1
// keys (src.upTo, if set) or none are left.
func (s *Store) read(ctx context.Context, src source, f identification.ListFilter) ([]candidate, error) {
	want := f.Limit + 1
	if src.upTo > 0 {
		want = src.upTo
	}
	upper, lower := bounds(f)
	key := expression.Key(src.attr).Equal(expression.Value(src.value))
	if lower != "" {
		// BETWEEN is inclusive: the item at upper itself (the last
		// one of the previous page) is dropped below.
		key = key.And(expression.Key(attrPosition).Between(expression.Value(lower), expression.Value(upper)))
	} else {
		key = key.And(expression.Key(attrPosition).LessThan(expression.Value(upper)))
	}
	b := expression.NewBuilder().WithKeyCondition(key)
	if src.filter != nil {
		b = b.WithFilter(*src.filter)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build list query: %w", err)
	}
	q := &dynamodb.QueryInput{
		TableName:                 s.table,
		IndexName:                 aws.String(src.index),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(false),
	}
	var out []candidate
	for {
		// One more than the page needs: the item at upper (the
		// previous page's last) may be among them.
		q.Limit = aws.Int32(int32(max(want-len(out)+1, src.atLeast)))
		page, err := s.client.Query(ctx, q)
		if err != nil {
			return nil, classify("query "+src.index, err)
		}
		for _, av := range page.Items {
			c, err := candidateOf(av)
			if err != nil {
				return nil, fmt.Errorf("query %s: %w", src.index, err)
			}
			if c.position == upper {
				continue
			}
			out = append(out, c)
		}
		if len(out) >= want {
			return out[:want], nil
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		q.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// candidateOf reads an index entry's table key and position.
func candidateOf(av map[string]types.AttributeValue) (candidate, error) {
	var c candidate
	for attr, dst := range map[string]*string{attrPK: &c.pk, attrSK: &c.sk, attrPosition: &c.position} {
		v, ok := av[attr].(*types.AttributeValueMemberS)
		if !ok {
			return candidate{}, fmt.Errorf("an index entry without a string %s", attr)
		}
		*dst = v.Value
	}
	return c, nil
}
