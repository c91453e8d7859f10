package main

import (
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// results holds the figures of a run under their flat keys
// ("api_vs_raw.create.c8") and, for the table, a note on how each was got.
type results struct {
	mu     sync.Mutex
	values map[string]float64
	notes  map[string]string
}

func newResults() *results {
	return &results{values: map[string]float64{}, notes: map[string]string{}}
}

func (r *results) set(key string, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values[key] = v
}

func (r *results) note(key, note string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes[key] = note
}

func (r *results) noteOf(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notes[key]
}

func (r *results) get(key string) (float64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.values[key]
	return v, ok
}

// median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the p-th percentile (0..100) of sorted durations by
// the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func hostArch() string { return runtime.GOARCH }

func numCPU() int { return runtime.NumCPU() }
