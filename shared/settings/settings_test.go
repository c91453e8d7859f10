package settings_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// problems runs s's rules for organisation acme and returns the paths and
// messages it reports.
func problems(s settings.Settings) map[string]string {
	p := &identification.Problems{}
	s.Check(p, "acme")
	out := map[string]string{}
	var de *identification.Error
	if errors.As(p.Err(), &de) {
		for _, f := range de.Fields {
			out[f.Path] = f.Message
		}
	}
	return out
}

func TestTheRulesNameEachMember(t *testing.T) {
	long := strings.Repeat("a", 155) + " {code}"
	cases := []struct {
		name string
		in   settings.Settings
		want map[string]string // path: a piece of the message
	}{
		{"nothing set", settings.Settings{}, map[string]string{}},
		{"everything right", settings.Settings{DisplayName: "Acme Bank", DefaultLanguage: "ES", CodeLength: 8, CodeTTLMinutes: 15,
			Channels: []string{"SMS", "EMAIL"},
			Messages: map[string]map[string]string{"SMS": {"ES": "{org}: tu clave es {code}. Caduca en {minutes} min."},
				"EMAIL": {"EN": "Hello,\n\nyour {org} code is {code}, valid until {expires_at}."}}}, map[string]string{}},
		{"a name too long", settings.Settings{DisplayName: strings.Repeat("n", 41)}, map[string]string{"display_name": "at most 40"}},
		{"a name with a brace", settings.Settings{DisplayName: "Acme {code}"}, map[string]string{"display_name": "no { or }"}},
		{"a name with a line break", settings.Settings{DisplayName: "Acme\nBank"}, map[string]string{"display_name": "printable"}},
		{"a name with spaces around", settings.Settings{DisplayName: " Acme"}, map[string]string{"display_name": "space"}},
		{"an unknown language", settings.Settings{DefaultLanguage: "FR"}, map[string]string{"default_language": "one of ES, EN"}},
		{"a code too short", settings.Settings{CodeLength: 5}, map[string]string{"code.length": "from 6 to 10"}},
		{"a code too long", settings.Settings{CodeLength: 11}, map[string]string{"code.length": "from 6 to 10"}},
		{"a lifetime too long", settings.Settings{CodeTTLMinutes: 61}, map[string]string{"code.ttl_minutes": "from 1 to 60"}},
		{"a lifetime negative", settings.Settings{CodeTTLMinutes: -1}, map[string]string{"code.ttl_minutes": "from 1 to 60"}},
		{"no channel", settings.Settings{Channels: []string{}}, map[string]string{"channels": "at least one"}},
		{"an unknown channel", settings.Settings{Channels: []string{"SMS", "FAX"}}, map[string]string{"channels[1]": "one of SMS, EMAIL, WHATSAPP"}},
		{"a channel twice", settings.Settings{Channels: []string{"SMS", "SMS"}}, map[string]string{"channels[1]": "once"}},
		{"a text without the code", settings.Settings{Messages: map[string]map[string]string{"SMS": {"ES": "{org}: hola"}}},
			map[string]string{"messages.SMS.ES": "must contain {code}"}},
		{"an unknown placeholder", settings.Settings{Messages: map[string]map[string]string{"SMS": {"EN": "{code} for {name}"}}},
			map[string]string{"messages.SMS.EN": "unknown placeholder"}},
		{"a lone brace", settings.Settings{Messages: map[string]map[string]string{"EMAIL": {"EN": "{code} {"}}},
			map[string]string{"messages.EMAIL.EN": "opens no placeholder"}},
		{"a closing brace", settings.Settings{Messages: map[string]map[string]string{"EMAIL": {"EN": "{code} }"}}},
			map[string]string{"messages.EMAIL.EN": "closes no placeholder"}},
		{"an SMS over one segment", settings.Settings{Messages: map[string]map[string]string{"SMS": {"EN": long}}},
			map[string]string{"messages.SMS.EN": "160 GSM-7 characters, and it would take 162"}},
		{"a line break in an SMS", settings.Settings{Messages: map[string]map[string]string{"SMS": {"EN": "{code}\nbye"}}},
			map[string]string{"messages.SMS.EN": "printable"}},
		{"WhatsApp's text", settings.Settings{Messages: map[string]map[string]string{"WHATSAPP": {"EN": "{code}"}}},
			map[string]string{"messages.WHATSAPP": "not configurable"}},
		{"an unknown channel's text", settings.Settings{Messages: map[string]map[string]string{"FAX": {"EN": "{code}"}}},
			map[string]string{"messages.FAX": "must be a channel"}},
		{"an unknown language's text", settings.Settings{Messages: map[string]map[string]string{"SMS": {"FR": "{code}"}}},
			map[string]string{"messages.SMS.FR": "must be a language"}},
		{"a channel with no text", settings.Settings{Messages: map[string]map[string]string{"SMS": {}}},
			map[string]string{"messages.SMS": "at least one language"}},
		{"a name outside GSM-7 makes the built-in SMS two segments", settings.Settings{DisplayName: strings.Repeat("Ж", 30)},
			map[string]string{"display_name": "longer than one segment"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := problems(c.in)
			for path, piece := range c.want {
				if !strings.Contains(got[path], piece) {
					t.Errorf("%s: %q, want it to say %q", path, got[path], piece)
				}
			}
			for path, msg := range got {
				if _, ok := c.want[path]; !ok {
					t.Errorf("unexpected problem at %s: %s", path, msg)
				}
			}
		})
	}
}

// The longest values: the rules fill a text with a code of the
// organisation's length (W, the widest letter, stands for any), the
// minutes' most digits and the expiry's layout, and measure the SMS in
// the encoding its characters need.
func TestAnSMSTextMustFitOneSegmentOnceFilled(t *testing.T) {
	// "{code}" filled with 10 characters, "{org}" with "acme" (4): 139
	// characters of text around them make 153 at length 10, 149 at 6.
	around := strings.Repeat("x", 200)
	text := around[:139] + "{code}"
	if got := problems(settings.Settings{CodeLength: 10, Messages: map[string]map[string]string{"SMS": {"EN": text}}}); len(got) != 0 {
		t.Errorf("149 characters at length 10: %v", got)
	}
	text = around[:151] + "{code}"
	if got := problems(settings.Settings{CodeLength: 10, Messages: map[string]map[string]string{"SMS": {"EN": text}}}); got["messages.SMS.EN"] == "" {
		t.Error("161 characters once filled at length 10 were taken")
	}
	// One character outside GSM-7 (á) makes it UCS-2: 70 characters.
	ucs := "á" + strings.Repeat("x", 63-6) + "{code}" // 1 + 57 + 6 = 64 at length 6
	if got := problems(settings.Settings{Messages: map[string]map[string]string{"SMS": {"ES": ucs}}}); len(got) != 0 {
		t.Errorf("64 UCS-2 characters: %v", got)
	}
	ucs = "á" + strings.Repeat("x", 70-6) + "{code}"
	if got := problems(settings.Settings{Messages: map[string]map[string]string{"SMS": {"ES": ucs}}}); !strings.Contains(got["messages.SMS.ES"], "70 UCS-2") {
		t.Errorf("71 UCS-2 characters: %v", got)
	}
	// € is in GSM-7's extension table: two characters each.
	if n, limit, enc := settings.SMSLength("€€ {code}"); n != 13 || limit != 160 || enc != "GSM-7" {
		t.Errorf("SMSLength(€€ {code}) = %d, %d, %s; want 13 (€, { and } two each), 160, GSM-7", n, limit, enc)
	}
}

func TestFillTextFillsOnlyThePlaceholders(t *testing.T) {
	until := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	got := identification.FillText("{org}: {code}, {minutes} min, until {expires_at}. {code}", "k4khb9", "Acme Bank", 10, until)
	want := "Acme Bank: k4khb9, 10 min, until 2026-12-06 10:30 UTC. k4khb9"
	if got != want {
		t.Errorf("FillText = %q, want %q", got, want)
	}
	// A value is filled once, never read as a text.
	if got := identification.FillText("{org} {code}", "abcdef", "{code}", 1, until); got != "{code} abcdef" {
		t.Errorf("a name holding a placeholder: %q", got)
	}
}

func TestChangedNamesEachMember(t *testing.T) {
	a := settings.Settings{DisplayName: "A", CodeLength: 6, Channels: []string{"SMS"},
		Messages: map[string]map[string]string{"SMS": {"ES": "{code}", "EN": "{code}"}}}
	b := a.Clone()
	b.DisplayName, b.CodeTTLMinutes = "B", 5
	b.Channels = nil
	b.Messages["SMS"]["ES"] = "{code}!"
	delete(b.Messages["SMS"], "EN")
	b.Messages["EMAIL"] = map[string]string{"DE": "{code}"}
	want := []string{"display_name", "code.ttl_minutes", "channels", "messages.EMAIL.DE", "messages.SMS.EN", "messages.SMS.ES"}
	if got := settings.Changed(a, b); !slices.Equal(got, want) {
		t.Errorf("Changed = %v, want %v", got, want)
	}
	if got := settings.Changed(a, a.Clone()); len(got) != 0 {
		t.Errorf("a copy changed %v", got)
	}
	if a.Messages["SMS"]["ES"] != "{code}" || len(a.Messages) != 1 {
		t.Errorf("Clone shared the texts: %v", a.Messages)
	}
}

// counted is the in-memory settings store, counting its reads of a
// document and failing them while fail is set.
type counted struct {
	mem   *memstore.Settings
	reads int
	fail  error
}

func newCounted() *counted { return &counted{mem: memstore.NewSettings()} }

func (c *counted) Settings(ctx context.Context, org string) (settings.Stored, error) {
	c.reads++
	if c.fail != nil {
		return settings.Stored{}, c.fail
	}
	return c.mem.Settings(ctx, org)
}

func (c *counted) PutSettings(ctx context.Context, org string, s settings.Stored, from int64, ch settings.Change) error {
	return c.mem.PutSettings(ctx, org, s, from, ch)
}

func (c *counted) SettingsHistory(ctx context.Context, org string, limit int, before int64) ([]settings.Change, bool, error) {
	return c.mem.SettingsHistory(ctx, org, limit, before)
}

// changes is org's whole audit list, newest first.
func (c *counted) changes(t *testing.T, org string) []settings.Change {
	t.Helper()
	out, _, err := c.mem.SettingsHistory(t.Context(), org, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutFromAStaleVersionChangesNothing(t *testing.T) {
	store := newCounted()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	svc := settings.NewService(store, memstore.NewGuard(), func() time.Time { return now })
	ctx := t.Context()
	admin := identification.Caller{Kind: identification.CallerAdmin, Sub: "ops-1", RequestID: "req-1"}
	first, err := svc.Put(ctx, "acme", settings.Settings{DisplayName: "Acme"}, 0, admin)
	if err != nil || first.Version != 1 || first.UpdatedBy != "ops-1" || !first.UpdatedAt.Equal(now) {
		t.Fatalf("first put: %+v, %v", first, err)
	}
	if _, err := svc.Put(ctx, "acme", settings.Settings{DisplayName: "Other"}, 0, admin); identification.KindOf(err) != identification.KindPrecondition {
		t.Fatalf("a put from version 0 after version 1: %v, want KindPrecondition", err)
	}
	got, _ := svc.Get(ctx, "acme")
	if got.Settings.DisplayName != "Acme" || got.Version != 1 || len(store.changes(t, "acme")) != 1 {
		t.Errorf("after a stale put: %+v, %d changes", got, len(store.changes(t, "acme")))
	}
	c := store.changes(t, "acme")[0]
	if c.BySub != "ops-1" || c.ByKind != identification.CallerAdmin || c.RequestID != "req-1" || !slices.Equal(c.Fields, []string{"display_name"}) {
		t.Errorf("the audit entry: %+v", c)
	}
	// A put that changes nothing writes nothing.
	same, err := svc.Put(ctx, "acme", settings.Settings{DisplayName: "Acme"}, 1, admin)
	if err != nil || same.Version != 1 || len(store.changes(t, "acme")) != 1 {
		t.Errorf("an unchanged put: %+v, %v, %d changes", same, err, len(store.changes(t, "acme")))
	}
	// A put that breaks a rule is refused before any read or write.
	if _, err := svc.Put(ctx, "acme", settings.Settings{CodeLength: 4}, 1, admin); identification.KindOf(err) != identification.KindInvalid {
		t.Errorf("a bad document: %v, want KindInvalid", err)
	}
	if got, _ := svc.Get(ctx, "globex"); got.Version != 0 || got.Settings.DisplayName != "" {
		t.Errorf("another organisation's settings: %+v", got)
	}
}

func TestTheCacheReadsOncePerTTL(t *testing.T) {
	store := newCounted()
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc := settings.NewService(store, memstore.NewGuard(), clock)
	cache := settings.NewCache(store, clock)
	ctx := t.Context()
	if _, err := svc.Put(ctx, "acme", settings.Settings{CodeLength: 8, CodeTTLMinutes: 3, Channels: []string{"EMAIL"}, DisplayName: "Acme"}, 0,
		identification.Caller{Kind: identification.CallerAdmin, Sub: "ops"}); err != nil {
		t.Fatal(err)
	}
	store.reads = 0
	for range 5 {
		pol, err := cache.Policy(ctx, "acme")
		if err != nil || pol.CodeLength != 8 || pol.CodeTTL != 3*time.Minute || !slices.Equal(pol.Channels, []string{"EMAIL"}) {
			t.Fatalf("policy: %+v, %v", pol, err)
		}
	}
	if store.reads != 1 {
		t.Errorf("5 reads within the TTL read the store %d times, want 1", store.reads)
	}
	if _, err := svc.Put(ctx, "acme", settings.Settings{CodeLength: 9, DisplayName: "Acme"}, 1, identification.Caller{Kind: identification.CallerAdmin}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(settings.CacheTTL)
	texts, err := cache.MessageTexts(ctx, "acme")
	if pol, _ := cache.Policy(ctx, "acme"); err != nil || pol.CodeLength != 9 || texts.Name != "Acme" {
		t.Errorf("after the TTL: %+v, %+v, %v", pol, texts, err)
	}
	// A failed read is the caller's error, and is not kept.
	store.fail = identification.Errorf(identification.KindUnavailable, "throttled")
	if _, err := cache.Policy(ctx, "globex"); identification.KindOf(err) != identification.KindUnavailable {
		t.Errorf("a failed read: %v", err)
	}
	store.fail = nil
	if pol, err := cache.Policy(ctx, "globex"); err != nil || pol.CodeLength != 0 {
		t.Errorf("a never-written organisation after a failed read: %+v, %v", pol, err)
	}
}
