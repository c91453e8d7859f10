package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// Settings is an in-memory settings.Store, for the handler trees that
// tests build without a table: the port's rules (a change is written only
// if the document is still at the version it was made from, its audit
// entry with it; history pages newest first) under one mutex. Documents
// and entries are copied on the way in and out, so that no caller shares a
// slice or map with the store.
type Settings struct {
	mu      sync.Mutex
	docs    map[string]settings.Stored
	history map[string][]settings.Change // org: oldest first
}

var _ settings.Store = (*Settings)(nil)

// NewSettings returns an empty in-memory settings store.
func NewSettings() *Settings {
	return &Settings{docs: map[string]settings.Stored{}, history: map[string][]settings.Change{}}
}

func copySettings(s settings.Stored) settings.Stored {
	s.Settings = s.Settings.Clone()
	return s
}

func copyChange(c settings.Change) settings.Change {
	c.Fields = slices.Clone(c.Fields)
	return c
}

// Settings returns org's document; KindNotFound when it was never written.
func (m *Settings) Settings(ctx context.Context, org string) (settings.Stored, error) {
	if err := ctx.Err(); err != nil {
		return settings.Stored{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.docs[org]
	if !ok {
		return settings.Stored{}, identification.Errorf(identification.KindNotFound, "this organisation's settings were never written")
	}
	return copySettings(s), nil
}

// PutSettings writes s as version from+1 with its audit entry c, if org's
// document is at version from (0: never written); KindPrecondition
// otherwise, and nothing is written.
func (m *Settings) PutSettings(ctx context.Context, org string, s settings.Stored, from int64, c settings.Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.docs[org].Version; cur != from {
		return identification.Errorf(identification.KindPrecondition,
			"the settings changed since they were read (they are at version %d): read them again, apply your change and send it with the new ETag", cur)
	}
	s.Version = from + 1
	c.Version = s.Version
	m.docs[org] = copySettings(s)
	m.history[org] = append(m.history[org], copyChange(c))
	return nil
}

// SettingsHistory returns up to limit entries of org's audit list older
// than version before (0: from the newest), newest first, and whether
// older ones follow.
func (m *Settings) SettingsHistory(ctx context.Context, org string, limit int, before int64) ([]settings.Change, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	if limit < 1 {
		limit = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.history[org]
	out := []settings.Change{}
	for n := len(h) - 1; n >= 0; n-- {
		c := h[n]
		if before > 0 && c.Version >= before {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, copyChange(c))
	}
	return out, false, nil
}
