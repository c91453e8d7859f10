package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// steadyLoad is what a steady load of creates left: when each create's
// answer arrived, by process id, and how many failed (the first failure's
// words).
type steadyLoad struct {
	answered map[string]time.Time
	failed   int
	firstErr string
}

// steadyCreates sends o.deliveryRate creates a second for o.deliveryFor
// to srv, each of a code the system delivers (deliveryBody), through hc,
// and returns once every one has been answered.
func steadyCreates(ctx context.Context, srv *devServer, hc *http.Client, o options) steadyLoad {
	const path = "/v1/orgs/acme/identifications/otp"
	l := steadyLoad{answered: map[string]time.Time{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	create := func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+path, strings.NewReader(deliveryBody))
		req.Header.Set("Authorization", "Bearer "+srv.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		at := time.Now()
		var created struct{ ID string }
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&created)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusCreated {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil || created.ID == "" {
			l.failed++
			if l.firstErr == "" {
				l.firstErr = fmt.Sprint(err)
			}
			return
		}
		l.answered[created.ID] = at
	}
	interval := time.Duration(float64(time.Second) / o.deliveryRate)
	start := time.Now()
	for next := start; next.Before(start.Add(o.deliveryFor)); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		wg.Add(1)
		go create()
	}
	wg.Wait()
	return l
}

// latencies are the milliseconds from each create's answer to its
// process's arrival (arrived, by process id), sorted; a process that has
// not arrived counts with the time waited until waited, a lower bound, so
// that it shows in the high percentiles. missing is how many had not.
func (l steadyLoad) latencies(arrived map[string]time.Time, waited time.Time) (ms []float64, missing int) {
	for id, at := range l.answered {
		d, ok := arrived[id]
		if !ok {
			missing++
			d = waited
		}
		ms = append(ms, float64(d.Sub(at))/float64(time.Millisecond))
	}
	slices.Sort(ms)
	return ms, missing
}

// nearestRank is the p-th percentile (0..100) of sorted, by the
// nearest-rank method.
func nearestRank(sorted []float64, p float64) float64 {
	return sorted[min(len(sorted)-1, max(0, int(math.Ceil(p/100*float64(len(sorted))))-1))]
}
