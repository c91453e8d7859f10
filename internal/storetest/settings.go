package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// RunSettings runs the contract every settings.Store must meet: a
// document never written is KindNotFound; a put reads back whole, every
// member as it was put (a member not set stays not set, nil stays nil,
// empty stays empty), as version from+1; a put from a version that is not
// the stored one is KindPrecondition and changes nothing, neither the
// document nor the audit list; of puts made at once from one version
// exactly one wins and adds one entry; the audit list pages newest first
// with before cursors and says whether older entries follow; one
// organisation reaches nothing of another's; and the store keeps copies
// of its own.
//
// As for Run, the expectations are written out by hand from the port's
// doc comments (shared/settings/settings.go), not computed from a store,
// so that the in-memory store the handler tests trust is held to what the
// DynamoDB store is held to. newStore is called once per subtest.
func RunSettings(t *testing.T, newStore func(t *testing.T) settings.Store) {
	t.Run("never written", func(t *testing.T) { testSettingsNeverWritten(t, newStore(t)) })
	t.Run("put and read", func(t *testing.T) { testSettingsPut(t, newStore(t)) })
	t.Run("stale version", func(t *testing.T) { testSettingsStale(t, newStore(t)) })
	t.Run("first put when written", func(t *testing.T) { testSettingsFirstPutAgain(t, newStore(t)) })
	t.Run("puts at once", func(t *testing.T) { testSettingsRace(t, newStore(t)) })
	t.Run("history pages", func(t *testing.T) { testSettingsHistory(t, newStore(t)) })
	t.Run("isolation", func(t *testing.T) { testSettingsIsolation(t, newStore(t)) })
	t.Run("copies", func(t *testing.T) { testSettingsCopies(t, newStore(t)) })
}

// fullSettings is a document with every member set: texts for two
// channels, in several languages each, and the channels in an order that
// is not the alphabet's (a store must keep it).
func fullSettings() settings.Settings {
	return settings.Settings{
		DisplayName: "Acme Bank", DefaultLanguage: "ES", CodeLength: 8, CodeTTLMinutes: 15,
		Channels: []string{"SMS", "EMAIL", "WHATSAPP"},
		Guard: settings.Guard{Mode: "MONITOR", AllowedCountries: []string{"PT", "ES"}, MaxSendsPerHour: 100, MaxSendsPerDay: 1000,
			MaxSendsPerDestinationPerDay: 5, PrefixDigits: 6, PrefixMaxPerHour: 30},
		Messages: map[string]map[string]string{
			"SMS": {
				"ES": "Tu código de {org} es {code}. Caduca en {minutes} min.",
				"EN": "Your {org} code is {code}. It expires at {expires_at}.",
				"CA": "El teu codi de {org} és {code}.",
			},
			"EMAIL": {
				"EN": "Hello,\n\nyour {org} code is {code}.\nIt expires at {expires_at}.\n",
				"DE": "Ihr Code lautet {code}.",
			},
		},
	}
}

// settingsAt is org's document as version v, written by admin-<v> a
// minute after the one before (whole seconds in UTC, as the service
// writes them).
func settingsAt(s settings.Settings, v int64) settings.Stored {
	return settings.Stored{Settings: s, Version: v, UpdatedAt: Now.Add(time.Duration(v) * time.Minute), UpdatedBy: fmt.Sprintf("admin-%d", v)}
}

// changeTo is the audit entry of the change to version v, which changed
// fields, made by the writer of settingsAt(_, v).
func changeTo(v int64, fields ...string) settings.Change {
	return settings.Change{Version: v, At: Now.Add(time.Duration(v) * time.Minute), ByKind: identification.CallerAdmin,
		BySub: fmt.Sprintf("admin-%d", v), RequestID: fmt.Sprintf("req-%d", v), Fields: fields}
}

func mustPutSettings(t *testing.T, s settings.Store, org string, st settings.Stored, from int64, c settings.Change) {
	t.Helper()
	if err := s.PutSettings(t.Context(), org, st, from, c); err != nil {
		t.Fatalf("PutSettings %s from %d: %v", org, from, err)
	}
}

// checkSettings fails unless org's document reads as want.
func checkSettings(t *testing.T, s settings.Store, what, org string, want settings.Stored) {
	t.Helper()
	got, err := s.Settings(t.Context(), org)
	if err != nil {
		t.Fatalf("%s: Settings %s: %v", what, org, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %s's settings read\n %s\nwant\n %s", what, org, showSettings(got), showSettings(want))
	}
}

// checkNoSettings fails unless org's document is KindNotFound and its
// audit list empty.
func checkNoSettings(t *testing.T, s settings.Store, what, org string) {
	t.Helper()
	_, err := s.Settings(t.Context(), org)
	checkKind(t, what+": Settings of "+org, err, identification.KindNotFound)
	if page, more, err := s.SettingsHistory(t.Context(), org, 10, 0); len(page) != 0 || more || err != nil {
		t.Errorf("%s: SettingsHistory of %s = %v, %v, %v; want an empty page", what, org, page, more, err)
	}
}

// showSettings prints st with nil and empty told apart.
func showSettings(st settings.Stored) string {
	s := st.Settings
	return fmt.Sprintf("version %d at %v by %q: display_name %q default_language %q code {%d %d} channels %s messages %s",
		st.Version, st.UpdatedAt, st.UpdatedBy, s.DisplayName, s.DefaultLanguage, s.CodeLength, s.CodeTTLMinutes,
		showNil(s.Channels == nil, s.Channels), showNil(s.Messages == nil, s.Messages))
}

func showNil(isNil bool, v any) string {
	if isNil {
		return "nil"
	}
	return fmt.Sprintf("%#v", v)
}

// settingsPage is one page of org's audit list.
func settingsPage(t *testing.T, s settings.Store, org string, limit int, before int64) ([]settings.Change, bool) {
	t.Helper()
	page, more, err := s.SettingsHistory(t.Context(), org, limit, before)
	if err != nil {
		t.Fatalf("SettingsHistory %s (%d before %d): %v", org, limit, before, err)
	}
	return page, more
}

// checkSettingsHistory fails unless org's whole audit list, read as one
// page, is want (newest first) with no more to follow.
func checkSettingsHistory(t *testing.T, s settings.Store, what, org string, want ...settings.Change) {
	t.Helper()
	got, more := settingsPage(t, s, org, len(want)+10, 0)
	if more || len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %s's audit list reads (more %v)\n %+v\nwant\n %+v", what, org, more, got, want)
	}
}

// versions are the versions of a page, in its order.
func versions(page []settings.Change) []int64 {
	out := []int64{}
	for _, c := range page {
		out = append(out, c.Version)
	}
	return out
}

// testSettingsNeverWritten: a document never written is KindNotFound, and
// its audit list an empty page, with nothing to follow, from the newest
// or before any version.
func testSettingsNeverWritten(t *testing.T, s settings.Store) {
	checkNoSettings(t, s, "never written", "acme")
	if page, more := settingsPage(t, s, "acme", 1, 5); len(page) != 0 || more {
		t.Errorf("SettingsHistory before 5 of a document never written = %v, %v; want an empty page", page, more)
	}
}

// testSettingsPut: each put replaces the whole document with the one it
// writes, which reads back with every member as it was put, at version
// from+1 (whatever version the caller left in it), with its time and
// author; a member the put leaves unset reads unset, not as the previous
// version had it, and nil and empty channels and messages read as they
// were put. Each put adds its audit entry, newest first.
func testSettingsPut(t *testing.T, s settings.Store) {
	full := fullSettings()
	v1, c1 := settingsAt(full, 1), changeTo(1, "display_name", "default_language", "code.length", "code.ttl_minutes",
		"channels", "messages.EMAIL.DE", "messages.EMAIL.EN", "messages.SMS.CA", "messages.SMS.EN", "messages.SMS.ES")
	mustPutSettings(t, s, "acme", v1, 0, c1)
	checkSettings(t, s, "after the first put", "acme", settingsAt(fullSettings(), 1))
	checkSettingsHistory(t, s, "after the first put", "acme", c1)

	// Only the name: the code, channels and messages go back to unset.
	v2 := settingsAt(settings.Settings{DisplayName: "Acme"}, 2)
	c2 := changeTo(2, "display_name", "default_language", "code.length", "code.ttl_minutes", "channels",
		"messages.EMAIL.DE", "messages.EMAIL.EN", "messages.SMS.CA", "messages.SMS.EN", "messages.SMS.ES")
	mustPutSettings(t, s, "acme", v2, 1, c2)
	got := mustSettings(t, s, "acme")
	if got.Settings.Channels != nil || got.Settings.Messages != nil {
		t.Errorf("channels and messages left unset read %s; want nil", showSettings(got))
	}
	checkSettings(t, s, "after a put of the name only", "acme", settingsAt(settings.Settings{DisplayName: "Acme"}, 2))

	// One channel, one text, the lifetime without the length, an empty
	// (not nil) messages map... and no version set by the caller: the
	// document is version from+1 all the same.
	sparse := func() settings.Settings {
		return settings.Settings{CodeTTLMinutes: 5, Channels: []string{"EMAIL"}, Messages: map[string]map[string]string{}}
	}
	v3 := settingsAt(sparse(), 3)
	v3.Version = 0
	c3 := changeTo(3, "display_name", "code.ttl_minutes", "channels")
	mustPutSettings(t, s, "acme", v3, 2, c3)
	got = mustSettings(t, s, "acme")
	if got.Settings.Messages == nil || len(got.Settings.Messages) != 0 {
		t.Errorf("an empty messages map reads %s; want it empty, not nil", showSettings(got))
	}
	checkSettings(t, s, "after a put of sparse members", "acme", settingsAt(sparse(), 3))

	// Back to every member, the texts changed, the length without the
	// lifetime, written by a caller of another kind.
	four := fullSettings()
	four.CodeTTLMinutes, four.Channels = 0, []string{"WHATSAPP", "SMS"}
	four.Messages["SMS"]["EU"] = "Zure {org} kodea: {code}"
	delete(four.Messages["SMS"], "CA")
	v4 := settingsAt(four, 4)
	c4 := changeTo(4, "display_name", "default_language", "code.length", "code.ttl_minutes", "channels", "messages.SMS.EU")
	c4.ByKind, c4.BySub, c4.RequestID = identification.CallerSystem, "", ""
	mustPutSettings(t, s, "acme", v4, 3, c4)
	checkSettings(t, s, "after a fourth put", "acme", v4)
	checkSettingsHistory(t, s, "after four puts", "acme", c4, c3, c2, c1)
}

func mustSettings(t *testing.T, s settings.Store, org string) settings.Stored {
	t.Helper()
	st, err := s.Settings(t.Context(), org)
	if err != nil {
		t.Fatalf("Settings %s: %v", org, err)
	}
	return st
}

// testSettingsStale: a put from any version but the stored one (behind
// it, ahead of it, or 0 as if never written) is KindPrecondition and
// changes nothing: the document reads as before and the audit list has
// no entry more; the put from the stored version then succeeds.
func testSettingsStale(t *testing.T, s settings.Store) {
	mustPutSettings(t, s, "acme", settingsAt(fullSettings(), 1), 0, changeTo(1, "display_name"))
	v2 := settingsAt(settings.Settings{DisplayName: "Acme 2"}, 2)
	mustPutSettings(t, s, "acme", v2, 1, changeTo(2, "display_name"))
	for _, from := range []int64{1, 3, 7} {
		stale := settingsAt(settings.Settings{DisplayName: fmt.Sprintf("from %d", from)}, from+1)
		err := s.PutSettings(t.Context(), "acme", stale, from, changeTo(from+1, "display_name"))
		what := fmt.Sprintf("a put from version %d of a document at 2", from)
		checkKind(t, what, err, identification.KindPrecondition)
		checkSettings(t, s, "after "+what, "acme", v2)
		checkSettingsHistory(t, s, "after "+what, "acme", changeTo(2, "display_name"), changeTo(1, "display_name"))
	}
	v3 := settingsAt(settings.Settings{DisplayName: "Acme 3"}, 3)
	mustPutSettings(t, s, "acme", v3, 2, changeTo(3, "display_name"))
	checkSettings(t, s, "after the put from the stored version", "acme", v3)
	checkSettingsHistory(t, s, "after the put from the stored version", "acme",
		changeTo(3, "display_name"), changeTo(2, "display_name"), changeTo(1, "display_name"))
}

// testSettingsFirstPutAgain: a put from 0 (never written) of a document
// that was written is KindPrecondition and changes nothing; so is one
// from a version of a document never written.
func testSettingsFirstPutAgain(t *testing.T, s settings.Store) {
	err := s.PutSettings(t.Context(), "acme", settingsAt(fullSettings(), 2), 1, changeTo(2, "display_name"))
	checkKind(t, "a put from version 1 of a document never written", err, identification.KindPrecondition)
	checkNoSettings(t, s, "after a put from version 1 of a document never written", "acme")

	v1 := settingsAt(fullSettings(), 1)
	mustPutSettings(t, s, "acme", v1, 0, changeTo(1, "display_name"))
	again := settingsAt(settings.Settings{DisplayName: "Another"}, 1)
	again.UpdatedBy = "admin-other"
	err = s.PutSettings(t.Context(), "acme", again, 0, changeTo(1, "code.length"))
	checkKind(t, "a second put from 0", err, identification.KindPrecondition)
	checkSettings(t, s, "after a second put from 0", "acme", settingsAt(fullSettings(), 1))
	checkSettingsHistory(t, s, "after a second put from 0", "acme", changeTo(1, "display_name"))
}

// testSettingsRace: Racers puts at once from one version, each its own
// document and entry: exactly one succeeds, the rest are
// KindPrecondition; the document is the winner's and the audit list holds
// exactly one entry more, the winner's. So from 0 (the first put) and
// from a version since.
func testSettingsRace(t *testing.T, s settings.Store) {
	racer := func(n int, v int64) (settings.Stored, settings.Change) {
		st := settingsAt(settings.Settings{DisplayName: fmt.Sprintf("Racer %02d", n), CodeLength: 6 + n%5}, v)
		st.UpdatedBy = fmt.Sprintf("racer-%02d", n)
		c := changeTo(v, "display_name", "code.length")
		c.BySub, c.RequestID = st.UpdatedBy, fmt.Sprintf("req-racer-%02d", n)
		return st, c
	}
	var entries []settings.Change
	for _, from := range []int64{0, 1} {
		errs := race(func(n int) error {
			st, c := racer(n, from+1)
			return s.PutSettings(context.Background(), "acme", st, from, c)
		})
		w := oneWinner(t, errs, identification.KindPrecondition)
		if w < 0 {
			t.FailNow()
		}
		st, c := racer(w, from+1)
		checkSettings(t, s, fmt.Sprintf("after %d puts at once from %d", Racers, from), "acme", st)
		entries = slices.Insert(entries, 0, c)
		checkSettingsHistory(t, s, fmt.Sprintf("after %d puts at once from %d", Racers, from), "acme", entries...)
	}
}

// testSettingsHistory: 25 changes page newest first, 10 a page, each page
// before the oldest version of the one before, saying whether older
// entries follow (a page holding exactly what is left says none do);
// each entry whole, as it was put. A page from the middle, before a
// version past the newest, and limits at the edges (1, 24, 25, 26).
func testSettingsHistory(t *testing.T, s settings.Store) {
	const total = 25
	all := make([]settings.Change, 0, total) // newest first
	for v := int64(1); v <= total; v++ {
		c := changeTo(v, "display_name", fmt.Sprintf("messages.SMS.%s", identification.Languages[v%int64(len(identification.Languages))]))
		mustPutSettings(t, s, "acme", settingsAt(settings.Settings{DisplayName: fmt.Sprintf("Acme %d", v)}, v), v-1, c)
		all = slices.Insert(all, 0, c)
	}
	// Another organisation's list in the same store, which no page of
	// acme's holds.
	mustPutSettings(t, s, "globex", settingsAt(fullSettings(), 1), 0, changeTo(1, "display_name"))

	var got []settings.Change
	before := int64(0)
	for n, want := range []struct {
		size int
		more bool
	}{{10, true}, {10, true}, {5, false}} {
		page, more := settingsPage(t, s, "acme", 10, before)
		if len(page) != want.size || more != want.more {
			t.Errorf("page %d (before %d): versions %v, more %v; want %d, %v", n+1, before, versions(page), more, want.size, want.more)
		}
		got = append(got, page...)
		if len(page) > 0 {
			before = page[len(page)-1].Version
		}
	}
	if before != 1 {
		t.Errorf("the last page ends before version %d, want 1", before)
	}
	if rest, more := settingsPage(t, s, "acme", 10, before); len(rest) != 0 || more {
		t.Errorf("before version 1: %v, %v; want nothing", versions(rest), more)
	}
	if !reflect.DeepEqual(got, all) {
		t.Errorf("the audit list paged as\n %+v\nwant newest first\n %+v", got, all)
	}

	for _, c := range []struct {
		limit  int
		before int64
		want   []int64
		more   bool
	}{
		{3, 21, []int64{20, 19, 18}, true},
		{3, 4, []int64{3, 2, 1}, false},
		{3, 2, []int64{1}, false},
		{5, 26, []int64{25, 24, 23, 22, 21}, true},
		{5, 1000, []int64{25, 24, 23, 22, 21}, true},
	} {
		if page, more := settingsPage(t, s, "acme", c.limit, c.before); !slices.Equal(versions(page), c.want) || more != c.more {
			t.Errorf("%d before %d: %v, more %v; want %v, %v", c.limit, c.before, versions(page), more, c.want, c.more)
		}
	}
	for _, c := range []struct {
		limit, size int
		more        bool
	}{{1, 1, true}, {24, 24, true}, {25, 25, false}, {26, 25, false}} {
		if page, more := settingsPage(t, s, "acme", c.limit, 0); !reflect.DeepEqual(page, all[:c.size]) || more != c.more {
			t.Errorf("limit %d: versions %v, more %v; want the newest %d, more %v", c.limit, versions(page), more, c.size, c.more)
		}
	}
	checkSettingsHistory(t, s, "the other organisation's", "globex", changeTo(1, "display_name"))
}

// testSettingsIsolation: the organisation is part of every key. Another
// organisation, whose id may be a prefix of this one's or have it as its
// own, never reads this one's document or audit list, and its puts (from
// this one's version or from 0) neither change them nor read them: from
// this one's version it is KindPrecondition (it has no document), from 0
// it writes its own.
func testSettingsIsolation(t *testing.T, s settings.Store) {
	v1 := settingsAt(fullSettings(), 1)
	mustPutSettings(t, s, "acme", v1, 0, changeTo(1, "display_name"))
	v2 := settingsAt(settings.Settings{DisplayName: "Acme", Channels: []string{"SMS"}}, 2)
	mustPutSettings(t, s, "acme", v2, 1, changeTo(2, "display_name", "channels"))
	acmeHistory := []settings.Change{changeTo(2, "display_name", "channels"), changeTo(1, "display_name")}

	others := []string{"acm", "acme2", "ac", "globex"}
	for _, org := range others {
		checkNoSettings(t, s, "before its puts", org)
		err := s.PutSettings(t.Context(), org, settingsAt(settings.Settings{DisplayName: "Evil"}, 3), 2, changeTo(3, "display_name"))
		checkKind(t, org+": a put from acme's version", err, identification.KindPrecondition)
		checkNoSettings(t, s, "after its put from acme's version", org)
		checkSettings(t, s, org+"'s put from acme's version", "acme", v2)
		checkSettingsHistory(t, s, org+"'s put from acme's version", "acme", acmeHistory...)
	}
	for n, org := range others {
		own := settingsAt(settings.Settings{DisplayName: "Org " + org, CodeLength: 6 + n}, 1)
		c := changeTo(1, "display_name", "code.length")
		c.BySub = "admin-of-" + org
		mustPutSettings(t, s, org, own, 0, c)
		checkSettings(t, s, "its own first put", org, own)
		checkSettingsHistory(t, s, "its own first put", org, c)
	}
	checkSettings(t, s, "after the other organisations' first puts", "acme", v2)
	checkSettingsHistory(t, s, "after the other organisations' first puts", "acme", acmeHistory...)
	// And acme's next change changes none of theirs.
	v3 := settingsAt(settings.Settings{DisplayName: "Acme 3"}, 3)
	mustPutSettings(t, s, "acme", v3, 2, changeTo(3, "display_name", "channels"))
	for n, org := range others {
		checkSettings(t, s, "after acme's third put", org, settingsAt(settings.Settings{DisplayName: "Org " + org, CodeLength: 6 + n}, 1))
		if page, more := settingsPage(t, s, org, 10, 0); len(page) != 1 || more || page[0].BySub != "admin-of-"+org {
			t.Errorf("after acme's third put %s's audit list reads %+v, %v; want its one entry", org, page, more)
		}
	}
}

// testSettingsCopies proves the store keeps its own copy: changing what
// was given to PutSettings, or what Settings and SettingsHistory
// returned, changes nothing stored.
func testSettingsCopies(t *testing.T, s settings.Store) {
	in := settingsAt(fullSettings(), 1)
	c := changeTo(1, "display_name", "channels", "messages.SMS.ES")
	mustPutSettings(t, s, "acme", in, 0, c)
	in.Settings.Channels[0] = "PIGEON"
	in.Settings.Messages["SMS"]["ES"] = "changed {code}"
	delete(in.Settings.Messages["EMAIL"], "DE")
	in.Settings.Messages["WHATSAPP"] = map[string]string{"EN": "{code}"}
	c.Fields[0] = "changed"

	got := mustSettings(t, s, "acme")
	got.Settings.Channels[1] = "PIGEON"
	got.Settings.Messages["SMS"]["EN"] = "changed {code}"
	delete(got.Settings.Messages, "EMAIL")
	page, _ := settingsPage(t, s, "acme", 10, 0)
	if len(page) != 1 {
		t.Fatalf("the audit list holds %d entries, want 1", len(page))
	}
	page[0].Fields[1] = "changed"
	page[0].Fields = append(page[0].Fields[:1], "appended")

	checkSettings(t, s, "after changing what went in and came out", "acme", settingsAt(fullSettings(), 1))
	checkSettingsHistory(t, s, "after changing what went in and came out", "acme", changeTo(1, "display_name", "channels", "messages.SMS.ES"))
}
