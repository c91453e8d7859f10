package dynamostore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

// listKeys are the code keys the listing tests hash and sign under.
func listKeys(t testing.TB) *identification.CodeKeys {
	t.Helper()
	k, err := identification.NewCodeKeys("k1", []byte("listing-test-key-of-at-least-32-bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// listed is the test's own record of one process: what the listing must
// find it by.
type listed struct {
	org     string
	typ     identification.Type
	id      string
	created time.Time
	expires time.Time
	status  identification.Status
	email   string
	phone   string
	doc     string
}

func (l listed) position() string { return identification.PositionOf(l.created, l.id) }

// matches is the listing's meaning, written out independently of both
// stores: every filter holds; a status filter sees the status as read now,
// except that an open process past its expiry is under no status until the
// sweep ends it.
func (l listed) matches(org string, typ identification.Type, q identification.ListQuery, now time.Time) bool {
	if l.org != org || l.typ != typ {
		return false
	}
	if !q.CreatedFrom.IsZero() && l.created.Before(q.CreatedFrom) || !q.CreatedTo.IsZero() && l.created.After(q.CreatedTo) {
		return false
	}
	if q.Email != "" && !strings.EqualFold(q.Email, l.email) || q.Phone != "" && q.Phone != l.phone ||
		q.DocumentNumber != "" && !strings.EqualFold(strings.ReplaceAll(q.DocumentNumber, "-", ""), l.doc) {
		return false
	}
	if len(q.Statuses) > 0 {
		st := l.status
		if st.Open() && !l.expires.After(now) {
			return false
		}
		return slices.Contains(q.Statuses, st)
	}
	return true
}

// seedListing creates n processes of org spread over the 50 days before
// now, in every status, with actor values from small pools (so that each
// value has several processes), some shared with other organisations.
func seedListing(t *testing.T, s *dynamostore.Store, keys *identification.CodeKeys, org string, n int, rng *rand.Rand) []listed {
	t.Helper()
	out := make([]listed, n)
	for k := range out {
		created := now.Add(-time.Duration(rng.Int64N(int64(50 * 24 * time.Hour)))).Truncate(time.Second)
		l := listed{org: org, typ: identification.TypeOTP, created: created,
			status:  identification.Statuses[rng.IntN(len(identification.Statuses))],
			expires: created.Add(time.Hour + time.Duration(rng.Int64N(int64(30*24*time.Hour)))).Truncate(time.Second)}
		if k%5 == 0 {
			l.typ = identification.TypeChain
		}
		// The sweep ends what expires within a minute: an open process
		// past its expiry is one it has not reached yet.
		if l.status.Open() && !l.expires.After(now) {
			l.status = identification.StatusExpired
			if k%40 == 0 {
				l.status = identification.StatusCreated
				l.expires = now.Add(-time.Duration(rng.IntN(60)) * time.Second)
			}
		}
		if k%4 != 0 {
			l.email = fmt.Sprintf("person%d@example.com", rng.IntN(13))
		}
		if k%3 != 0 {
			l.phone = fmt.Sprintf("+3461234%04d", rng.IntN(11))
		}
		if k%2 == 0 {
			l.doc = fmt.Sprintf("%08dX", rng.IntN(7))
		}
		out[k] = l
	}
	// Ids in creation order, as UUIDv7 gives them; then stored in parallel.
	slices.SortFunc(out, func(a, b listed) int { return a.created.Compare(b.created) })
	for k := range out {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		out[k].id = id.String()
	}
	errs := make(chan error, len(out))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, l := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs <- s.Create(context.Background(), l.identification(keys), nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	return out
}

// The seeded actors' names: words no key or hash holds, so that finding
// one in an index means the index holds the actor's name.
const (
	listedName     = "Zacharias"
	listedLastName = "Quillfeather"
)

// identification is the process l describes, with the actor keys a
// create computes.
func (l listed) identification(keys *identification.CodeKeys) *identification.Identification {
	i := &identification.Identification{
		ID: l.id, OrgID: l.org, Type: l.typ, Status: l.status,
		CreatedAt: l.created, UpdatedAt: l.created, ExpiresAt: l.expires,
		Actor: identification.Actor{Name: listedName, LastName: listedLastName, Email: l.email, Language: "EN"}, Version: 1,
		History: []identification.HistoryEntry{{At: l.created, Action: identification.ActionCreate, To: identification.StatusCreated, ByKind: identification.CallerAdmin, BySub: "seed"}},
	}
	if l.phone != "" {
		i.Actor.MSISDN = &identification.MSISDN{CountryCode: "34", PhoneNumber: strings.TrimPrefix(l.phone, "+34")}
	}
	if l.doc != "" {
		i.Actor.IdentityDocument = &identification.IdentityDocument{DocumentNumber: l.doc, DocumentType: "NIF"}
	}
	if l.typ == identification.TypeChain {
		i.Sequence = []identification.Step{{IdentificationType: identification.StepAgent}}
		i.SyncSteps()
	}
	if l.status.Final() || l.status == identification.StatusCompleted {
		end := l.created.Add(time.Minute)
		i.EndedAt = &end
		if l.status == identification.StatusCompleted {
			i.EndedAt, i.CompletedAt = nil, &end
		}
	}
	if l.status == identification.StatusFailed {
		i.FailureReason = identification.FailureMaxAttempts
	}
	if l.status == identification.StatusCancelled {
		i.CancelReason = "seeded"
	}
	if l.email != "" {
		i.ActorKeys.Email, _ = keys.ActorKey("", l.org, identification.ActorEmail, l.email)
	}
	if l.phone != "" {
		i.ActorKeys.Phone, _ = keys.ActorKey("", l.org, identification.ActorPhone, l.phone)
	}
	if l.doc != "" {
		i.ActorKeys.Document, _ = keys.ActorKey("", l.org, identification.ActorDocument, l.doc)
	}
	return i
}

// pageCalls are the DynamoDB calls one page made.
type pageCalls struct{ queries, batchGets int }

// walk pages through q with limit, calling between after each page, and
// returns the ids in the order the pages gave them and the calls each page
// made: Queries and BatchGetItems, and nothing else.
func walk(t *testing.T, svc *identification.Service, counter *enginetest.CallCounter, org string, typ identification.Type, q identification.ListQuery, limit int, between func()) (ids []string, calls []pageCalls) {
	t.Helper()
	q.Limit = limit
	for pages := 0; ; pages++ {
		if pages > 1100 {
			t.Fatal("the listing does not end")
		}
		counter.Reset()
		p, err := svc.List(context.Background(), org, typ, q)
		if err != nil {
			t.Fatalf("list %+v: %v", q, err)
		}
		if n := counter.Count("Scan"); n > 0 {
			t.Fatalf("a page scanned the table (%d Scans)", n)
		}
		if other := counter.Total() - counter.Count("Query") - counter.Count("BatchGetItem"); other > 0 {
			t.Fatalf("a page made %d calls other than Query and BatchGetItem: %v", other, counter.ByOperation())
		}
		ops := counter.Ops()
		if n := slices.Index(ops, "BatchGetItem"); n >= 0 && slices.Contains(ops[n:], "Query") {
			t.Fatalf("a page Queried after reading its processes: %v", ops)
		}
		calls = append(calls, pageCalls{counter.Count("Query"), counter.Count("BatchGetItem")})
		for _, i := range p.Items {
			ids = append(ids, i.ID)
		}
		if p.NextCursor == "" {
			return ids, calls
		}
		if len(p.Items) != limit && !mayBeShort(q) {
			t.Fatalf("a page that is not the last has %d items, want %d", len(p.Items), limit)
		}
		q.Cursor = p.NextCursor
		if between != nil {
			between()
		}
	}
}

func expected(all []listed, org string, typ identification.Type, q identification.ListQuery) []string {
	var want []listed
	for _, l := range all {
		if l.matches(org, typ, q, now) {
			want = append(want, l)
		}
	}
	slices.SortFunc(want, func(a, b listed) int { return strings.Compare(b.position(), a.position()) })
	ids := make([]string, len(want))
	for n, l := range want {
		ids[n] = l.id
	}
	return ids
}

// TestListingReturnsExactlyTheMatchingProcesses: 1,000 processes over 3
// organisations, every filter and their combinations, at three page sizes:
// exactly the matching processes, newest first, pages of the asked size, no
// duplicate and no gap while new processes are created between pages; each
// page only Queries (no Scan), at most one per partition and shard of its
// facet, then reads its processes with one BatchGetItem. Then no index
// holds an actor value.
func TestListingReturnsExactlyTheMatchingProcesses(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s, client, table, counter := newStore(t, e)
		keys := listKeys(t)
		svc := identification.NewService(s, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		rng := rand.New(rand.NewPCG(7, 11))
		var all []listed
		for _, o := range []struct {
			org string
			n   int
		}{{"acme", 500}, {"globex", 300}, {"initech", 200}} {
			all = append(all, seedListing(t, s, keys, o.org, o.n, rng)...)
		}
		// Some open ones cancelled through the service: their status
		// facet moves with the write that changes the status.
		cancelled := 0
		for n := range all {
			l := &all[n]
			if l.org == "acme" && l.status == identification.StatusCreated && l.expires.After(now) && cancelled < 40 {
				if _, err := svc.Cancel(context.Background(), identification.Ref{Org: l.org, Type: l.typ, ID: l.id}, "changed", identification.Caller{Kind: identification.CallerAdmin, Sub: "t"}); err != nil {
					t.Fatalf("cancel: %v", err)
				}
				l.status = identification.StatusCancelled
				cancelled++
			}
		}
		if cancelled < 10 {
			t.Fatalf("only %d open processes to cancel", cancelled)
		}
		st := func(ss ...identification.Status) []identification.Status { slices.Sort(ss); return ss }
		day := func(d int) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }
		queries := []identification.ListQuery{
			{},
			{Statuses: st(identification.StatusCreated)},
			{Statuses: st(identification.StatusCancelled, identification.StatusCompleted)},
			{Statuses: st(identification.StatusExpired, identification.StatusInProgress, identification.StatusClosed)},
			{Statuses: slices.Sorted(slices.Values(identification.Statuses))},
			{CreatedFrom: day(20)},
			{CreatedTo: day(10)},
			{CreatedFrom: day(35), CreatedTo: day(5)},
			{Email: "person3@example.com"},
			{Email: "PERSON3@Example.COM"},
			{Phone: "+34612340004"},
			{DocumentNumber: "00000002x"},
			{DocumentNumber: "0000-0003-x"},
			{Email: "person5@example.com", Statuses: st(identification.StatusCreated, identification.StatusExpired, identification.StatusCancelled)},
			{Email: "person1@example.com", Phone: "+34612340001"},
			{DocumentNumber: "00000004X", Email: "person7@example.com", CreatedFrom: day(40)},
			{Phone: "+34612340003", CreatedTo: day(15), Statuses: st(identification.StatusFailed, identification.StatusCompleted)},
			{Statuses: st(identification.StatusCompleted), CreatedFrom: day(30), CreatedTo: day(3)},
			{Email: "nobody@example.com"},
		}
		for _, org := range []string{"acme", "globex"} {
			for _, typ := range []identification.Type{identification.TypeOTP, identification.TypeChain} {
				for qn, q := range queries {
					for _, limit := range []int{7, 20, 100} {
						if org != "acme" && limit != 20 {
							continue
						}
						want := expected(all, org, typ, q)
						var fresh int
						between := func() {
							// A process created while the client pages:
							// newer than every page, so in none of them.
							if fresh < 3 && qn == 0 {
								l := listed{org: org, typ: typ, created: now, expires: now.Add(time.Hour), status: identification.StatusCreated,
									email: "person3@example.com", id: uuid.Must(uuid.NewV7()).String()}
								if err := s.Create(context.Background(), l.identification(keys), nil); err != nil {
									t.Fatal(err)
								}
								all = append(all, l)
								fresh++
							}
						}
						got, calls := walk(t, svc, counter, org, typ, q, limit, between)
						if !slices.Equal(got, want) {
							t.Fatalf("%s %s query %d %+v limit %d: got %d ids, want %d (first difference at %d)",
								org, typ, qn, q, limit, len(got), len(want), firstDifference(got, want))
						}
						bound, gets := partitions(q), batchGets(q)
						for n, c := range calls {
							if c.queries < 1 || c.queries > bound || c.batchGets > gets {
								t.Errorf("%s query %d limit %d: page %d made %d Queries and %d BatchGetItems, want 1 to %d and at most %d",
									org, qn, limit, n, c.queries, c.batchGets, bound, gets)
							}
						}
					}
				}
			}
		}
		checkIndexesHoldNoActorValue(t, client, table, all)
	})
}

// partitions bounds the Queries of one page of q in this test: one per
// shard of each asked status, or of the organisation, or one for a person
// (whose partition a filtered Query reads 250 ahead: more than one person
// has here).
func partitions(q identification.ListQuery) int {
	if person(q) {
		return 1
	}
	return dynamostore.ListShards
}

func person(q identification.ListQuery) bool {
	return q.Email != "" || q.Phone != "" || q.DocumentNumber != ""
}

// batchGets bounds the BatchGetItem calls of one page of q: one, or for a
// page filtered by status (filtered once read: no index holds the status)
// one for the page and then one per 100 more of the keys it considers: the
// 250 of a person's partition, or 50 of each of the organisation's 8
// shards.
func batchGets(q identification.ListQuery) int {
	switch {
	case len(q.Statuses) == 0:
		return 1
	case person(q):
		return 4
	}
	return 5
}

// mayBeShort reports whether a page of q that is not the last may hold
// fewer than its limit: an organisation's page filtered by status, which
// considers a bounded number of keys and ends, with a cursor, when they
// run out.
func mayBeShort(q identification.ListQuery) bool {
	return len(q.Statuses) > 0 && !person(q)
}

// checkIndexesHoldNoActorValue scans every index of the table, whole, and
// fails on any actor value of all (name, last name, e-mail address or its
// local part, phone in any of its forms, document number) in any attribute
// of any entry, key or projected. The same check of the table itself must
// find them (the process holds its actor): the check can see what it looks
// for.
func checkIndexesHoldNoActorValue(t *testing.T, client *dynamodb.Client, table string, all []listed) {
	t.Helper()
	values := []string{strings.ToLower(listedName), strings.ToLower(listedLastName)}
	for _, l := range all {
		for _, v := range []string{l.email, l.phone, strings.TrimPrefix(l.phone, "+"), strings.TrimPrefix(l.phone, "+34"), l.doc} {
			if v != "" {
				values = append(values, strings.ToLower(v))
			}
		}
		if l.email != "" {
			values = append(values, strings.ToLower(strings.Split(l.email, "@")[0]))
		}
	}
	slices.Sort(values)
	values = slices.Compact(values)
	desc, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(index *string) (entries, found int, where string) {
		in := &dynamodb.ScanInput{TableName: aws.String(table), IndexName: index}
		for {
			out, err := client.Scan(context.Background(), in)
			if err != nil {
				t.Fatalf("scan %s: %v", aws.ToString(index), err)
			}
			for _, it := range out.Items {
				entries++
				for attr, av := range it {
					for _, s := range strings_(av) {
						s = strings.ToLower(s)
						for _, v := range values {
							if strings.Contains(s, v) {
								found++
								where = attr
							}
						}
					}
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				return entries, found, where
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if n, found, _ := scan(nil); n < len(all) || found < len(all) {
		t.Fatalf("the table's %d items hold %d actor values, want at least %d: the check sees nothing", n, found, len(all))
	}
	if len(desc.Table.GlobalSecondaryIndexes) != len(dynamostore.ListIndexes)+1 {
		t.Fatalf("%d indexes, want the %d listing indexes and the open one", len(desc.Table.GlobalSecondaryIndexes), len(dynamostore.ListIndexes))
	}
	for _, gsi := range desc.Table.GlobalSecondaryIndexes {
		n, found, where := scan(gsi.IndexName)
		if n == 0 {
			t.Errorf("index %s is empty: the check inspects nothing", aws.ToString(gsi.IndexName))
		}
		if found > 0 {
			t.Errorf("index %s holds %d actor values in its %d entries (one in %s)", aws.ToString(gsi.IndexName), found, n, where)
		}
	}
}

// strings_ are the strings and numbers av holds, at any depth.
func strings_(av types.AttributeValue) []string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return []string{v.Value}
	case *types.AttributeValueMemberN:
		return []string{v.Value}
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberNS:
		return v.Value
	case *types.AttributeValueMemberB:
		return []string{string(v.Value)}
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, strings_(e)...)
		}
		return out
	case *types.AttributeValueMemberM:
		var out []string
		for k, e := range v.Value {
			out = append(append(out, k), strings_(e)...)
		}
		return out
	}
	return nil
}

func firstDifference(a, b []string) int {
	for n := range min(len(a), len(b)) {
		if a[n] != b[n] {
			return n
		}
	}
	return min(len(a), len(b))
}

// TestAPageIsAQueryPerShardAndOneBatchGet: a full page of the
// organisation's processes, or of one status, is one Query per shard and
// one BatchGetItem, the last page too (there is nothing older to look
// into); a person's page is one Query and one BatchGetItem.
func TestAPageIsAQueryPerShardAndOneBatchGet(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s, _, _, counter := newStore(t, e)
		keys := listKeys(t)
		svc := identification.NewService(s, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		var all []listed
		for n := range 90 {
			l := listed{org: "solo", typ: identification.TypeOTP, created: now.Add(-time.Duration(n) * 24 * time.Hour / 2), expires: now.Add(time.Hour),
				status: identification.StatusCreated, email: "one@example.com", id: uuid.Must(uuid.NewV7()).String()}
			if err := s.Create(context.Background(), l.identification(keys), nil); err != nil {
				t.Fatal(err)
			}
			all = append(all, l)
		}
		for _, q := range []identification.ListQuery{{}, {Statuses: []identification.Status{identification.StatusCreated}}, {Email: "one@example.com"}} {
			got, calls := walk(t, svc, counter, "solo", identification.TypeOTP, q, 20, nil)
			if want := expected(all, "solo", identification.TypeOTP, q); !slices.Equal(got, want) {
				t.Fatalf("%+v: got %d ids, want %d", q, len(got), len(want))
			}
			if len(calls) != 5 {
				t.Fatalf("%+v: %d pages of 20 for 90 processes, want 5", q, len(calls))
			}
			want := pageCalls{queries: dynamostore.ListShards, batchGets: 1}
			if q.Email != "" {
				want.queries = 1
			}
			for n, c := range calls {
				if c != want {
					t.Errorf("%+v: page %d made %d Queries and %d BatchGetItems, want %d and %d", q, n, c.queries, c.batchGets, want.queries, want.batchGets)
				}
			}
		}
	})
}

// TestAPersonsPageFiltersStatusesOnTheProcessesRead: the find-by indexes
// hold no status, so a person's processes asked by status are filtered
// once read. One person with 270 processes, the 3 newest and the 10
// oldest CANCELLED (the rest CREATED): paging through their CANCELLED
// ones by 7 gives exactly those, newest first. A page reads the Limit+1
// newest keys' processes, then 100 more at a time (at most 4
// BatchGetItems), and the partition is read for 250 keys at most: so the
// first page holds the 3 newest and ends short at the 250th key, with a
// cursor, and the next goes on below it.
func TestAPersonsPageFiltersStatusesOnTheProcessesRead(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s, _, _, counter := newStore(t, e)
		keys := listKeys(t)
		svc := identification.NewService(s, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		all := make([]listed, 270)
		for n := range all {
			all[n] = listed{org: "many", typ: identification.TypeOTP, created: now.Add(-time.Duration(len(all)-n) * time.Minute),
				expires: now.Add(time.Hour), status: identification.StatusCreated, email: "many@example.com", id: uuid.Must(uuid.NewV7()).String()}
			if n < 10 || n >= len(all)-3 {
				all[n].status = identification.StatusCancelled
			}
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for _, l := range all {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := s.Create(context.Background(), l.identification(keys), nil); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		q := identification.ListQuery{Email: "MANY@example.com", Statuses: []identification.Status{identification.StatusCancelled}, Limit: 7}
		want := expected(all, "many", identification.TypeOTP, q)
		if len(want) != 13 {
			t.Fatalf("the seed has %d CANCELLED, want 13", len(want))
		}
		var got []string
		var short, most int
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("the listing does not end")
			}
			counter.Reset()
			p, err := svc.List(context.Background(), "many", identification.TypeOTP, q)
			if err != nil {
				t.Fatal(err)
			}
			if n := counter.Count("Query"); n != 1 {
				t.Errorf("page %d made %d Queries, want 1", pages, n)
			}
			gets := counter.Count("BatchGetItem")
			if gets < 1 || gets > 4 {
				t.Errorf("page %d made %d BatchGetItems, want 1 to 4", pages, gets)
			}
			most = max(most, gets)
			for _, i := range p.Items {
				if i.Status != identification.StatusCancelled {
					t.Errorf("page %d lists %s, %s", pages, i.ID, i.Status)
				}
				got = append(got, i.ID)
			}
			if p.NextCursor == "" {
				break
			}
			if len(p.Items) < q.Limit {
				short++
			}
			q.Cursor = p.NextCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %d ids, want %d (first difference at %d)", len(got), len(want), firstDifference(got, want))
		}
		if most != 4 {
			t.Errorf("the most BatchGetItems of a page was %d, want 4 (the first page's: 8, then 100, 100 and 42 processes)", most)
		}
		if short != 1 {
			t.Errorf("%d short pages before the last, want 1 (at the 250th key)", short)
		}
	})
}

// TestIndexesHoldNoActorValue inspects every item the store wrote: no
// index attribute holds an e-mail address, a phone or a document number,
// nor a part of one.
func TestIndexesHoldNoActorValue(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		s, client, table, _ := newStore(t, e)
		keys := listKeys(t)
		all := seedListing(t, s, keys, "acme", 60, rand.New(rand.NewPCG(1, 2)))
		out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != len(all) {
			t.Fatalf("%d items, want %d", len(out.Items), len(all))
		}
		var values []string
		for _, l := range all {
			for _, v := range []string{l.email, l.phone, strings.TrimPrefix(l.phone, "+"), strings.TrimPrefix(l.phone, "+34"), l.doc} {
				if v != "" {
					values = append(values, strings.ToLower(v))
				}
			}
			if l.email != "" {
				values = append(values, strings.ToLower(strings.Split(l.email, "@")[0]))
			}
		}
		attrs := []string{"ls"}
		for _, a := range dynamostore.ListIndexes {
			attrs = append(attrs, a)
		}
		seen := 0
		for _, it := range out.Items {
			for _, a := range attrs {
				av, ok := it[a].(*types.AttributeValueMemberS)
				if !ok {
					continue
				}
				seen++
				for _, v := range values {
					if strings.Contains(strings.ToLower(av.Value), v) {
						t.Errorf("index attribute %s holds an actor value", a)
					}
				}
			}
		}
		if seen < len(all)*3 {
			t.Fatalf("only %d index attributes in %d items: the test inspects nothing", seen, len(all))
		}
	})
}

// unprocessed makes DynamoDB's answer to the first fail BatchGetItem calls
// leave half of their keys (all of them, for a call of one key)
// unprocessed, as DynamoDB does when it throttles.
type unprocessed struct {
	mu   sync.Mutex
	fail int
}

func (u *unprocessed) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("unprocessed",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			got, ok := out.Result.(*dynamodb.BatchGetItemOutput)
			if err != nil || !ok {
				return out, md, err
			}
			u.mu.Lock()
			defer u.mu.Unlock()
			if u.fail == 0 {
				return out, md, err
			}
			u.fail--
			req := in.Parameters.(*dynamodb.BatchGetItemInput)
			for table, items := range got.Responses {
				keep := len(items) / 2
				var left []map[string]types.AttributeValue
				for _, it := range items[keep:] {
					left = append(left, map[string]types.AttributeValue{"pk": it["pk"], "sk": it["sk"]})
				}
				got.Responses[table] = items[:keep]
				if got.UnprocessedKeys == nil {
					got.UnprocessedKeys = map[string]types.KeysAndAttributes{}
				}
				ka := req.RequestItems[table]
				ka.Keys = left
				got.UnprocessedKeys[table] = ka
			}
			return out, md, err
		}), middleware.After)
}

// TestAPageAsksAgainForUnprocessedKeys: the keys a BatchGetItem leaves
// unprocessed are asked again, until none is left (the page whole) or
// four calls were made (then the store is unavailable, a 503).
func TestAPageAsksAgainForUnprocessedKeys(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		clean, table, _ := enginetest.NewTable(t, e)
		u := &unprocessed{}
		faulty, counter := enginetest.NewClientWithCounter(e, dynamodb.WithAPIOptions(u.addTo))
		keys := listKeys(t)
		seed := dynamostore.New(clean, dynamostore.Options{Table: table, Retention: retention})
		var all []listed
		for n := range 12 {
			l := listed{org: "acme", typ: identification.TypeOTP, created: now.Add(-time.Duration(n) * time.Minute), expires: now.Add(time.Hour),
				status: identification.StatusCreated, id: uuid.Must(uuid.NewV7()).String()}
			if err := seed.Create(context.Background(), l.identification(keys), nil); err != nil {
				t.Fatal(err)
			}
			all = append(all, l)
		}
		svc := identification.NewService(dynamostore.New(faulty, dynamostore.Options{Table: table, Retention: retention}),
			identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))

		u.fail = 2
		counter.Reset()
		p, err := svc.List(context.Background(), "acme", identification.TypeOTP, identification.ListQuery{Limit: 10})
		if err != nil {
			t.Fatalf("list with keys left unprocessed twice: %v", err)
		}
		want := expected(all, "acme", identification.TypeOTP, identification.ListQuery{})[:10]
		var got []string
		for _, i := range p.Items {
			got = append(got, i.ID)
		}
		if !slices.Equal(got, want) || p.NextCursor == "" {
			t.Fatalf("page = %v (next %q), want %v and a next page", got, p.NextCursor, want)
		}
		if n := counter.Count("BatchGetItem"); n != 3 {
			t.Errorf("%d BatchGetItem calls, want 3 (two answered in part)", n)
		}

		u.fail = 100
		counter.Reset()
		_, err = svc.List(context.Background(), "acme", identification.TypeOTP, identification.ListQuery{Limit: 10})
		if identification.KindOf(err) != identification.KindUnavailable {
			t.Fatalf("list with keys always left unprocessed: error %v, want KindUnavailable", err)
		}
		if n := counter.Count("BatchGetItem"); n != 4 {
			t.Errorf("%d BatchGetItem calls, want 4", n)
		}
	})
}

// beforeBatchGet runs do before each BatchGetItem call, with its keys'
// partition keys.
type beforeBatchGet struct {
	do func(pks []string)
}

func (b *beforeBatchGet) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("beforeBatchGet",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if req, ok := in.Parameters.(*dynamodb.BatchGetItemInput); ok && b.do != nil {
				var pks []string
				for _, ka := range req.RequestItems {
					for _, k := range ka.Keys {
						pks = append(pks, k["pk"].(*types.AttributeValueMemberS).Value)
					}
				}
				b.do(pks)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// TestAProcessGoneBeforeItsPageIsReadIsLeftOut: a process deleted, or
// moved out of the asked status, after the index answered and before the
// page reads it is in no page, and the listing goes on below it. An
// unfiltered page of one whose one process went answers no item and a
// cursor, never a last page that ends the listing early; a page filtered
// by status reads on past it, and is full.
func TestAProcessGoneBeforeItsPageIsReadIsLeftOut(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		clean, table, _ := enginetest.NewTable(t, e)
		hook := &beforeBatchGet{}
		client, _ := enginetest.NewClientWithCounter(e, dynamodb.WithAPIOptions(hook.addTo))
		keys := listKeys(t)
		cleanStore := dynamostore.New(clean, dynamostore.Options{Table: table, Retention: retention})
		cleanSvc := identification.NewService(cleanStore, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		svc := identification.NewService(dynamostore.New(client, dynamostore.Options{Table: table, Retention: retention}),
			identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		for _, tc := range []struct {
			org       string
			statuses  []identification.Status
			want      []int // of all, newest first
			wantSizes []int
		}{
			{"acme", []identification.Status{identification.StatusCreated}, []int{0, 2, 4, 5}, []int{1, 1, 1, 1}},
			{"globex", nil, []int{0, 2, 3, 4, 5}, []int{1, 0, 1, 1, 1, 1}},
		} {
			var all []listed
			for n := range 6 {
				l := listed{org: tc.org, typ: identification.TypeOTP, created: now.Add(-time.Duration(n) * time.Minute), expires: now.Add(time.Hour),
					status: identification.StatusCreated, id: uuid.Must(uuid.NewV7()).String()}
				if err := cleanStore.Create(context.Background(), l.identification(keys), nil); err != nil {
					t.Fatal(err)
				}
				all = append(all, l) // newest first
			}
			ref := func(l listed) identification.Ref { return identification.Ref{Org: l.org, Type: l.typ, ID: l.id} }
			admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "t"}
			// all[1] is deleted, all[3] cancelled, each just before the
			// page that holds it reads it.
			gone := map[string]func(){
				all[1].id: func() {
					if err := cleanStore.Delete(context.Background(), ref(all[1]), true, admin, now); err != nil {
						t.Error(err)
					}
				},
				all[3].id: func() {
					if _, err := cleanSvc.Cancel(context.Background(), ref(all[3]), "gone", admin); err != nil {
						t.Error(err)
					}
				},
			}
			hook.do = func(pks []string) {
				for _, pk := range pks {
					for id, do := range gone {
						if strings.HasSuffix(pk, id) {
							do()
							delete(gone, id)
						}
					}
				}
			}
			q := identification.ListQuery{Statuses: tc.statuses, Limit: 1}
			var got []string
			var sizes []int
			for pages := 0; pages < 20; pages++ {
				p, err := svc.List(context.Background(), tc.org, identification.TypeOTP, q)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(p.Items))
				for _, i := range p.Items {
					got = append(got, i.ID)
				}
				if p.NextCursor == "" {
					break
				}
				q.Cursor = p.NextCursor
			}
			var want []string
			for _, n := range tc.want {
				want = append(want, all[n].id)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("statuses %v: listed %v (page sizes %v), want %v", tc.statuses, got, sizes, want)
			}
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("statuses %v: page sizes %v, want %v", tc.statuses, sizes, tc.wantSizes)
			}
		}
	})
}
