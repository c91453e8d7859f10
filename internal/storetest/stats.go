package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/shared/stats"
)

// StatsStore is what the statistics need of a store.
type StatsStore interface {
	stats.Adder
	stats.Reader
}

// RunStats runs the contract every statistics store must meet: 64
// goroutines adding at once lose no count; a read covers [from, to) and
// adds up each hour's writes; one organisation reads none of another's;
// a write of more counters than one update holds keeps them all.
func RunStats(t *testing.T, newStore func(t *testing.T) StatsStore) {
	t.Run("adds at once", func(t *testing.T) { testStatsRace(t, newStore(t)) })
	t.Run("hours and organisations", func(t *testing.T) { testStatsHours(t, newStore(t)) })
	t.Run("many counters", func(t *testing.T) { testStatsMany(t, newStore(t)) })
}

var statsHour = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func testStatsRace(t *testing.T, s StatsStore) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for n := range 64 {
		wg.Go(func() {
			var tally stats.Tally
			tally.Count("acme", statsHour.Add(time.Duration(n)*time.Second), stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}, stats.Created)
			tally.Latency("acme", statsHour, stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}, int64(n)*100)
			if err := tally.Flush(ctx, s); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	hours, err := s.Stats(ctx, "acme", statsHour, statsHour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 1 || !hours[0].At.Equal(statsHour) {
		t.Fatalf("hours %+v, want the one of %s", hours, statsHour)
	}
	for _, name := range []string{stats.Name(stats.Created, stats.ByChannel, "SMS"), stats.Name(stats.Created, stats.ByCountry, "ES"), stats.Name(stats.Created, stats.ByType, "OTP")} {
		if got := hours[0].Counts[name]; got != 64 {
			t.Errorf("%s = %d after 64 adds at once, want 64", name, got)
		}
	}
	_, totals := stats.Report(hours, "")
	if len(totals) != 1 || totals[0].Values[stats.Created] != 64 || totals[0].P50 == nil || *totals[0].P50 != 5000 || *totals[0].P95 != 10000 {
		t.Errorf("totals %+v, want 64 created, p50 5000 ms, p95 10000 ms (0..6300 ms in 100 ms steps)", totals)
	}
}

func testStatsHours(t *testing.T, s StatsStore) {
	ctx := context.Background()
	d := stats.Dims{Channel: "EMAIL", Country: stats.Unknown, Type: "CHAIN"}
	for h := range 3 {
		for range h + 1 {
			var tally stats.Tally
			tally.Count("acme", statsHour.Add(time.Duration(h)*time.Hour+time.Minute), d, stats.Completed)
			tally.Count("globex", statsHour.Add(time.Duration(h)*time.Hour), d, stats.Failed)
			if err := tally.Flush(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	hours, err := s.Stats(ctx, "acme", statsHour.Add(time.Hour), statsHour.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[time.Time]int64{}
	for _, h := range hours {
		got[h.At] = h.Counts[stats.Name(stats.Completed, stats.ByChannel, "EMAIL")]
		if h.Counts[stats.Name(stats.Failed, stats.ByChannel, "EMAIL")] != 0 {
			t.Errorf("acme's hour %s holds globex's counts: %v", h.At, h.Counts)
		}
	}
	want := map[time.Time]int64{statsHour.Add(time.Hour): 2, statsHour.Add(2 * time.Hour): 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hours [11:00, 13:00): %v, want %v (the hour before from left out)", got, want)
	}
	if hours, err := s.Stats(ctx, "initech", statsHour, statsHour.Add(24*time.Hour)); err != nil || len(hours) != 0 {
		t.Errorf("an organisation with no counts: %+v, %v; want none", hours, err)
	}
}

func testStatsMany(t *testing.T, s StatsStore) {
	ctx := context.Background()
	var tally stats.Tally
	for n := range 90 { // 184 counters (92 counts, 92 latencies): two updates
		tally.Count("acme", statsHour, stats.Dims{Channel: "SMS", Country: fmt.Sprintf("C%02d", n), Type: "OTP"}, stats.CodesSent)
		tally.Latency("acme", statsHour, stats.Dims{Channel: "SMS", Country: fmt.Sprintf("C%02d", n), Type: "OTP"}, 400)
	}
	if err := tally.Flush(ctx, s); err != nil {
		t.Fatal(err)
	}
	hours, err := s.Stats(ctx, "acme", statsHour, statsHour.Add(time.Hour))
	if err != nil || len(hours) != 1 {
		t.Fatalf("%+v, %v", hours, err)
	}
	if n := len(hours[0].Counts); n != 184 {
		t.Errorf("%d counters stored, want 184 (90 countries' and 2 others' counts and latencies)", n)
	}
	rows, _ := stats.Report(hours, stats.ByCountry)
	if len(rows) != 90 || rows[0].Group != "C00" || rows[0].Values[stats.CodesSent] != 1 || *rows[0].P95 != 500 {
		t.Errorf("by country: %d rows, first %+v; want 90, C00 with 1 sent and p95 500 ms", len(rows), rows[0])
	}
}
