package costflow

import (
	"cmp"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/costmodel"
)

// DynamoDB's documented limits ("Best practices for designing and using
// partition keys effectively" and "Service, account, and table quotas"
// of the Developer Guide): a partition serves at most 3,000 read and
// 1,000 write units a second, and a partition key value lives in one
// partition; an item is at most 400 KB.
const (
	PartitionWCUPerSecond = 1000
	PartitionRCUPerSecond = 3000
	MaxItemBytes          = 400 * 1024
)

// Limit is one row of the limits table: what one verification takes of
// something that has a limit, and how many verifications a second that
// limit allows.
type Limit struct {
	Scope, What     string
	PerVerification string
	Limit           string
	PerSecond       float64
	// First marks the limit an organisation's verifications reach first.
	First bool
}

// Limits are the limits n verifications of one organisation run into,
// from what the model measured and the template's settings.
func Limits(m Measurement, tmpl *costmodel.Template) []Limit {
	var out []Limit
	// Each partition key value: its write units over all the
	// verifications, and over those that wrote to it.
	touched := map[costmodel.PartitionKey]int{}
	for _, c := range m.Each {
		for k := range c.ByKey {
			touched[k]++
		}
	}
	type index struct {
		values int
		// org is the key value that took the most over all the
		// verifications, part the most per verification that wrote to it.
		org, part costmodel.PartitionKey
	}
	indexes := map[string]*index{}
	for k, units := range m.Total.ByKey {
		ix := indexes[k.Index]
		if ix == nil {
			ix = &index{org: k, part: k}
			indexes[k.Index] = ix
		}
		ix.values++
		if units > m.Total.ByKey[ix.org] {
			ix.org = k
		}
		if units/float64(touched[k]) > m.Total.ByKey[ix.part]/float64(touched[ix.part]) {
			ix.part = k
		}
	}
	wcuLimit := fmt.Sprintf("%s WCU/s per partition key value", thousands(PartitionWCUPerSecond))
	for _, name := range slices.SortedFunc(maps.Keys(indexes), func(a, b string) int { return cmp.Compare(a, b) }) {
		ix := indexes[name]
		label := "the table"
		if name != "" {
			label = "`" + name + "`"
		}
		// An organisation's rate: the key value that took the most over
		// its verifications (the table's keys, one per process, bound no
		// organisation).
		org := m.Per(m.Total.ByKey[ix.org])
		switch {
		case touched[ix.org] == m.N():
			out = append(out, Limit{Scope: "per organisation", What: fmt.Sprintf("%s: one key value for every verification of an organisation (`%s`)", label, ix.org.Value),
				PerVerification: fmt.Sprintf("%.2f WCU", org), Limit: wcuLimit, PerSecond: PartitionWCUPerSecond / org})
		case name != "":
			out = append(out, Limit{Scope: "per organisation", What: fmt.Sprintf("%s: an organisation's writes spread over %d key values in %d verifications (each of a different person); the busiest took this share", label, ix.values, m.N()),
				PerVerification: fmt.Sprintf("%.2f WCU", org), Limit: wcuLimit, PerSecond: PartitionWCUPerSecond / org})
		}
		// One key value: the most it took per verification that wrote to it.
		if touched[ix.part] < m.N() {
			part := m.Total.ByKey[ix.part] / float64(touched[ix.part])
			scope, what := "per index partition", fmt.Sprintf("%s: its busiest key value, per verification that writes it (a person's, a shard's)", label)
			if name == "" {
				scope, what = "per process", "the table: one key value per process"
			}
			out = append(out, Limit{Scope: scope, What: what, PerVerification: fmt.Sprintf("%.1f WCU", part), Limit: wcuLimit, PerSecond: PartitionWCUPerSecond / part})
		}
	}
	// The API's throttling, per route and for every organisation together.
	if rate, err := strconv.ParseFloat(tmpl.Defaults["ApiThrottlingRateLimit"], 64); err == nil {
		for _, route := range slices.Sorted(maps.Keys(Requests)) {
			n := Requests[route]
			out = append(out, Limit{Scope: "the whole API", What: fmt.Sprintf("route `%s`: %d request(s) per verification", route, n),
				PerVerification: fmt.Sprintf("%d request(s)", n), Limit: fmt.Sprintf("%.0f requests/s (`ApiThrottlingRateLimit`'s default)", rate),
				PerSecond: rate / float64(n)})
		}
	}
	// What an organisation's verifications reach first: the least rate of
	// the limits they all share (ties all marked).
	first := 0.0
	for _, l := range out {
		if shared(l) && (first == 0 || l.PerSecond < first) {
			first = l.PerSecond
		}
	}
	for i := range out {
		out[i].First = shared(out[i]) && out[i].PerSecond == first
	}
	// The process item: its size after a verification, and what a change
	// adds.
	if size, growth := processGrowth(m); size > 0 {
		row := Limit{Scope: "per process", What: fmt.Sprintf("the process item: %s bytes after a verification", thousands(size)),
			PerVerification: thousands(size) + " bytes", Limit: "400 KB per item"}
		if growth > 0 {
			row.What += fmt.Sprintf(", about %d more per change of the process (its history); every started KiB is a write unit more on the table and on each index projecting it, per write", growth)
			row.Limit += fmt.Sprintf(": about %s changes", thousands(int((MaxItemBytes-size)/growth)))
		}
		out = append(out, row)
	}
	slices.SortStableFunc(out, func(a, b Limit) int { return cmp.Compare(scopeOrder[a.Scope], scopeOrder[b.Scope]) })
	return out
}

// scopeOrder is the order of the table's rows.
var scopeOrder = map[string]int{"per organisation": 0, "the whole API": 1, "per index partition": 2, "per process": 3}

// shared reports whether every verification of an organisation runs into l.
func shared(l Limit) bool { return l.Scope == "per organisation" || l.Scope == "the whole API" }

// processGrowth is the size of the process item after the first
// verification (the item its first write created) and how much it grew,
// on average, per write that changed it.
func processGrowth(m Measurement) (size, growth int) {
	if m.N() == 0 {
		return 0, 0
	}
	var key map[string]types.AttributeValue
	var sizes []int
	for _, c := range m.Calls[0] {
		for _, w := range c.Writes {
			if !w.Changed() || w.After == nil {
				continue
			}
			if key == nil {
				key = w.Key
			}
			if reflect.DeepEqual(w.Key, key) {
				sizes = append(sizes, costmodel.ItemSize(w.After))
			}
		}
	}
	if len(sizes) == 0 {
		return 0, 0
	}
	size = sizes[len(sizes)-1]
	if len(sizes) > 1 {
		growth = (sizes[len(sizes)-1] - sizes[0]) / (len(sizes) - 1)
	}
	return size, growth
}

// LimitsTable renders the limits as a markdown table.
func LimitsTable(limits []Limit) string {
	var b strings.Builder
	b.WriteString("| scope | what | per verification | limit | verifications/s |\n|---|---|---:|---|---:|\n")
	for _, l := range limits {
		rate := "—"
		if l.PerSecond > 0 {
			rate = thousands(int(l.PerSecond))
			if l.First {
				rate = "**" + rate + "** (first)"
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", l.Scope, l.What, l.PerVerification, l.Limit, rate)
	}
	return b.String()
}

// thousands writes n with a comma between thousands.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
