// Package costmodel prices what DynamoDB charges for the calls a flow
// makes, from the items themselves: each write's item before and after,
// each read's items, the table's indexes as template.yaml defines them,
// and the stream function's filter. It computes write and read units on
// the table and on each index, the write units each partition key value
// takes (the table's and every index's: the hottest key), and the stream
// records the writes produce and how many of them the stream function is
// invoked for.
//
// A Recorder (recorder.go), installed on a DynamoDB client as SDK
// middleware, captures the calls: before every write it reads the items
// the write touches, strongly, with a client of its own that it does not
// record, and reads them again after. Model.Cost prices them under the
// rules size.go cites. Nothing of the layout is written here: a different
// key, projection, index or filter in template.yaml, or a different item,
// gives different figures.
package costmodel

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TransactionIndexFactor is how many times a transaction's write of an
// item is charged on an index it changes. The guide says a transaction
// makes "two underlying reads or writes of every item" (prepare and
// commit; its example: three 500-byte items take 6 write units) and says
// nothing of its indexes; the model charges them twice too, the upper
// bound, and charges a ConditionCheck as a write of the item it checks,
// twice (a check of a small item: 2 units, as DynamoDB is reported to
// charge). The local engines disagree with each other here (see
// TestModelAgreesWithEngines): dynoxide charges index writes once,
// DynamoDB Local twice, but it reports two small new items of one
// transaction as 2 units in all, against the guide's own example.
const TransactionIndexFactor = 2

// Write is one item a write call touched.
type Write struct {
	// Op is the write's kind: PutItem, UpdateItem, DeleteItem, or
	// ConditionCheck (a transaction's check of an item it leaves alone).
	Op string
	// Transactional is set for a part of a TransactWriteItems.
	Transactional bool
	// Failed is set when the write was refused (its condition false, or
	// its transaction cancelled): nothing changed, and DynamoDB still
	// charges the table for it.
	Failed bool
	// Key is the item's table key.
	Key map[string]types.AttributeValue
	// Before and After are the item before and after the call (nil when
	// there was none).
	Before, After map[string]types.AttributeValue
}

// Changed reports whether the write changed the item.
func (w Write) Changed() bool {
	return !w.Failed && w.Op != "ConditionCheck" && !reflect.DeepEqual(w.Before, w.After)
}

// Read is what one read call read.
type Read struct {
	// Op is the read: GetItem, BatchGetItem, TransactGetItems, Query or
	// Scan.
	Op string
	// Index is the index a Query or Scan read ("" for the table).
	Index string
	// Consistent is set for a strongly consistent read.
	Consistent bool
	// Transactional is set for TransactGetItems.
	Transactional bool
	// PerItem is set where DynamoDB rounds each item alone (GetItem,
	// BatchGetItem, TransactGetItems); a Query or Scan sums its items
	// before rounding.
	PerItem bool
	// Sizes are the sizes of the items read, whole (a projection does not
	// make a read cheaper); a missing item is 0.
	Sizes []int
}

// Call is one DynamoDB call a recorded client made.
type Call struct {
	Op     string
	Writes []Write
	Reads  []Read
	// Err is the call's error code ("" when it succeeded).
	Err string
	// Reported is what the engine said the call consumed (nil when it
	// said nothing).
	Reported *Reported
}

// Reported is the ConsumedCapacity an engine returned for a call, summed
// over its tables.
type Reported struct {
	// Total is CapacityUnits.
	Total float64
	// Table is the table's own units, when given apart (HasTable).
	Table    float64
	HasTable bool
	// Indexes are the global secondary indexes' units, by name.
	Indexes map[string]float64
}

// PartitionKey is one partition key value: the table's (Index "") or an
// index's.
type PartitionKey struct {
	Index string
	Value string
}

func (k PartitionKey) String() string {
	if k.Index == "" {
		return "table " + k.Value
	}
	return k.Index + " " + k.Value
}

// Cost is what calls cost.
type Cost struct {
	// TableWCU and IndexWCU are the write units on the table and on each
	// index; WCU is their sum.
	TableWCU float64
	IndexWCU map[string]float64
	WCU      float64
	// RCU are the read units.
	RCU float64
	// ByKey are the write units each partition key value took.
	ByKey map[PartitionKey]float64
	// StreamRecords are the records the writes put on the table's
	// stream; StreamInvocations the invocations of the functions the
	// stream feeds, for the records their event sources' filters let
	// through (all of them for a source without one): one invocation a
	// record when they come one at a time. Invocations are by function
	// (StreamSource.Name).
	StreamRecords     int
	StreamInvocations int
	Invocations       map[string]int
	// Calls, Writes and Reads count what was priced.
	Calls, Writes, Reads int
}

// Add adds o to c.
func (c *Cost) Add(o Cost) {
	c.TableWCU += o.TableWCU
	c.WCU += o.WCU
	c.RCU += o.RCU
	if c.IndexWCU == nil {
		c.IndexWCU = map[string]float64{}
	}
	for k, v := range o.IndexWCU {
		c.IndexWCU[k] += v
	}
	if c.ByKey == nil {
		c.ByKey = map[PartitionKey]float64{}
	}
	for k, v := range o.ByKey {
		c.ByKey[k] += v
	}
	c.StreamRecords += o.StreamRecords
	c.StreamInvocations += o.StreamInvocations
	if c.Invocations == nil {
		c.Invocations = map[string]int{}
	}
	for k, v := range o.Invocations {
		c.Invocations[k] += v
	}
	c.Calls += o.Calls
	c.Writes += o.Writes
	c.Reads += o.Reads
}

// Hottest are the partition key values that took the most write units,
// in order, and their units.
func (c Cost) Hottest() ([]PartitionKey, float64) {
	var keys []PartitionKey
	units := 0.0
	for _, k := range slices.SortedFunc(maps.Keys(c.ByKey), func(a, b PartitionKey) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Value, b.Value))
	}) {
		switch u := c.ByKey[k]; {
		case u > units:
			keys, units = []PartitionKey{k}, u
		case u == units && u > 0:
			keys = append(keys, k)
		}
	}
	return keys, units
}

// Describe names keys briefly: the first two, and how many more there
// are (the partition key values that tie for the hottest can be many:
// one per process, say).
func Describe(keys []PartitionKey) string {
	var names []string
	for _, k := range keys[:min(2, len(keys))] {
		names = append(names, k.String())
	}
	s := strings.Join(names, "; ")
	if len(keys) > 2 {
		s += fmt.Sprintf("; and %d more alike", len(keys)-2)
	}
	return s
}

// Model prices calls on one table.
type Model struct {
	Table Table
	// Sources are the event sources that feed the table's stream to
	// functions.
	Sources []StreamSource
}

// StreamSource is an event source mapping of the table's stream to a
// function.
type StreamSource struct {
	// Function is the function's logical id, Name the last element of
	// its CodeUri ("stream").
	Function, Name string
	// Filters are its event filter patterns: a record any one of them
	// matches invokes the function; none lets every record through.
	Filters []Pattern
	// BatchSize is the most records one invocation gets (0 when unset).
	BatchSize int
}

// Cost prices calls.
func (m Model) Cost(calls []Call) (Cost, error) {
	total := Cost{IndexWCU: map[string]float64{}, ByKey: map[PartitionKey]float64{}, Invocations: map[string]int{}}
	for _, c := range calls {
		cc, err := m.Call(c)
		if err != nil {
			return Cost{}, err
		}
		total.Add(cc)
	}
	return total, nil
}

// Call prices one call.
func (m Model) Call(c Call) (Cost, error) {
	cost := Cost{IndexWCU: map[string]float64{}, ByKey: map[PartitionKey]float64{}, Invocations: map[string]int{}, Calls: 1}
	for _, w := range c.Writes {
		if err := m.write(&cost, w); err != nil {
			return Cost{}, fmt.Errorf("%s: %w", c.Op, err)
		}
	}
	for _, r := range c.Reads {
		cost.RCU += ReadCost(r)
		cost.Reads++
	}
	return cost, nil
}

// ReadCost is the read units of r.
func ReadCost(r Read) float64 {
	factor := 1.0
	if r.Transactional {
		factor = TransactionFactor
	}
	if r.PerItem {
		u := 0.0
		for _, s := range r.Sizes {
			u += ReadUnits(s, r.Consistent || r.Transactional)
		}
		return factor * u
	}
	sum := 0
	for _, s := range r.Sizes {
		sum += s
	}
	return factor * ReadUnits(sum, r.Consistent)
}

func (m Model) write(cost *Cost, w Write) error {
	cost.Writes++
	pk, ok := w.Key[m.Table.Key.Partition]
	if !ok {
		return fmt.Errorf("a write without the table's partition key %s", m.Table.Key.Partition)
	}
	tableKey := PartitionKey{Value: KeyText(pk)}
	factor := 1.0
	if w.Transactional {
		factor = TransactionFactor
	}

	// The table: the larger of the item before and after, or, for a
	// refused write or a check, the item as it is.
	units := factor * WriteUnits(max(ItemSize(w.Before), ItemSize(w.After)))
	cost.TableWCU += units
	cost.WCU += units
	cost.ByKey[tableKey] += units
	if !w.Changed() {
		return nil
	}

	// Each index whose entry for the item the write changed.
	indexFactor := 1.0
	if w.Transactional {
		indexFactor = TransactionIndexFactor
	}
	for _, idx := range m.Table.Indexes {
		for _, iw := range m.Table.IndexWrites(idx, w.Before, w.After) {
			u := indexFactor * iw.Units
			cost.IndexWCU[idx.Name] += u
			cost.WCU += u
			cost.ByKey[PartitionKey{Index: idx.Name, Value: iw.Partition}] += u
		}
	}

	// The stream record.
	if m.Table.StreamViewType != "" {
		cost.StreamRecords++
		invoked, err := m.Invoked(m.Table.StreamRecord(w.Key, w.Before, w.After))
		if err != nil {
			return err
		}
		for _, name := range invoked {
			cost.StreamInvocations++
			cost.Invocations[name]++
		}
	}
	return nil
}

// IndexWrite is one write an index takes: its units, on the entry's
// partition key value.
type IndexWrite struct {
	Partition string
	Units     float64
}

// IndexWrites are the writes index idx takes when an item goes from
// before to after (nil for an item that is not there): none when its
// entry does not change (or the item is in the index neither before nor
// after); one to put an entry, one to remove it, one to rewrite it under
// the same key (the larger of the two entries), two (a removal and a put)
// when its key changes.
func (t Table) IndexWrites(idx Index, before, after map[string]types.AttributeValue) []IndexWrite {
	eb, ea := t.Entry(idx, before), t.Entry(idx, after)
	partition := func(e map[string]types.AttributeValue) string { return KeyText(e[idx.Key.Partition]) }
	sameKey := func() bool {
		for _, name := range idx.Key.Names() {
			if !reflect.DeepEqual(eb[name], ea[name]) {
				return false
			}
		}
		return true
	}
	switch {
	case eb == nil && ea == nil:
		return nil
	case eb == nil:
		return []IndexWrite{{partition(ea), WriteUnits(ItemSize(ea))}}
	case ea == nil:
		return []IndexWrite{{partition(eb), WriteUnits(ItemSize(eb))}}
	case !sameKey():
		return []IndexWrite{{partition(eb), WriteUnits(ItemSize(eb))}, {partition(ea), WriteUnits(ItemSize(ea))}}
	case reflect.DeepEqual(eb, ea):
		return nil
	default:
		return []IndexWrite{{partition(ea), WriteUnits(max(ItemSize(eb), ItemSize(ea)))}}
	}
}
