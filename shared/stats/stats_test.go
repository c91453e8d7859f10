package stats_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/stats"
)

type adder map[string]stats.Counts

func (a adder) AddStats(_ context.Context, org string, hour time.Time, c stats.Counts) error {
	if org == "broken" {
		return errors.New("throttled")
	}
	a[org+" "+hour.Format(time.RFC3339)] = c
	return nil
}

// TestTallyAndReport: a tally keeps one slot per organisation and hour;
// a value outside the counters' alphabet (never an actor value in a
// name) is counted as NONE; a flush that fails for one slot writes the
// others, reports the error and empties the tally; the percentiles are
// the edges of the buckets that hold them, the overflow the last edge.
func TestTallyAndReport(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 59, 59, 0, time.UTC)
	var tally stats.Tally
	tally.Count("acme", at, stats.Dims{Channel: "SMS", Country: "ana@example.com", Type: "OTP"}, stats.Created)
	tally.Count("acme", at.Add(time.Second), stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}, stats.Created)
	tally.Count("broken", at, stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}, stats.Created)
	for _, ms := range []int64{100, 900, 400_000} {
		tally.Latency("acme", at, stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}, ms)
	}
	if tally.Len() != 3 {
		t.Fatalf("%d slots, want 3 (acme at 10:00 and 11:00, broken)", tally.Len())
	}
	got := adder{}
	if err := tally.Flush(context.Background(), got); err == nil || tally.Len() != 0 {
		t.Fatalf("flush: %v, %d slots left; want the broken slot's error and none left", err, tally.Len())
	}
	ten := got["acme 2026-12-06T10:00:00Z"]
	if ten[stats.Name(stats.Created, stats.ByCountry, stats.Unknown)] != 1 || len(got) != 2 {
		t.Errorf("written %v; want acme's two hours, the e-mail counted as country NONE", got)
	}
	for name := range ten {
		if strings.Contains(name, "@") {
			t.Errorf("a counter named by an actor value: %s", name)
		}
	}
	_, totals := stats.Report([]stats.Hour{{At: at.Truncate(time.Hour), Counts: ten}}, "")
	if len(totals) != 1 || *totals[0].P50 != 1000 || *totals[0].P95 != 300000 || totals[0].Conversion == nil || *totals[0].Conversion != 0 {
		t.Errorf("totals %+v: want p50 1000 ms, p95 300000 ms (over the last edge), conversion 0", totals[0])
	}
	_, totals = stats.Report(nil, stats.ByChannel)
	if len(totals) != 0 {
		t.Errorf("no hours: %v", totals)
	}
}
