package costmodel_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/costmodel"
)

// The worked examples of DynamoDB's Developer Guide, each under the page
// it is from:
//   - CapacityUnitCalculations.html, "DynamoDB item sizes and formats";
//   - read-write-operations.html, "DynamoDB read and write operations";
//   - transaction-apis.html, "Capacity management for transactions";
//   - GSI.html, "Provisioned throughput considerations for global
//     secondary indexes".

const kb = 1024

func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// TestItemSizes: an item is the sum of its attribute names and values
// (CapacityUnitCalculations.html).
func TestItemSizes(t *testing.T) {
	for _, c := range []struct {
		what string
		item map[string]types.AttributeValue
		want int
	}{
		{"a string is its name and its UTF-8 bytes", map[string]types.AttributeValue{"name": s("Ana")}, 4 + 3},
		{"a string counts UTF-8 bytes, not characters", map[string]types.AttributeValue{"city": s("Málaga")}, 4 + 7},
		{"a number is a byte per two significant digits and one", map[string]types.AttributeValue{"n": n("27")}, 1 + 1 + 1},
		{"three digits start a second pair", map[string]types.AttributeValue{"n": n("123")}, 1 + 2 + 1},
		{"leading and trailing zeroes are trimmed", map[string]types.AttributeValue{"n": n("001795000000")}, 1 + 2 + 1},
		{"a decimal point and a sign are not digits", map[string]types.AttributeValue{"n": n("-0.0015")}, 1 + 1 + 1},
		{"a binary is its raw bytes", map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 3}}}, 1 + 4},
		{"a Boolean or a null is one byte", map[string]types.AttributeValue{"ok": &types.AttributeValueMemberBOOL{Value: true}, "no": &types.AttributeValueMemberNULL{Value: true}}, 2 + 1 + 2 + 1},
		{"an empty list or map is 3 bytes", map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{}, "m": &types.AttributeValueMemberM{}}, 1 + 3 + 1 + 3},
		{"a list is 3 bytes and each element one more", map[string]types.AttributeValue{"tags": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), s("bc")}}},
			4 + 3 + (1 + 1) + (1 + 2)},
		{"a map's elements count their names", map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v"), "num": n("5")}}},
			1 + 3 + (1 + 1 + 1) + (1 + 3 + 2)},
		{"a set is its elements", map[string]types.AttributeValue{"ss": &types.AttributeValueMemberSS{Value: []string{"a", "bb"}}, "ns": &types.AttributeValueMemberNS{Value: []string{"1", "22"}}},
			2 + 3 + 2 + 2 + 2},
		{"no item is nothing", nil, 0},
	} {
		if got := costmodel.ItemSize(c.item); got != c.want {
			t.Errorf("%s: %d bytes, want %d", c.what, got, c.want)
		}
	}
}

// TestUnits: the guide's examples of write and read units
// (read-write-operations.html).
func TestUnits(t *testing.T) {
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"writing a 500-byte item costs as writing 1 KB", costmodel.WriteUnits(500), 1},
		{"a put or delete of 1.6 KB is rounded up to 2 KB", costmodel.WriteUnits(1638 /* 1.6 KB */), 2},
		{"exactly 1 KB is one unit", costmodel.WriteUnits(kb), 1},
		{"reading 3,500 bytes costs as reading 4 KB", costmodel.ReadUnits(3500, true), 1},
		{"8 KB read strongly is 2 units", costmodel.ReadUnits(8*kb, true), 2},
		{"8 KB read eventually is 1 unit", costmodel.ReadUnits(8*kb, false), 1},
		{"10 KB is rounded up to 12 KB", costmodel.ReadUnits(10*kb, true), 3},
		{"80 KB read eventually is 10 units", costmodel.ReadUnits(80*kb, false), 10},
		{"reading no item still costs a unit strongly", costmodel.ReadUnits(0, true), 1},
		{"and half a unit eventually", costmodel.ReadUnits(0, false), 0.5},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v units, want %v", c.what, c.got, c.want)
		}
	}
}

// TestReadCosts: how each read sums its items (read-write-operations.html;
// a transactional read, transaction-apis.html; an index's, GSI.html).
func TestReadCosts(t *testing.T) {
	for _, c := range []struct {
		what string
		read costmodel.Read
		want float64
	}{
		{"a BatchGetItem of 1.5 KB and 6.5 KB rounds each: 4 KB + 8 KB", costmodel.Read{Op: "BatchGetItem", PerItem: true, Consistent: true,
			Sizes: []int{int(1.5 * kb), int(6.5 * kb)}}, 3},
		{"a Query of 10 items of 40.8 KB in all rounds the sum to 44 KB", costmodel.Read{Op: "Query", Consistent: true,
			Sizes: repeat(4178 /* 4.08 KB */, 10)}, 11},
		{"a Query of 1500 items of 64 bytes reads 96 KB", costmodel.Read{Op: "Query", Consistent: true, Sizes: repeat(64, 1500)}, 24},
		{"an index Query of 8 entries of 2000 bytes, eventually consistent: 16,000 bytes, 2 units", costmodel.Read{Op: "Query", Index: "i",
			Sizes: repeat(2000, 8)}, 2},
		{"a transaction reading three 500-byte items takes 6 units", costmodel.Read{Op: "TransactGetItems", PerItem: true, Transactional: true,
			Sizes: repeat(500, 3)}, 6},
		{"an eventually consistent GetItem of a missing item takes half a unit", costmodel.Read{Op: "GetItem", PerItem: true, Sizes: []int{0}}, 0.5},
	} {
		if got := costmodel.ReadCost(c.read); got != c.want {
			t.Errorf("%s: %v units, want %v", c.what, got, c.want)
		}
	}
}

func repeat(v, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = v
	}
	return out
}

// gameScores is the guide's GameScores table (GSI.html) with its
// GameTitleIndex (GameTitle, TopScore), projecting UserId (a key) only.
var gameScores = costmodel.Table{
	Key: costmodel.KeySchema{Partition: "UserId", Sort: "GameTitle"},
	Indexes: []costmodel.Index{{Name: "GameTitleIndex", Key: costmodel.KeySchema{Partition: "GameTitle", Sort: "TopScore"},
		Projection: types.ProjectionTypeKeysOnly}},
	StreamViewType: types.StreamViewTypeNewAndOldImages,
}

func score(user, title string, extra map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{"UserId": s(user), "GameTitle": s(title)}
	for k, v := range extra {
		it[k] = v
	}
	return it
}

func padded(item map[string]types.AttributeValue, size int) map[string]types.AttributeValue {
	item["Pad"] = s("")
	item["Pad"] = s(strings.Repeat("x", size-costmodel.ItemSize(item)))
	return item
}

// TestWriteCosts: the guide's write rules on the table and on an index.
func TestWriteCosts(t *testing.T) {
	model := costmodel.Model{Table: gameScores}
	key := score("101", "Comet Quest", nil)
	top := func(v string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"TopScore": n(v)}
	}
	for _, c := range []struct {
		what              string
		writes            []costmodel.Write
		table, index, all float64
	}{
		{"PutItem of a new 500-byte item in the index: one unit on the table, one to put the entry (GSI.html)",
			[]costmodel.Write{{Op: "PutItem", Key: key, After: padded(score("101", "Comet Quest", top("5842")), 500)}}, 1, 1, 2},
		{"an UpdateItem is charged for the larger of the item before and after, 3 KB before and 500 bytes after",
			[]costmodel.Write{{Op: "UpdateItem", Key: key, Before: padded(score("101", "Comet Quest", nil), 3*kb), After: padded(score("101", "Comet Quest", nil), 500)}}, 3, 0, 3},
		{"an update changing the index key from A to B: two writes there, a delete and a put",
			[]costmodel.Write{{Op: "UpdateItem", Key: key, Before: score("101", "Comet Quest", top("1")), After: score("101", "Comet Quest", top("2"))}}, 1, 2, 3},
		{"an update removing the index key: one write to delete the entry",
			[]costmodel.Write{{Op: "UpdateItem", Key: key, Before: score("101", "Comet Quest", top("1")), After: score("101", "Comet Quest", nil)}}, 1, 1, 2},
		{"an item in the index neither before nor after: nothing there",
			[]costmodel.Write{{Op: "UpdateItem", Key: key, Before: score("101", "Comet Quest", map[string]types.AttributeValue{"Wins": n("1")}),
				After: score("101", "Comet Quest", map[string]types.AttributeValue{"Wins": n("2")})}}, 1, 0, 1},
		{"an update of an attribute the index does not project: nothing there",
			[]costmodel.Write{{Op: "UpdateItem", Key: key, Before: score("101", "Comet Quest", map[string]types.AttributeValue{"TopScore": n("1"), "Wins": n("1")}),
				After: score("101", "Comet Quest", map[string]types.AttributeValue{"TopScore": n("1"), "Wins": n("2")})}}, 1, 0, 1},
		{"DeleteItem is charged for the deleted item, 1.6 KB: 2 units, and one to delete its entry",
			[]costmodel.Write{{Op: "DeleteItem", Key: key, Before: padded(score("101", "Comet Quest", top("7")), 1638 /* 1.6 KB */)}}, 2, 1, 3},
		{"a BatchWriteItem of 500 bytes and 3.5 KB rounds each: 1 + 4 units",
			[]costmodel.Write{{Op: "PutItem", Key: key, After: padded(score("101", "Comet Quest", nil), 500)},
				{Op: "PutItem", Key: score("102", "Comet Quest", nil), After: padded(score("102", "Comet Quest", nil), int(3.5*kb))}}, 5, 0, 5},
		{"a refused conditional write of a 1 KB item costs one unit, of twice that two; nothing on the index",
			[]costmodel.Write{{Op: "UpdateItem", Failed: true, Key: key, Before: padded(score("101", "Comet Quest", top("1")), kb), After: padded(score("101", "Comet Quest", top("1")), kb)},
				{Op: "UpdateItem", Failed: true, Key: key, Before: padded(score("101", "Comet Quest", top("1")), 2*kb), After: padded(score("101", "Comet Quest", top("1")), 2*kb)}}, 3, 0, 3},
		{"a refused conditional write of an item that does not exist costs one unit",
			[]costmodel.Write{{Op: "PutItem", Failed: true, Key: key}}, 1, 0, 1},
		{"a transaction writing three 500-byte items takes 6 units (transaction-apis.html)",
			[]costmodel.Write{{Op: "PutItem", Transactional: true, Key: key, After: padded(score("101", "A", nil), 500)},
				{Op: "PutItem", Transactional: true, Key: score("102", "A", nil), After: padded(score("102", "A", nil), 500)},
				{Op: "PutItem", Transactional: true, Key: score("103", "A", nil), After: padded(score("103", "A", nil), 500)}}, 6, 0, 6},
		{"a transaction's write to an index is charged twice too (TransactionIndexFactor)",
			[]costmodel.Write{{Op: "PutItem", Transactional: true, Key: key, After: score("101", "Comet Quest", top("1"))}}, 2, 2, 4},
		{"a transaction's ConditionCheck of a small item is two units",
			[]costmodel.Write{{Op: "ConditionCheck", Transactional: true, Key: key, Before: padded(score("101", "A", nil), 500), After: padded(score("101", "A", nil), 500)}}, 2, 0, 2},
		{"and of a 4 KB item, twice a write of it: 8 units",
			[]costmodel.Write{{Op: "ConditionCheck", Transactional: true, Key: key, Before: padded(score("101", "A", nil), 4*kb), After: padded(score("101", "A", nil), 4*kb)}}, 8, 0, 8},
	} {
		cost, err := model.Call(costmodel.Call{Op: "test", Writes: c.writes})
		if err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if cost.TableWCU != c.table || cost.IndexWCU["GameTitleIndex"] != c.index || cost.WCU != c.all {
			t.Errorf("%s: table %v, index %v, all %v; want %v, %v, %v", c.what, cost.TableWCU, cost.IndexWCU["GameTitleIndex"], cost.WCU, c.table, c.index, c.all)
		}
	}
}

// TestProjections: an index entry holds the table's key, the index's key
// and what the projection names; an item without the index's key is not
// in the index.
func TestProjections(t *testing.T) {
	item := map[string]types.AttributeValue{"pk": s("p"), "sk": s("s"), "g": s("G"), "inc": s("i"), "other": s("o")}
	table := costmodel.Table{Key: costmodel.KeySchema{Partition: "pk", Sort: "sk"}}
	for _, c := range []struct {
		idx  costmodel.Index
		item map[string]types.AttributeValue
		want []string
	}{
		{costmodel.Index{Key: costmodel.KeySchema{Partition: "g"}, Projection: types.ProjectionTypeAll}, item, []string{"g", "inc", "other", "pk", "sk"}},
		{costmodel.Index{Key: costmodel.KeySchema{Partition: "g"}, Projection: types.ProjectionTypeKeysOnly}, item, []string{"g", "pk", "sk"}},
		{costmodel.Index{Key: costmodel.KeySchema{Partition: "g"}, Projection: types.ProjectionTypeInclude, NonKey: []string{"inc", "absent"}}, item, []string{"g", "inc", "pk", "sk"}},
		{costmodel.Index{Key: costmodel.KeySchema{Partition: "g", Sort: "absent"}, Projection: types.ProjectionTypeAll}, item, nil},
	} {
		entry := table.Entry(c.idx, c.item)
		var got []string
		for k := range entry {
			got = append(got, k)
		}
		if strings.Join(sorted(got), ",") != strings.Join(c.want, ",") {
			t.Errorf("%s %v: entry %v, want %v", c.idx.Projection, c.idx.Key, sorted(got), c.want)
		}
	}
}

func sorted(l []string) []string {
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j] < l[i] {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return l
}

// TestHottestKey: the units of every write land on the table's partition
// key value and on each index's.
func TestHottestKey(t *testing.T) {
	model := costmodel.Model{Table: gameScores, Sources: []costmodel.StreamSource{{Function: "F", Name: "f"}}}
	var calls []costmodel.Call
	for _, user := range []string{"1", "2", "3"} {
		calls = append(calls, costmodel.Call{Op: "PutItem", Writes: []costmodel.Write{{Op: "PutItem", Key: score(user, "Comet Quest", nil),
			After: score(user, "Comet Quest", map[string]types.AttributeValue{"TopScore": n("0")})}}})
	}
	cost, err := model.Cost(calls)
	if err != nil {
		t.Fatal(err)
	}
	keys, units := cost.Hottest()
	if len(keys) != 1 || keys[0] != (costmodel.PartitionKey{Index: "GameTitleIndex", Value: "Comet Quest"}) || units != 3 {
		t.Errorf("hottest %v with %v units, want the index's Comet Quest with 3", keys, units)
	}
	tied, _ := costmodel.Cost{ByKey: map[costmodel.PartitionKey]float64{{Value: "1"}: 1, {Value: "2"}: 1, {Value: "3"}: 1}}.Hottest()
	if got := costmodel.Describe(tied); got != "table 1; table 2; and 1 more alike" {
		t.Errorf("three tied keys described as %q", got)
	}
	if cost.ByKey[costmodel.PartitionKey{Value: "2"}] != 1 {
		t.Errorf("the table's key 2 took %v units, want 1", cost.ByKey[costmodel.PartitionKey{Value: "2"}])
	}
	if cost.StreamRecords != 3 || cost.StreamInvocations != 3 || cost.Invocations["f"] != 3 {
		t.Errorf("%d stream records, %d invocations (%v); want 3 and 3 of f (no filter)", cost.StreamRecords, cost.StreamInvocations, cost.Invocations)
	}
}
