package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/stats"
)

// Guard is an in-memory guard.Store: counters and events in maps, each
// change under one lock, as the DynamoDB store makes each one write.
type Guard struct {
	mu       sync.Mutex
	counters map[string]map[string]int64
	events   map[string][]guard.Event // by organisation, oldest first
	stats    map[string]map[time.Time]stats.Counts
}

// NewGuard returns an empty in-memory guard store.
func NewGuard() *Guard {
	return &Guard{counters: map[string]map[string]int64{}, events: map[string][]guard.Event{}}
}

var _ guard.Store = (*Guard)(nil)

func counterKey(c guard.Counter) string { return c.Org + "\x00" + c.Key }

// Count adds one to each of c's fields, with enforce only if each field
// with a limit is below it.
func (m *Guard) Count(ctx context.Context, c guard.Counter, enforce bool) (bool, map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return false, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.counters[counterKey(c)]
	if cur == nil {
		cur = map[string]int64{}
		m.counters[counterKey(c)] = cur
	}
	values := func() map[string]int64 {
		out := map[string]int64{}
		for _, f := range c.Fields {
			out[f.Name] = cur[f.Name]
		}
		return out
	}
	if enforce {
		for _, f := range c.Fields {
			if f.Limit > 0 && cur[f.Name] >= f.Limit {
				return false, values(), nil
			}
		}
	}
	for _, f := range c.Fields {
		cur[f.Name]++
	}
	return true, values(), nil
}

// Uncount takes one back from each of c's fields.
func (m *Guard) Uncount(ctx context.Context, c guard.Counter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.counters[counterKey(c)]; cur != nil {
		for _, f := range c.Fields {
			cur[f.Name]--
		}
	}
	return nil
}

// RecordGuardEvent keeps e.
func (m *Guard) RecordGuardEvent(ctx context.Context, e guard.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[e.Org] = append(m.events[e.Org], e)
	return nil
}

// GuardEvents lists org's events newest first; the cursor is the number
// of events the pages before skipped.
func (m *Guard) GuardEvents(ctx context.Context, org string, limit int, before string) ([]guard.Event, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := slices.Clone(m.events[org])
	slices.Reverse(all)
	skip := 0
	if before != "" {
		if _, err := fmt.Sscanf(before, "skip:%d", &skip); err != nil || skip < 0 {
			return nil, "", guard.ErrBadCursor
		}
	}
	all = all[min(skip, len(all)):]
	next := ""
	if len(all) > limit {
		all, next = all[:limit], fmt.Sprintf("skip:%d", skip+limit)
	}
	return all, next, nil
}
