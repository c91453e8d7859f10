package memstore

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/idadmin/api/shared/stats"
)

var (
	_ stats.Adder  = (*Guard)(nil)
	_ stats.Reader = (*Guard)(nil)
)

// AddStats adds c to org's hour (stats.Adder), under the lock.
func (m *Guard) AddStats(ctx context.Context, org string, hour time.Time, c stats.Counts) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stats == nil {
		m.stats = map[string]map[time.Time]stats.Counts{}
	}
	if m.stats[org] == nil {
		m.stats[org] = map[time.Time]stats.Counts{}
	}
	hour = hour.UTC().Truncate(time.Hour)
	cur := m.stats[org][hour]
	if cur == nil {
		cur = stats.Counts{}
		m.stats[org][hour] = cur
	}
	for n, v := range c {
		cur[n] += v
	}
	return nil
}

// Stats reads org's hours in [from, to) (stats.Reader).
func (m *Guard) Stats(ctx context.Context, org string, from, to time.Time) ([]stats.Hour, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	from, to = from.UTC().Truncate(time.Hour), to.UTC().Truncate(time.Hour)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []stats.Hour
	for _, h := range slices.SortedFunc(maps.Keys(m.stats[org]), time.Time.Compare) {
		if !h.Before(from) && h.Before(to) {
			out = append(out, stats.Hour{At: h, Counts: maps.Clone(m.stats[org][h])})
		}
	}
	return out, nil
}
