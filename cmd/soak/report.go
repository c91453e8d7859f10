package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// stats counts requests by route and status (0: no answer) and keeps
// their latencies.
type stats struct {
	mu        sync.Mutex
	counts    map[string]map[int]int
	latencies map[string][]time.Duration
	start     time.Time
	elapsed   time.Duration
	// windows counts the workload's answers per timelineWindow since start,
	// to show whether the rate holds or falls as the table grows.
	windows []int
}

// timelineWindow is the width of one window of the rate's timeline.
const timelineWindow = 10 * time.Second

func newStats() *stats {
	return &stats{counts: map[string]map[int]int{}, latencies: map[string][]time.Duration{}}
}

func (s *stats) begin() { s.mu.Lock(); s.start = time.Now(); s.mu.Unlock() }
func (s *stats) end()   { s.mu.Lock(); s.elapsed = time.Since(s.start); s.mu.Unlock() }

func (s *stats) record(route string, status int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counts[route] == nil {
		s.counts[route] = map[int]int{}
	}
	s.counts[route][status]++
	s.latencies[route] = append(s.latencies[route], d)
	if s.elapsed == 0 && !s.start.IsZero() {
		i := int(time.Since(s.start) / timelineWindow)
		for len(s.windows) <= i {
			s.windows = append(s.windows, 0)
		}
		s.windows[i]++
	}
}

// timeline renders the workload's rate per window: "2410 2380 ..." requests/s.
func (s *stats) timeline() string {
	var parts []string
	for i, n := range s.windows {
		w := timelineWindow
		if rest := s.elapsed - time.Duration(i)*timelineWindow; rest < w {
			w = rest
		}
		if w <= 0 {
			break
		}
		parts = append(parts, strconv.Itoa(int(float64(n)/w.Seconds()+0.5)))
	}
	return strings.Join(parts, " ")
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// report prints the summary and reports whether the soak passed.
func (l *load) report(w io.Writer, leaks []string) bool {
	s := l.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	routes := make([]string, 0, len(s.counts))
	for r := range s.counts {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\tp50\tp99\tstatuses\t")
	var all []time.Duration
	var total, workload, fivexx, noAnswer int
	for _, r := range routes {
		lat := slices.Clone(s.latencies[r])
		slices.Sort(lat)
		all = append(all, lat...)
		var codes []int
		n := 0
		for c, k := range s.counts[r] {
			codes = append(codes, c)
			n += k
			if c >= 500 {
				fivexx += k
			}
			if c == 0 {
				noAnswer += k
			}
		}
		sort.Ints(codes)
		var parts []string
		for _, c := range codes {
			name := strconv.Itoa(c)
			if c == 0 {
				name = "no answer"
			}
			parts = append(parts, fmt.Sprintf("%s:%d", name, s.counts[r][c]))
		}
		total += n
		if !strings.HasPrefix(r, "verify ") {
			workload += n
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t\n", r, n, round(percentile(lat, 0.5)), round(percentile(lat, 0.99)), strings.Join(parts, " "))
	}
	slices.Sort(all)
	fmt.Fprintf(tw, "all\t%d\t%s\t%s\t\t\n", total, round(percentile(all, 0.5)), round(percentile(all, 0.99)))
	tw.Flush()

	recs := l.records.all()
	final := map[string]int{}
	for _, r := range recs {
		final[r.kind+" "+r.status]++
	}
	var finals []string
	for k, n := range final {
		finals = append(finals, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(finals)
	fmt.Fprintf(w, "\nworkload: %d requests in %s from %d clients, %.0f requests/s\n", workload, s.elapsed.Round(time.Millisecond), l.concurrency, float64(workload)/s.elapsed.Seconds())
	fmt.Fprintf(w, "requests/s per %s: %s\n", timelineWindow, s.timeline())
	fmt.Fprintf(w, "identifications: %d created, final states %s\n", len(recs), strings.Join(finals, " "))
	fmt.Fprintf(w, "5xx: %d, no answer: %d, violations: %d, final-state mismatches: %d, actor data in the server log: %d\n",
		fivexx, noAnswer, len(l.violations), len(l.mismatches), len(leaks))
	show := func(title string, list []string) {
		if len(list) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (first %d):\n", title, min(len(list), 20))
		for _, v := range list[:min(len(list), 20)] {
			fmt.Fprintln(w, "  "+v)
		}
	}
	show("violations", l.violations)
	show("mismatches", l.mismatches)
	show("actor data in the server log", leaks)
	ok := fivexx == 0 && noAnswer == 0 && len(l.violations) == 0 && len(l.mismatches) == 0 && len(leaks) == 0 && len(recs) > 0
	if ok {
		fmt.Fprintln(w, "\nsoak: PASS")
	} else {
		fmt.Fprintln(w, "\nsoak: FAIL")
	}
	return ok
}

func round(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
