package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
)

const (
	settingsOrg  = "acme"
	settingsPath = "/v1/orgs/" + settingsOrg + "/settings"
)

// settingsDoc is the settings document as the API answers it; Raw keeps
// every member as sent, to tell null from absent.
type settingsDoc struct {
	DisplayName     *string `json:"display_name"`
	DefaultLanguage *string `json:"default_language"`
	Code            struct {
		Length     *int `json:"length"`
		TTLMinutes *int `json:"ttl_minutes"`
	} `json:"code"`
	Channels  []string                     `json:"channels"`
	Messages  map[string]map[string]string `json:"messages"`
	Version   int64                        `json:"version"`
	UpdatedAt *string                      `json:"updated_at"`
	UpdatedBy *string                      `json:"updated_by"`
	Raw       map[string]json.RawMessage   `json:"-"`
}

type settingsChange struct {
	Version int64  `json:"version"`
	At      string `json:"at"`
	By      struct {
		Kind string `json:"kind"`
		Sub  string `json:"sub"`
	} `json:"by"`
	RequestID string   `json:"request_id"`
	Fields    []string `json:"fields"`
}

type settingsPage struct {
	Items []settingsChange `json:"items"`
	Next  *string          `json:"next"`
}

// settingsClient calls the settings routes of one Env as one caller.
type settingsClient struct {
	env   *apitest.Env
	token string
}

// settingsAs is a client for org with scopes, its token's sub being sub.
func settingsAs(t *testing.T, env *apitest.Env, sub, org string, scopes ...string) *settingsClient {
	t.Helper()
	tok, err := env.Verifier.Mint(sub, []string{org}, scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &settingsClient{env: env, token: tok}
}

func (c *settingsClient) get(t *testing.T) *apitest.Response {
	t.Helper()
	return c.env.Do(t, apitest.Request{Method: http.MethodGet, Path: settingsPath, Token: c.token})
}

func (c *settingsClient) put(t *testing.T, ifMatch, body string) *apitest.Response {
	t.Helper()
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	return c.env.Do(t, apitest.Request{Method: http.MethodPut, Path: settingsPath, Token: c.token, Body: body, Header: h})
}

func (c *settingsClient) history(t *testing.T, query string) *apitest.Response {
	t.Helper()
	path := settingsPath + "/history"
	if query != "" {
		path += "?" + query
	}
	return c.env.Do(t, apitest.Request{Method: http.MethodGet, Path: path, Token: c.token})
}

func decodeSettings(t *testing.T, resp *apitest.Response) settingsDoc {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("settings: %d %s", resp.Status, resp.Body)
	}
	var d settingsDoc
	if err := json.Unmarshal(resp.Body, &d); err != nil {
		t.Fatalf("not a settings document: %v: %s", err, resp.Body)
	}
	_ = json.Unmarshal(resp.Body, &d.Raw)
	if got, want := resp.Header.Get("ETag"), `"`+strconv.FormatInt(d.Version, 10)+`"`; got != want {
		t.Errorf("ETag = %s, want %s (the version)", got, want)
	}
	return d
}

func decodeHistory(t *testing.T, resp *apitest.Response) settingsPage {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("history: %d %s", resp.Status, resp.Body)
	}
	var p settingsPage
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		t.Fatalf("not a history page: %v: %s", err, resp.Body)
	}
	return p
}

// wantDetails checks resp is status with exactly one error, of code,
// whose details are details.
func wantDetails(t *testing.T, resp *apitest.Response, status int, code, details string) {
	t.Helper()
	if resp.Status != status {
		t.Errorf("got %d, want %d: %s", resp.Status, status, resp.Body)
		return
	}
	if e := resp.Errors(t); len(e) != 1 || e[0].Code != code || e[0].Details != details {
		t.Errorf("errors %s, want one %s: %s", resp.Body, code, details)
	}
}

// wantSettingsError checks resp is status with an error of code whose
// details start with field and a colon (any details when field is "").
func wantSettingsError(t *testing.T, resp *apitest.Response, status int, code, field string) {
	t.Helper()
	if resp.Status != status {
		t.Errorf("got %d, want %d at %s: %s", resp.Status, status, field, resp.Body)
		return
	}
	for _, e := range resp.Errors(t) {
		if e.Code == code && (field == "" || strings.HasPrefix(e.Details, field+":")) {
			return
		}
	}
	t.Errorf("no %s error at %s: %s", code, field, resp.Body)
}

const acmeSettings = `{"display_name":"Acme Bank","default_language":"ES","code":{"length":8,"ttl_minutes":10},"channels":["SMS","EMAIL"],` +
	`"messages":{"SMS":{"ES":"{org}: tu código es {code}. Caduca en {minutes} min."}}}`

// TestSettingsReadWriteRead: never written, the document is version 0
// with every member null; a PUT from "0" stores the whole document as
// version 1, by the token's sub, at the clock's second; a read shows it.
func TestSettingsReadWriteRead(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := settingsAs(t, env, "ops@acme.example", settingsOrg, auth.ScopeSettings)

		d := decodeSettings(t, c.get(t))
		if d.Version != 0 || d.DisplayName != nil || d.DefaultLanguage != nil || d.Code.Length != nil || d.Code.TTLMinutes != nil ||
			d.Channels != nil || d.Messages != nil || d.UpdatedAt != nil || d.UpdatedBy != nil {
			t.Errorf("never written: %+v", d)
		}
		for _, m := range []string{"display_name", "default_language", "code", "channels", "messages", "version", "updated_at", "updated_by"} {
			if _, ok := d.Raw[m]; !ok {
				t.Errorf("never written: member %s absent, want it present (null)", m)
			}
		}

		resp := c.put(t, `"0"`, acmeSettings)
		w := decodeSettings(t, resp)
		if w.Version != 1 || *w.DisplayName != "Acme Bank" || *w.DefaultLanguage != "ES" || *w.Code.Length != 8 || *w.Code.TTLMinutes != 10 ||
			!slices.Equal(w.Channels, []string{"SMS", "EMAIL"}) || w.Messages["SMS"]["ES"] != "{org}: tu código es {code}. Caduca en {minutes} min." ||
			len(w.Messages) != 1 || *w.UpdatedAt != "2026-11-21T10:00:00Z" || *w.UpdatedBy != "ops@acme.example" {
			t.Errorf("written: %s", resp.Body)
		}
		again := c.get(t)
		if r := decodeSettings(t, again); string(again.Body) != string(resp.Body) || r.Version != 1 {
			t.Errorf("read after the write = %s, want what the write answered %s", again.Body, resp.Body)
		}

		// Admins read; the admin scope alone does not write.
		admin := settingsAs(t, env, "backoffice", settingsOrg, auth.ScopeAdmin)
		if r := admin.get(t); string(r.Body) != string(resp.Body) {
			t.Errorf("read with the admin scope = %d %s", r.Status, r.Body)
		}
		wantDetails(t, admin.put(t, `"1"`, `{}`), http.StatusUnauthorized, "MDOC_003", "the token lacks the identifications/settings scope")

		// Back to the defaults: every member unset again.
		z := decodeSettings(t, c.put(t, `"1"`, `{"display_name":null}`))
		if z.Version != 2 || z.DisplayName != nil || z.Channels != nil || z.Messages != nil || z.Code.Length != nil || *z.UpdatedBy != "ops@acme.example" {
			t.Errorf("emptied: %+v", z)
		}
	})
}

// TestSettingsBadInputNamesTheField: each bad body is a 400 MDOC_002
// naming the member's path, never its value, and changes nothing.
func TestSettingsBadInputNamesTheField(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name, body string
		fields     []string
	}{
		{"not JSON", `{"display_name":`, []string{"body"}},
		{"not an object", `["SMS"]`, []string{"body"}},
		{"empty", ``, []string{"body"}},
		{"guard a number", `{"guard":1}`, []string{"guard"}},
		{"guard unknown member", `{"guard":{"max_attempts":3}}`, []string{"guard.max_attempts"}},
		{"guard.mode unknown", `{"guard":{"mode":"BLOCK"}}`, []string{"guard.mode"}},
		{"guard.mode empty", `{"guard":{"mode":""}}`, []string{"guard.mode"}},
		{"guard.allowed_countries a string", `{"guard":{"allowed_countries":"ES"}}`, []string{"guard.allowed_countries"}},
		{"guard.allowed_countries empty", `{"guard":{"allowed_countries":[]}}`, []string{"guard.allowed_countries"}},
		{"guard.allowed_countries unknown", `{"guard":{"allowed_countries":["ES","XX","es",7]}}`, []string{"guard.allowed_countries[3]", "guard.allowed_countries[1]", "guard.allowed_countries[2]"}},
		{"guard.allowed_countries twice", `{"guard":{"allowed_countries":["ES","PT","ES"]}}`, []string{"guard.allowed_countries[2]"}},
		{"guard.max_sends_per_hour zero", `{"guard":{"max_sends_per_hour":0}}`, []string{"guard.max_sends_per_hour"}},
		{"guard.max_sends_per_hour a string", `{"guard":{"max_sends_per_hour":"100"}}`, []string{"guard.max_sends_per_hour"}},
		{"guard.max_sends_per_day below the hour's", `{"guard":{"max_sends_per_hour":100,"max_sends_per_day":50}}`, []string{"guard.max_sends_per_day"}},
		{"guard.max_sends_per_destination_per_day too many", `{"guard":{"max_sends_per_destination_per_day":1001}}`, []string{"guard.max_sends_per_destination_per_day"}},
		{"guard.prefix_velocity a number", `{"guard":{"prefix_velocity":6}}`, []string{"guard.prefix_velocity"}},
		{"guard.prefix_velocity without max_per_hour", `{"guard":{"prefix_velocity":{"digits":6}}}`, []string{"guard.prefix_velocity.max_per_hour"}},
		{"guard.prefix_velocity digits too few", `{"guard":{"prefix_velocity":{"digits":2,"max_per_hour":5}}}`, []string{"guard.prefix_velocity.digits"}},
		{"sandbox is not served yet", `{"sandbox":true}`, []string{"sandbox"}},
		{"unknown member", `{"colour":"red"}`, []string{"colour"}},
		{"version is not a member", `{"version":1}`, []string{"version"}},
		{"display_name a number", `{"display_name":5}`, []string{"display_name"}},
		{"display_name empty", `{"display_name":""}`, []string{"display_name"}},
		{"display_name too long", `{"display_name":"` + long(41) + `"}`, []string{"display_name"}},
		{"display_name with a brace", `{"display_name":"Acme {x}"}`, []string{"display_name"}},
		{"display_name with a space first", `{"display_name":" Acme"}`, []string{"display_name"}},
		{"default_language unknown", `{"default_language":"FR"}`, []string{"default_language"}},
		{"default_language empty", `{"default_language":""}`, []string{"default_language"}},
		{"default_language a list", `{"default_language":["ES"]}`, []string{"default_language"}},
		{"code a list", `{"code":[8]}`, []string{"code"}},
		{"code unknown member", `{"code":{"digits":8}}`, []string{"code.digits"}},
		{"code.length a string", `{"code":{"length":"8"}}`, []string{"code.length"}},
		{"code.length a fraction", `{"code":{"length":8.5}}`, []string{"code.length"}},
		{"code.length an exponent", `{"code":{"length":8e0}}`, []string{"code.length"}},
		{"code.length too short", `{"code":{"length":5}}`, []string{"code.length"}},
		{"code.length zero", `{"code":{"length":0}}`, []string{"code.length"}},
		{"code.length too long", `{"code":{"length":11}}`, []string{"code.length"}},
		{"code.length huge", `{"code":{"length":99999999999999999999}}`, []string{"code.length"}},
		{"code.ttl_minutes zero", `{"code":{"ttl_minutes":0}}`, []string{"code.ttl_minutes"}},
		{"code.ttl_minutes too long", `{"code":{"ttl_minutes":61}}`, []string{"code.ttl_minutes"}},
		{"code.ttl_minutes negative", `{"code":{"ttl_minutes":-5}}`, []string{"code.ttl_minutes"}},
		{"channels a string", `{"channels":"SMS"}`, []string{"channels"}},
		{"channels empty", `{"channels":[]}`, []string{"channels"}},
		{"channels a number", `{"channels":["SMS",1]}`, []string{"channels[1]"}},
		{"channels unknown", `{"channels":["FAX"]}`, []string{"channels[0]"}},
		{"channels a number before an unknown one", `{"channels":[1,"FAX",null]}`, []string{"channels[0]", "channels[2]", "channels[1]"}}, // decoding first, then the rules
		{"channels twice", `{"channels":["SMS","EMAIL","SMS"]}`, []string{"channels[2]"}},
		{"messages a list", `{"messages":[]}`, []string{"messages"}},
		{"messages unknown channel", `{"messages":{"FAX":{"ES":"{code}"}}}`, []string{"messages.FAX"}},
		{"messages channel a string", `{"messages":{"SMS":"{code}"}}`, []string{"messages.SMS"}},
		{"messages channel empty", `{"messages":{"SMS":{}}}`, []string{"messages.SMS"}},
		{"messages WhatsApp", `{"messages":{"WHATSAPP":{"ES":"{code}"}}}`, []string{"messages.WHATSAPP"}},
		{"messages unknown language", `{"messages":{"SMS":{"FR":"{code}"}}}`, []string{"messages.SMS.FR"}},
		{"messages text a number", `{"messages":{"SMS":{"ES":5}}}`, []string{"messages.SMS.ES"}},
		{"messages text empty", `{"messages":{"EMAIL":{"EN":""}}}`, []string{"messages.EMAIL.EN"}},
		{"messages text without code", `{"messages":{"SMS":{"ES":"hola"}}}`, []string{"messages.SMS.ES"}},
		{"messages unknown placeholder", `{"messages":{"SMS":{"ES":"{code} {name}"}}}`, []string{"messages.SMS.ES"}},
		{"messages lone brace", `{"messages":{"SMS":{"ES":"{code} }"}}}`, []string{"messages.SMS.ES"}},
		{"messages SMS line break", `{"messages":{"SMS":{"ES":"{code}\nbye"}}}`, []string{"messages.SMS.ES"}},
		{"messages SMS two GSM-7 segments", `{"messages":{"SMS":{"EN":"{code} ` + long(160) + `"}}}`, []string{"messages.SMS.EN"}},
		{"messages SMS two UCS-2 segments", `{"messages":{"SMS":{"EN":"{code} ` + strings.Repeat("ż", 70) + `"}}}`, []string{"messages.SMS.EN"}},
		{"messages e-mail too long", `{"messages":{"EMAIL":{"EN":"{code} ` + long(1000) + `"}}}`, []string{"messages.EMAIL.EN"}},
		{"every problem at once", `{"display_name":5,"code":{"length":99,"ttl_minutes":"x"},"guard":1,"channels":["FAX"],"messages":{"SMS":{"ES":"no"}}}`,
			[]string{"display_name", "code.length", "code.ttl_minutes", "guard", "channels[0]", "messages.SMS.ES"}},
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := settingsAs(t, env, "ops", settingsOrg, auth.ScopeSettings)
		before := c.get(t).Body
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := c.put(t, `"0"`, tc.body)
				if resp.Status != http.StatusBadRequest {
					t.Fatalf("got %d, want 400: %s", resp.Status, resp.Body)
				}
				var got []string
				for _, it := range resp.Errors(t) {
					path, _, _ := strings.Cut(it.Details, ": ")
					got = append(got, path)
					if it.Code != "MDOC_002" {
						t.Errorf("code %s, want MDOC_002: %s", it.Code, it.Details)
					}
					// Never the value sent.
					for _, v := range []string{"Acme {x}", "hola", "99", `"x"`, "red", long(41), "BLOCK", "XX"} {
						if strings.Contains(tc.body, v) && strings.Contains(it.Details, v) {
							t.Errorf("details repeat the value %q: %s", v, it.Details)
						}
					}
				}
				if !slices.Equal(got, tc.fields) {
					t.Errorf("fields %v, want %v: %s", got, tc.fields, resp.Body)
				}
			})
		}
		if after := c.get(t).Body; string(after) != string(before) {
			t.Errorf("after the bad requests the settings are %s, want %s", after, before)
		}
		if p := decodeHistory(t, c.history(t, "")); len(p.Items) != 0 {
			t.Errorf("after the bad requests the history holds %d changes", len(p.Items))
		}
	})
}

// TestSettingsIfMatch: If-Match is required and must be one quoted
// version; a stale one is a 412 and changes nothing, audit list included;
// a PUT that changes nothing keeps the ETag and writes nothing.
func TestSettingsIfMatch(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := settingsAs(t, env, "ops", settingsOrg, auth.ScopeSettings)
		for _, bad := range []string{"", "*", "0", `W/"0"`, `"01"`, `"x"`, `"0", "1"`, `"-1"`, `""`, `"99999999999999999999"`} {
			wantSettingsError(t, c.put(t, bad, acmeSettings), http.StatusBadRequest, "MDOC_001", "If-Match")
		}
		if d := decodeSettings(t, c.get(t)); d.Version != 0 {
			t.Fatalf("after refused puts: version %d, want 0", d.Version)
		}

		written := c.put(t, `"0"`, acmeSettings)
		decodeSettings(t, written)
		env.Clock.Advance(time.Hour)
		stale := c.put(t, `"0"`, `{"display_name":"Globex"}`)
		wantSettingsError(t, stale, http.StatusPreconditionFailed, "MDOC_010", "")
		ahead := c.put(t, `"7"`, `{"display_name":"Globex"}`)
		wantSettingsError(t, ahead, http.StatusPreconditionFailed, "MDOC_010", "")
		if e := stale.Errors(t); len(e) != 1 || e[0].Title != "PRECONDITION_FAILED" || !strings.Contains(e[0].Details, "at version 1") {
			t.Errorf("412: %s", stale.Body)
		}
		if after := c.get(t); string(after.Body) != string(written.Body) {
			t.Errorf("after a stale put: %s, want %s", after.Body, written.Body)
		}

		// The same document again: nothing written, the same ETag and time.
		same := c.put(t, `"1"`, acmeSettings)
		if d := decodeSettings(t, same); d.Version != 1 || string(same.Body) != string(written.Body) {
			t.Errorf("unchanged put: %s, want %s", same.Body, written.Body)
		}
		// The same document with its members in another order and nulls.
		reordered := `{"messages":{"SMS":{"ES":"{org}: tu código es {code}. Caduca en {minutes} min."}},"channels":["SMS","EMAIL"],"code":{"ttl_minutes":10,"length":8},` +
			`"default_language":"ES","display_name":"Acme Bank"}`
		if d := decodeSettings(t, c.put(t, `"1"`, reordered)); d.Version != 1 {
			t.Errorf("reordered put: version %d, want 1", d.Version)
		}
		if p := decodeHistory(t, c.history(t, "")); len(p.Items) != 1 || p.Items[0].Version != 1 {
			t.Errorf("history after a stale and two unchanged puts: %+v, want version 1 only", p.Items)
		}
	})
}

// TestSettingsConcurrentPuts: 32 PUTs from the same ETag, each another
// name: exactly one is written, the others are 412, and the audit list
// holds the one.
func TestSettingsConcurrentPuts(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		c := settingsAs(t, env, "ops", settingsOrg, auth.ScopeSettings)
		const n = 32
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.put(t, `"0"`, `{"display_name":"Acme `+strconv.Itoa(i)+`"}`).Status
			}()
		}
		wg.Wait()
		winner, lost := -1, 0
		for i, s := range statuses {
			switch s {
			case http.StatusOK:
				if winner >= 0 {
					t.Errorf("puts %d and %d both succeeded", winner, i)
				}
				winner = i
			case http.StatusPreconditionFailed:
				lost++
			default:
				t.Errorf("put %d: %d", i, s)
			}
		}
		if winner < 0 || lost != n-1 {
			t.Fatalf("statuses %v: want one 200 and %d 412", statuses, n-1)
		}
		d := decodeSettings(t, c.get(t))
		if d.Version != 1 || *d.DisplayName != "Acme "+strconv.Itoa(winner) {
			t.Errorf("after the race: version %d, name %v; want 1, the winner's", d.Version, *d.DisplayName)
		}
		if p := decodeHistory(t, c.history(t, "")); len(p.Items) != 1 {
			t.Errorf("history holds %d changes, want 1", len(p.Items))
		}
	})
}

// TestSettingsHistory: the audit list names who (the token's sub) changed
// which members, newest first, in pages; limits and cursors are checked.
func TestSettingsHistory(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		ana := settingsAs(t, env, "ana@acme.example", settingsOrg, auth.ScopeSettings)
		bob := settingsAs(t, env, "bob@acme.example", settingsOrg, auth.ScopeSettings, auth.ScopeAdmin)
		first := ana.put(t, `"0"`, acmeSettings)
		decodeSettings(t, first)
		env.Clock.Advance(90 * time.Second)
		decodeSettings(t, bob.put(t, `"1"`, `{"display_name":"Acme Bank","default_language":"ES","code":{"length":6,"ttl_minutes":10},"channels":["SMS","EMAIL"],`+
			`"messages":{"SMS":{"ES":"{org}: tu código es {code}. Caduca en {minutes} min.","EN":"{org}: your code is {code}"}}}`))
		env.Clock.Advance(time.Minute)
		decodeSettings(t, ana.put(t, `"2"`, `{"channels":["EMAIL"]}`))

		p := decodeHistory(t, bob.history(t, ""))
		if len(p.Items) != 3 || p.Next != nil {
			t.Fatalf("history: %+v, want 3 changes and no next", p)
		}
		want := []struct {
			version int64
			at, sub string
			fields  []string
		}{
			{3, "2026-11-21T10:02:30Z", "ana@acme.example", []string{"display_name", "default_language", "code.length", "code.ttl_minutes", "channels", "messages.SMS.EN", "messages.SMS.ES"}},
			{2, "2026-11-21T10:01:30Z", "bob@acme.example", []string{"code.length", "messages.SMS.EN"}},
			{1, "2026-11-21T10:00:00Z", "ana@acme.example", []string{"display_name", "default_language", "code.length", "code.ttl_minutes", "channels", "messages.SMS.ES"}},
		}
		for i, w := range want {
			got := p.Items[i]
			if got.Version != w.version || got.At != w.at || got.By.Sub != w.sub || got.By.Kind != "admin" || got.RequestID == "" {
				t.Errorf("change %d: %+v, want version %d at %s by admin %s", i, got, w.version, w.at, w.sub)
			}
			if !slices.Equal(got.Fields, w.fields) {
				t.Errorf("change %d fields %v, want %v", got.Version, got.Fields, w.fields)
			}
		}
		if strings.Contains(string(bob.history(t, "").Body), "tu código") {
			t.Errorf("the history shows a text")
		}
		if got, want := p.Items[2].RequestID, first.Header.Get("X-Request-Id"); got != want {
			t.Errorf("change 1 request_id %q, want the PUT's X-Request-Id %q", got, want)
		}

		// Pages of one.
		var versions []int64
		query := "limit=1"
		for range 5 {
			page := decodeHistory(t, ana.history(t, query))
			if len(page.Items) != 1 {
				t.Fatalf("page %s: %+v", query, page)
			}
			versions = append(versions, page.Items[0].Version)
			if page.Next == nil {
				break
			}
			query = "limit=1&before=" + *page.Next
		}
		if !slices.Equal(versions, []int64{3, 2, 1}) {
			t.Errorf("pages of one: versions %v, want 3, 2, 1", versions)
		}
		page := decodeHistory(t, ana.history(t, "limit=2"))
		if len(page.Items) != 2 || page.Next == nil {
			t.Fatalf("page of two: %+v", page)
		}
		rest := decodeHistory(t, ana.history(t, "before="+*page.Next))
		if len(rest.Items) != 1 || rest.Items[0].Version != 1 || rest.Next != nil {
			t.Errorf("the page after two: %+v", rest)
		}

		// Bad limits and cursors: 400 MDOC_001 naming the parameter. A
		// cursor names a version of one organisation's list: another
		// version's digits in it, or a check that is not its own, are
		// refused.
		raw, err := base64.RawURLEncoding.DecodeString(*page.Next)
		if err != nil || !strings.HasPrefix(string(raw), "s1:2:") {
			t.Fatalf("cursor %s = %q, %v; want s1:2:…", *page.Next, raw, err)
		}
		tampered := base64.RawURLEncoding.EncodeToString([]byte("s1:3" + string(raw[4:])))
		wrongCheck := base64.RawURLEncoding.EncodeToString([]byte("s1:2:" + strings.Repeat("0", 12)))
		for q, param := range map[string]string{
			"limit=0": "limit", "limit=101": "limit", "limit=abc": "limit", "limit=-1": "limit", "limit=%2B5": "limit", "limit=1&limit=2": "limit",
			"before=" + tampered: "before", "before=" + wrongCheck: "before", "before=" + *page.Next + "A": "before", "before=czE6MA": "before", "before=czE6LTE": "before", "before=xyz!": "before",
			"before=ZDE6bXNnXzFhMWZkOGM3Yzg4azdxM20yeHY1cDRyNnQyd3ozYTduYnE0": "before", "cursor=czE6Mg": "cursor",
		} {
			wantSettingsError(t, ana.history(t, q), http.StatusBadRequest, "MDOC_001", param)
		}
		wantSettingsError(t, ana.env.Do(t, apitest.Request{Method: http.MethodGet, Path: settingsPath + "?x=1", Token: ana.token}), http.StatusBadRequest, "MDOC_001", "query")
	})
}

// TestSettingsScopes: only the settings scope writes; admins read; an
// actor's, agent's, reviewer's or provider's token gets the 401 every
// route gives a token without its scope; another organisation's token
// neither reads nor writes.
func TestSettingsScopes(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		owner := settingsAs(t, env, "ops", settingsOrg, auth.ScopeSettings)
		written := owner.put(t, `"0"`, acmeSettings)
		decodeSettings(t, written)
		for _, scope := range []string{auth.ScopeActor, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider, auth.ScopeForceDelete} {
			c := settingsAs(t, env, "someone", settingsOrg, scope)
			const readers = "the token lacks the identifications/admin or identifications/settings scope"
			wantDetails(t, c.get(t), http.StatusUnauthorized, "MDOC_003", readers)
			wantDetails(t, c.history(t, ""), http.StatusUnauthorized, "MDOC_003", readers)
			wantDetails(t, c.put(t, `"1"`, `{}`), http.StatusUnauthorized, "MDOC_003", "the token lacks the identifications/settings scope")
		}
		other := settingsAs(t, env, "intruder", "globex", auth.ScopeSettings, auth.ScopeAdmin)
		const notHers = "the token is not valid for the organisation in the path"
		wantDetails(t, other.get(t), http.StatusUnauthorized, "MDOC_003", notHers)
		wantDetails(t, other.history(t, ""), http.StatusUnauthorized, "MDOC_003", notHers)
		wantDetails(t, other.put(t, `"1"`, `{"display_name":"Hijacked"}`), http.StatusUnauthorized, "MDOC_003", notHers)
		// Its own organisation's settings are its own: version 0.
		own := other.env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/globex/settings", Token: other.token})
		if d := decodeSettings(t, own); d.Version != 0 || d.DisplayName != nil {
			t.Errorf("globex's own settings: %s", own.Body)
		}
		if after := owner.get(t); string(after.Body) != string(written.Body) {
			t.Errorf("acme's settings after another organisation's calls: %s, want %s", after.Body, written.Body)
		}
		if p := decodeHistory(t, owner.history(t, "")); len(p.Items) != 1 || p.Items[0].By.Sub != "ops" {
			t.Errorf("acme's history after another organisation's calls: %+v", p.Items)
		}
	})
}
