package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// seeded is a process the test created, as the listing must find it.
type seeded struct {
	org    string
	typ    identification.Type
	id     string
	status identification.Status
	pos    string
}

// seed creates n processes over two organisations, both types, every
// status but the open ones past their expiry, through the store (this
// release's keys); and one deleted process, whose tombstone must stay out
// of the listing.
func seed(t *testing.T, s *dynamostore.Store, n int) []seeded {
	t.Helper()
	var out []seeded
	for k := range n {
		org, typ := []string{"acme", "globex"}[k%2], []identification.Type{identification.TypeOTP, identification.TypeChain}[k/2%2]
		st := identification.Statuses[k%len(identification.Statuses)]
		created := now.Add(-time.Duration(n-k) * 7 * time.Hour).Truncate(time.Second)
		i := &identification.Identification{
			ID: uuid.Must(uuid.NewV7()).String(), OrgID: org, Type: typ, Status: st,
			CreatedAt: created, UpdatedAt: created, ExpiresAt: now.Add(time.Hour),
			Actor: identification.Actor{Name: "Backfilled", Email: "b@example.com"}, Version: 1,
		}
		if typ == identification.TypeChain {
			i.Sequence = []identification.Step{{IdentificationType: identification.StepAgent}}
			i.SyncSteps()
		}
		if !st.Open() {
			end := created.Add(time.Minute)
			i.EndedAt = &end
		}
		if err := s.Create(context.Background(), i, nil); err != nil {
			t.Fatal(err)
		}
		out = append(out, seeded{org: org, typ: typ, id: i.ID, status: st, pos: identification.Position(i)})
	}
	gone := out[0]
	if err := s.Delete(context.Background(), identification.Ref{Org: gone.org, Type: gone.typ, ID: gone.id}, true,
		identification.Caller{Kind: identification.CallerAdmin, Sub: "t"}, now); err != nil {
		t.Fatal(err)
	}
	return out[1:]
}

// toPreviousShape rewrites every process item as earlier releases wrote
// it: l_month and l_status unsharded, the status's partition l_org_status,
// no l_org; and every fifth as written before the listing existed, without
// ls either.
func toPreviousShape(t *testing.T, client *dynamodb.Client, table string, all []seeded) {
	t.Helper()
	for n, p := range all {
		created := time.Unix(mustSeconds(t, p.pos), 0).UTC()
		update := "SET l_month = :m, l_status = :s, l_org_status = :o REMOVE l_org"
		if n%5 == 0 {
			update += ", ls"
		}
		_, err := client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
			TableName: aws.String(table),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "ORG#" + p.org + "#" + string(p.typ) + "#" + p.id},
				"sk": &types.AttributeValueMemberS{Value: "P"},
			},
			UpdateExpression: aws.String(update),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":m": &types.AttributeValueMemberS{Value: p.org + "#" + string(p.typ) + "#" + created.Format("200601")},
				":s": &types.AttributeValueMemberS{Value: p.org + "#" + string(p.typ) + "#" + string(p.status)},
				":o": &types.AttributeValueMemberS{Value: p.org + "#" + string(p.typ) + "#" + string(p.status) + "#00"},
			},
			ConditionExpression: aws.String("attribute_exists(pk)"),
		})
		if err != nil {
			t.Fatalf("rewrite %s in the previous shape: %v", p.id, err)
		}
	}
}

func mustSeconds(t *testing.T, pos string) int64 {
	t.Helper()
	var sec int64
	if _, err := fmt.Sscanf(pos, "%011d#", &sec); err != nil {
		t.Fatalf("position %q: %v", pos, err)
	}
	return sec
}

// listAll pages through a listing of org and t, 7 at a time.
func listAll(t *testing.T, svc *identification.Service, org string, typ identification.Type, q identification.ListQuery) []string {
	t.Helper()
	q.Limit = 7
	var ids []string
	for range 200 {
		p, err := svc.List(context.Background(), org, typ, q)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, i := range p.Items {
			ids = append(ids, i.ID)
		}
		if p.NextCursor == "" {
			return ids
		}
		q.Cursor = p.NextCursor
	}
	t.Fatal("the listing does not end")
	return nil
}

// want is what a listing of org and t (in one status, when st is not
// "") must answer: newest first.
func want(all []seeded, org string, typ identification.Type, st identification.Status) []string {
	var w []seeded
	for _, p := range all {
		if p.org == org && p.typ == typ && (st == "" || p.status == st) {
			w = append(w, p)
		}
	}
	slices.SortFunc(w, func(a, b seeded) int { return strings.Compare(b.pos, a.pos) })
	ids := make([]string, len(w))
	for n, p := range w {
		ids[n] = p.id
	}
	return ids
}

// checkListings lists every organisation, type and status and compares.
func checkListings(t *testing.T, svc *identification.Service, all []seeded) {
	t.Helper()
	for _, org := range []string{"acme", "globex"} {
		for _, typ := range []identification.Type{identification.TypeOTP, identification.TypeChain} {
			if got, w := listAll(t, svc, org, typ, identification.ListQuery{}), want(all, org, typ, ""); !slices.Equal(got, w) {
				t.Errorf("%s %s: listed %d, want %d", org, typ, len(got), len(w))
			}
			for _, st := range identification.Statuses {
				got := listAll(t, svc, org, typ, identification.ListQuery{Statuses: []identification.Status{st}})
				if w := want(all, org, typ, st); !slices.Equal(got, w) {
					t.Errorf("%s %s status %s: listed %d, want %d", org, typ, st, len(got), len(w))
				}
			}
		}
	}
}

// TestBackfillListsProcessesOfThePreviousShape: processes as the previous
// release wrote them are in no listing of this one; one pass gives them
// their keys (and ls to those written before the listing), writing nothing
// else and leaving the tombstone alone; then every listing answers exactly
// them. A second pass writes nothing; a pass stopped half way goes on from
// its state file.
func TestBackfillListsProcessesOfThePreviousShape(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		client, table, counter := enginetest.NewTable(t, e)
		store := dynamostore.New(client, dynamostore.Options{Table: table})
		keys, err := identification.NewCodeKeys("k1", []byte("backfill-test-key-of-at-least-32-bytes"), nil)
		if err != nil {
			t.Fatal(err)
		}
		svc := identification.NewService(store, identification.WithClock(func() time.Time { return now }), identification.WithCodeKeys(keys))
		all := seed(t, store, 120)
		toPreviousShape(t, client, table, all)
		if got := listAll(t, svc, "acme", identification.TypeOTP, identification.ListQuery{}); len(got) != 0 {
			t.Fatalf("before the backfill the listing answers %d processes of the previous shape, want none", len(got))
		}
		before := scanAll(t, client, table)

		// A pass stopped after its first page: the state file says where
		// its one segment goes on. (A page of 40 items, on a scan of
		// every item, tombstone included.)
		first, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(40)})
		if err != nil {
			t.Fatal(err)
		}
		skipped := 0
		for _, it := range first.Items {
			if it["kind"].(*types.AttributeValueMemberS).Value == "process" {
				skipped++
			}
		}
		next, err := toKey(first.LastEvaluatedKey)
		if err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(t.TempDir(), "state.json")
		writeState(t, state, progress{Table: table, Segments: 1, Done: []bool{false}, Next: []map[string]string{next}})
		var out strings.Builder
		c, err := backfill(context.Background(), client, table, options{Segments: 1, State: state}, &out)
		if err != nil {
			t.Fatalf("resumed pass: %v\n%s", err, out.String())
		}
		if c.Scanned != len(all)-skipped || c.Written != c.Scanned {
			t.Errorf("resumed pass: %+v, want %d scanned and written (the %d before its start left)", c, len(all)-skipped, skipped)
		}
		again, err := backfill(context.Background(), client, table, options{Segments: 1, State: state}, &out)
		if err != nil || again.Scanned != 0 {
			t.Errorf("a pass whose state file says it is done: %+v, %v; want nothing scanned", again, err)
		}

		// A whole pass in three segments, from a fresh state file: the
		// rest is written, what the resumed pass wrote is current.
		counter.Reset()
		state = filepath.Join(t.TempDir(), "state.json")
		c, err = backfill(context.Background(), client, table, options{Segments: 3, State: state}, &out)
		if err != nil {
			t.Fatalf("pass: %v\n%s", err, out.String())
		}
		if c.Scanned != len(all) || c.Written != skipped || c.Current != len(all)-skipped {
			t.Errorf("pass: %+v, want %d scanned, %d written, the rest current", c, len(all), skipped)
		}
		if got := counter.ByOperation(); got["UpdateItem"] != skipped || len(got) != 2 {
			t.Errorf("pass calls %v, want Scans and %d UpdateItems only", got, skipped)
		}
		if !strings.Contains(out.String(), "segment 3/3: ") || !strings.Contains(out.String(), fmt.Sprintf("this pass: %d processes scanned", len(all))) {
			t.Errorf("the pass printed:\n%s", out.String())
		}
		t.Logf("the passes printed:\n%s", out.String())
		checkListings(t, svc, all)
		checkOnlyKeysWritten(t, before, scanAll(t, client, table))

		counter.Reset()
		c, err = backfill(context.Background(), client, table, options{Segments: 2, State: ""}, &out)
		if err != nil || c.Written != 0 || c.Current != len(all) || counter.Count("UpdateItem") != 0 {
			t.Errorf("a second pass: %+v, %v, %d UpdateItems; want every process current, nothing written", c, err, counter.Count("UpdateItem"))
		}
	})
}

func writeState(t *testing.T, path string, p progress) {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func scanAll(t *testing.T, client *dynamodb.Client, table string) map[string]map[string]types.AttributeValue {
	t.Helper()
	out := map[string]map[string]types.AttributeValue{}
	in := &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	for {
		page, err := client.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			out[it["pk"].(*types.AttributeValueMemberS).Value] = it
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// checkOnlyKeysWritten: the pass set l_org and a missing ls, removed
// l_org_status, and changed nothing else of any item.
func checkOnlyKeysWritten(t *testing.T, before, after map[string]map[string]types.AttributeValue) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%d items before the pass, %d after", len(before), len(after))
	}
	for pk, b := range before {
		a := after[pk]
		for attr := range a {
			if _, was := b[attr]; !was && attr != "l_org" && attr != "ls" {
				t.Errorf("%s: the pass added %s", pk, attr)
			}
		}
		if _, ok := a["l_org_status"]; ok {
			t.Errorf("%s: the pass left l_org_status", pk)
		}
		for attr, v := range b {
			if attr == "ls" || attr == "l_org_status" {
				continue
			}
			if got, ok := a[attr]; !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s: the pass changed %s", pk, attr)
			}
		}
		if kind := a["kind"].(*types.AttributeValueMemberS).Value; kind != "process" {
			if _, ok := a["l_org"]; ok {
				t.Errorf("%s: the pass gave a %s listing keys", pk, kind)
			}
		}
	}
}
