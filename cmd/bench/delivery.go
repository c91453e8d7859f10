package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// deliveryBody is the documented create-otp example with a code the
// system delivers (SMS, not external).
var deliveryBody = strings.Replace(createBody, `"external":"true"`, `"external":"false"`, 1)

// deliveryLatency records delivery_ms.p50 and delivery_ms.p99: a dev
// server of its own, on dynoxide and a fresh table, takes a steady load of
// o.deliveryRate creates a second for o.deliveryFor, each of a code it
// sends; each create's delivery time runs from its answer arriving here to
// its message's arrival in the dev server's outbox (the time the outbox
// gives the entry; both on this machine's clock), read from
// /dev/orgs/{org}/outbox. A code not delivered within 10 s of the end of
// the load counts with the time it was waited for, a lower bound, so that
// it shows in the p99.
func deliveryLatency(ctx context.Context, env *engineEnv, bins binaries, dir string, o options, res *results) error {
	table, drop, err := env.newTable(ctx, "delivery")
	if err != nil {
		return err
	}
	defer drop()
	srv, err := startDevServerNamed(ctx, env, bins.devserver, table, dir, "devserver-delivery")
	if err != nil {
		return err
	}
	defer srv.stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	// The outbox, read as an admin reads it, every 50 ms.
	delivered := map[string]time.Time{}
	readOutbox := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/dev/orgs/acme/outbox", nil)
		req.Header.Set("Authorization", "Bearer "+srv.token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("outbox: HTTP %d: %s", resp.StatusCode, msg)
		}
		var entries []struct {
			IdentificationID string    `json:"identification_id"`
			At               time.Time `json:"at"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
			return err
		}
		for _, e := range entries {
			if _, ok := delivered[e.IdentificationID]; !ok {
				delivered[e.IdentificationID] = e.At
			}
		}
		return nil
	}
	stopPolling := make(chan struct{})
	polled := make(chan error, 1)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopPolling:
				polled <- nil
				return
			case <-t.C:
				if err := readOutbox(); err != nil {
					polled <- err
					return
				}
			}
		}
	}()

	load := steadyCreates(ctx, srv, hc, o)
	// The poller stops before this goroutine reads the outbox itself: the
	// two would write delivered at once.
	close(stopPolling)
	if err := <-polled; err != nil {
		return err
	}
	// Let the last codes through: at most 10 s.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if err := readOutbox(); err != nil {
			return err
		}
		all := true
		for id := range load.answered {
			if _, ok := delivered[id]; !ok {
				all = false
				break
			}
		}
		if all {
			break
		}
	}
	waited := time.Now()
	ms, missing := load.latencies(delivered, waited)
	if len(ms) == 0 {
		return fmt.Errorf("delivery: no create succeeded (%d failed: %s)", load.failed, load.firstErr)
	}
	pct := func(p float64) float64 { return nearestRank(ms, p) }
	res.set("delivery_ms.p50", pct(50))
	res.set("delivery_ms.p99", pct(99))
	res.set("delivery_ms.max", ms[len(ms)-1])
	res.set("delivery_creates", float64(len(load.answered)))
	res.set("delivery_missing", float64(missing))
	note := fmt.Sprintf("%d creates at %.0f/s for %s through a dev server on dynoxide (stream read every 100 ms); max %.0f ms; %d not delivered, %d creates failed",
		len(load.answered), o.deliveryRate, o.deliveryFor, ms[len(ms)-1], missing, load.failed)
	if load.firstErr != "" {
		note += " (" + load.firstErr + ")"
	}
	res.note("delivery_ms.p99", note)
	res.note("delivery_ms.p50", fmt.Sprintf("from a create's answer to its message in the dev server's outbox; %d creates", len(load.answered)))
	step("  %d creates: delivery p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d missing", len(load.answered), pct(50), pct(99), ms[len(ms)-1], missing)
	return nil
}
