// Package stats is an organisation's statistics (docs/api.md#statistics):
// hourly counts of what happened to its processes and their codes, by
// channel, country and type, counted by the stream processor as changes
// happen and read by the stats route. It holds no actor value: a count is
// keyed by a metric, a dimension and a value of a closed, short alphabet
// (a channel, an ISO country, a type).
package stats

import (
	"context"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The metrics counted.
const (
	Created        = "created"
	CodesSent      = "codes_sent"
	Delivered      = "delivered"
	DeliveryFailed = "delivery_failed"
	Blocked        = "blocked"
	Flagged        = "flagged"
	Completed      = "completed"
	Failed         = "failed"
	Expired        = "expired"
	Cancelled      = "cancelled"
)

// Metrics are the counted metrics in the order a report shows them.
var Metrics = []string{Created, CodesSent, Delivered, DeliveryFailed, Blocked, Flagged, Completed, Failed, Expired, Cancelled}

// The dimensions a count is kept by: every count is kept once in each, so
// the sum over one dimension's values is the organisation's total.
const (
	ByChannel = "channel"
	ByCountry = "country"
	ByType    = "type"
)

// Dimensions are the dimensions, as group_by names them.
var Dimensions = []string{ByChannel, ByCountry, ByType}

// Unknown is the value of a dimension a process has none of: the channel
// of a chain without a code step, the country of an actor without a phone
// number or of one no calling code maps.
const Unknown = "NONE"

// LatencyBounds are the upper edges, in milliseconds, of the buckets the
// delivery times are counted in; a time above the last is counted in an
// overflow bucket reported as the last edge. A percentile is the edge of
// the bucket that holds it: at most that long.
var LatencyBounds = []int64{250, 500, 1000, 2000, 3000, 5000, 10000, 20000, 30000, 60000, 120000, 300000}

// Dims are the values of a process (or a refused send) in each dimension.
type Dims struct {
	Channel, Country, Type string
}

// values lists d's values in Dimensions' order, each Unknown when empty or
// outside the alphabet a count's name may hold.
func (d Dims) values() [3]string {
	out := [3]string{d.Channel, d.Country, d.Type}
	for n, v := range out {
		if !plain(v) {
			out[n] = Unknown
		}
	}
	return out
}

// plain reports whether v is 1 to 16 of A-Z, 0-9 and _.
func plain(v string) bool {
	if v == "" || len(v) > 16 {
		return false
	}
	for _, c := range v {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Counts are the counters of one organisation's hour by name (Name): a
// metric's or a delivery-time bucket's code, a dimension's and a value,
// "dl|cc|ES". The codes are short because an hour's item holds every
// counter it counted and a write costs a unit per KB of it.
type Counts map[string]int64

// codes are the metrics' codes in a counter's name; a delivery-time
// bucket's is "m" and its number.
var codes = map[string]string{Created: "cr", CodesSent: "cs", Delivered: "dl", DeliveryFailed: "df", Blocked: "bl", Flagged: "fl",
	Completed: "co", Failed: "fa", Expired: "ex", Cancelled: "ca"}

// dimCodes are the dimensions' codes in a counter's name.
var dimCodes = map[string]string{ByChannel: "ch", ByCountry: "cc", ByType: "ty"}

// Name is the counter of metric (or of a bucket's code) in dimension dim
// for value.
func Name(metric, dim, value string) string {
	code, ok := codes[metric]
	if !ok {
		code = metric
	}
	return code + "|" + dimCodes[dim] + "|" + value
}

// metricsByCode names the metric of each code.
var metricsByCode = func() map[string]string {
	out := make(map[string]string, len(codes))
	for m, c := range codes {
		out[c] = m
	}
	return out
}()

// metricOf is the metric (or bucket) a counter's code names.
func metricOf(code string) string {
	if m, ok := metricsByCode[code]; ok {
		return m
	}
	return code
}

func bucketOf(ms int64) int {
	for n, b := range LatencyBounds {
		if ms <= b {
			return n
		}
	}
	return len(LatencyBounds)
}

// Slot is one organisation's hour.
type Slot struct {
	Org  string
	Hour time.Time
}

// Tally adds up counts in memory, per organisation and hour, until they
// are written together (Flush): one write per slot a batch touched.
type Tally struct {
	slots map[Slot]Counts
}

func (t *Tally) counts(org string, at time.Time) Counts {
	if t.slots == nil {
		t.slots = map[Slot]Counts{}
	}
	s := Slot{Org: org, Hour: at.UTC().Truncate(time.Hour)}
	c := t.slots[s]
	if c == nil {
		c = Counts{}
		t.slots[s] = c
	}
	return c
}

// Count counts one of metric at at, in each of d's dimensions.
func (t *Tally) Count(org string, at time.Time, d Dims, metric string) {
	c := t.counts(org, at)
	for n, v := range d.values() {
		c[Name(metric, Dimensions[n], v)]++
	}
}

// Latency counts one delivery of ms milliseconds at at, in each of d's
// dimensions.
func (t *Tally) Latency(org string, at time.Time, d Dims, ms int64) {
	c := t.counts(org, at)
	b := bucketName(bucketOf(ms))
	for n, v := range d.values() {
		c[Name(b, Dimensions[n], v)]++
	}
}

func bucketName(n int) string { return "m" + strconv.Itoa(n) }

// Len is how many slots hold counts.
func (t *Tally) Len() int { return len(t.slots) }

// Adder writes counts: dynamostore.Store adds them to the stored hour.
type Adder interface {
	AddStats(ctx context.Context, org string, hour time.Time, c Counts) error
}

// Flush writes every slot's counts and empties the tally; it returns the
// first error and drops the counts it could not write (a count is never
// written twice: docs/api.md#statistics says what a failure loses).
func (t *Tally) Flush(ctx context.Context, to Adder) error {
	var first error
	for _, s := range slices.SortedFunc(maps.Keys(t.slots), func(a, b Slot) int {
		if c := strings.Compare(a.Org, b.Org); c != 0 {
			return c
		}
		return a.Hour.Compare(b.Hour)
	}) {
		if err := to.AddStats(ctx, s.Org, s.Hour, t.slots[s]); err != nil && first == nil {
			first = err
		}
	}
	t.slots = nil
	return first
}

// Hour is one stored hour of an organisation's counts.
type Hour struct {
	At     time.Time
	Counts Counts
}

// Reader reads the stored hours of an organisation in [from, to), in any
// order, one per hour that has counts.
type Reader interface {
	Stats(ctx context.Context, org string, from, to time.Time) ([]Hour, error)
}

// MaxRange is the longest span one read covers.
const MaxRange = 31 * 24 * time.Hour

// Row is the counts of one hour (or of the whole span) of one group.
type Row struct {
	Hour  *time.Time
	Group string
	// Values are the metrics' counts, by metric.
	Values map[string]int64
	// Conversion is completed ÷ created, nil when none was created.
	Conversion *float64
	// P50 and P95 are the delivery-time percentiles in milliseconds (at
	// most, to a bucket's edge), nil when nothing was delivered.
	P50, P95 *int64
}

// Report groups hours by groupBy (one of Dimensions, or "" for the
// organisation's total): a row per hour and group with any count, oldest
// hour first and groups in name order, and a row per group for the whole
// span.
func Report(hours []Hour, groupBy string) (rows, totals []Row) {
	dim := dimCodes[groupBy]
	if groupBy == "" {
		dim = dimCodes[ByType] // every count is kept by type: their sum is the total
	}
	type key struct {
		hour  time.Time
		group string
	}
	per := map[key]Counts{}
	all := map[string]Counts{}
	for _, h := range hours {
		for name, n := range h.Counts {
			parts := strings.Split(name, "|")
			if len(parts) != 3 || parts[1] != dim {
				continue
			}
			g := parts[2]
			if groupBy == "" {
				g = ""
			}
			k := key{h.At.UTC(), g}
			if per[k] == nil {
				per[k] = Counts{}
			}
			m := metricOf(parts[0])
			per[k][m] += n
			if all[g] == nil {
				all[g] = Counts{}
			}
			all[g][m] += n
		}
	}
	keys := slices.SortedFunc(maps.Keys(per), func(a, b key) int {
		if c := a.hour.Compare(b.hour); c != 0 {
			return c
		}
		return strings.Compare(a.group, b.group)
	})
	for _, k := range keys {
		at := k.hour
		rows = append(rows, row(&at, k.group, per[k]))
	}
	for _, g := range slices.Sorted(maps.Keys(all)) {
		totals = append(totals, row(nil, g, all[g]))
	}
	return rows, totals
}

func row(hour *time.Time, group string, c Counts) Row {
	r := Row{Hour: hour, Group: group, Values: make(map[string]int64, len(Metrics))}
	for _, m := range Metrics {
		r.Values[m] = c[m]
	}
	if c[Created] > 0 {
		v := math.Round(float64(c[Completed])/float64(c[Created])*1e4) / 1e4
		r.Conversion = &v
	}
	r.P50, r.P95 = percentile(c, 0.50), percentile(c, 0.95)
	return r
}

// percentile is the edge of the bucket holding the q-th delivery time of
// c's buckets (nil when they hold none).
func percentile(c Counts, q float64) *int64 {
	var total int64
	for n := range len(LatencyBounds) + 1 {
		total += c[bucketName(n)]
	}
	if total == 0 {
		return nil
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for n := range len(LatencyBounds) + 1 {
		seen += c[bucketName(n)]
		if seen >= rank {
			edge := LatencyBounds[min(n, len(LatencyBounds)-1)]
			return &edge
		}
	}
	return nil
}
