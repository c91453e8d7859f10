package memstore_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

var settingsAt = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func putVersion(t *testing.T, s *memstore.Settings, org string, from int64, name string) {
	t.Helper()
	doc := settings.Stored{Settings: settings.Settings{DisplayName: name, Channels: []string{"SMS"}}, Version: from + 1, UpdatedAt: settingsAt, UpdatedBy: "sub-1"}
	c := settings.Change{Version: from + 1, At: settingsAt, ByKind: identification.CallerAdmin, BySub: "sub-1", RequestID: "req", Fields: []string{"display_name"}}
	if err := s.PutSettings(t.Context(), org, doc, from, c); err != nil {
		t.Fatalf("put from %d: %v", from, err)
	}
}

// TestSettingsVersions: never written is KindNotFound; each put goes one
// version up, only from the version stored; a stale put changes nothing.
func TestSettingsVersions(t *testing.T) {
	s := memstore.NewSettings()
	if _, err := s.Settings(t.Context(), "acme"); identification.KindOf(err) != identification.KindNotFound {
		t.Fatalf("never written: err = %v, want KindNotFound", err)
	}
	putVersion(t, s, "acme", 0, "Acme")
	putVersion(t, s, "acme", 1, "Acme Two")
	err := s.PutSettings(t.Context(), "acme", settings.Stored{Settings: settings.Settings{DisplayName: "Stale"}, Version: 2}, 1, settings.Change{Version: 2})
	if identification.KindOf(err) != identification.KindPrecondition {
		t.Fatalf("stale put: err = %v, want KindPrecondition", err)
	}
	err = s.PutSettings(t.Context(), "acme", settings.Stored{Version: 1}, 0, settings.Change{Version: 1})
	if identification.KindOf(err) != identification.KindPrecondition {
		t.Fatalf("put from 0 over version 2: err = %v, want KindPrecondition", err)
	}
	got, err := s.Settings(t.Context(), "acme")
	if err != nil || got.Version != 2 || got.Settings.DisplayName != "Acme Two" || got.UpdatedBy != "sub-1" || !got.UpdatedAt.Equal(settingsAt) {
		t.Fatalf("after a stale put: %+v, %v; want version 2 named Acme Two", got, err)
	}
	h, more, err := s.SettingsHistory(t.Context(), "acme", 10, 0)
	if err != nil || more || len(h) != 2 || h[0].Version != 2 || h[1].Version != 1 {
		t.Fatalf("history = %+v, %v, %v; want versions 2, 1 and no more", h, more, err)
	}
	if _, err := s.Settings(t.Context(), "globex"); identification.KindOf(err) != identification.KindNotFound {
		t.Errorf("another organisation: err = %v, want KindNotFound", err)
	}
	if h, more, _ := s.SettingsHistory(t.Context(), "globex", 10, 0); len(h) != 0 || more {
		t.Errorf("another organisation's history = %+v, %v; want none", h, more)
	}
}

// TestSettingsHistoryPages: newest first, limit entries before a version,
// and whether older ones follow.
func TestSettingsHistoryPages(t *testing.T) {
	s := memstore.NewSettings()
	for v := int64(0); v < 5; v++ {
		putVersion(t, s, "acme", v, "Acme")
	}
	versions := func(cs []settings.Change) []int64 {
		var out []int64
		for _, c := range cs {
			out = append(out, c.Version)
		}
		return out
	}
	for _, c := range []struct {
		limit  int
		before int64
		want   []int64
		more   bool
	}{
		{2, 0, []int64{5, 4}, true},
		{2, 4, []int64{3, 2}, true},
		{2, 2, []int64{1}, false},
		{5, 0, []int64{5, 4, 3, 2, 1}, false},
		{3, 3, []int64{2, 1}, false},
		{3, 1, nil, false},
		{10, 99, []int64{5, 4, 3, 2, 1}, false},
	} {
		got, more, err := s.SettingsHistory(t.Context(), "acme", c.limit, c.before)
		if err != nil || !slices.Equal(versions(got), c.want) || more != c.more {
			t.Errorf("history(limit %d, before %d) = %v, %v, %v; want %v, %v", c.limit, c.before, versions(got), more, err, c.want, c.more)
		}
	}
}

// TestSettingsCopies: what a caller holds, given or read, shares nothing
// with the store.
func TestSettingsCopies(t *testing.T) {
	s := memstore.NewSettings()
	doc := settings.Stored{Settings: settings.Settings{Channels: []string{"SMS"}, Messages: map[string]map[string]string{"SMS": {"EN": "{code}"}}}, Version: 1}
	c := settings.Change{Version: 1, Fields: []string{"channels"}}
	if err := s.PutSettings(t.Context(), "acme", doc, 0, c); err != nil {
		t.Fatal(err)
	}
	doc.Settings.Channels[0] = "EMAIL"
	doc.Settings.Messages["SMS"]["EN"] = "changed"
	c.Fields[0] = "changed"
	got, _ := s.Settings(t.Context(), "acme")
	if got.Settings.Channels[0] != "SMS" || got.Settings.Messages["SMS"]["EN"] != "{code}" {
		t.Fatalf("the store shares the document it was given: %+v", got.Settings)
	}
	got.Settings.Channels[0] = "EMAIL"
	got.Settings.Messages["SMS"]["EN"] = "changed"
	again, _ := s.Settings(t.Context(), "acme")
	if again.Settings.Channels[0] != "SMS" || again.Settings.Messages["SMS"]["EN"] != "{code}" {
		t.Fatalf("the store shares the document it returned: %+v", again.Settings)
	}
	h, _, _ := s.SettingsHistory(t.Context(), "acme", 1, 0)
	h[0].Fields[0] = "changed"
	h, _, _ = s.SettingsHistory(t.Context(), "acme", 1, 0)
	if h[0].Fields[0] != "channels" {
		t.Fatalf("the store shares its audit entries: %+v", h[0])
	}
}

// TestSettingsConcurrentPuts: of 32 puts from the same version, exactly
// one is written.
func TestSettingsConcurrentPuts(t *testing.T) {
	s := memstore.NewSettings()
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for n := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[n] = s.PutSettings(t.Context(), "acme", settings.Stored{Version: 1}, 0, settings.Change{Version: 1})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case identification.KindOf(err) == identification.KindPrecondition:
		default:
			t.Errorf("put: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d puts succeeded, want 1", ok)
	}
	if h, _, _ := s.SettingsHistory(t.Context(), "acme", 100, 0); len(h) != 1 {
		t.Errorf("history holds %d entries, want 1", len(h))
	}
}

// TestSettingsContract holds the in-memory store to the port's contract,
// as the DynamoDB store is on both engines.
func TestSettingsContract(t *testing.T) {
	storetest.RunSettings(t, func(*testing.T) settings.Store { return memstore.NewSettings() })
}
