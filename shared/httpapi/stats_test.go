package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/stats"
)

type statsBody struct {
	From    time.Time                    `json:"from"`
	To      time.Time                    `json:"to"`
	GroupBy *string                      `json:"group_by"`
	Buckets []map[string]json.RawMessage `json:"buckets"`
	Totals  []map[string]json.RawMessage `json:"totals"`
}

// TestStatsRoute: the statistics read back what was counted, by hour and
// group over whole hours (from rounded down, to up; the last 24 hours by
// default), with the conversion and the delivery percentiles; each bad
// parameter is a 400 naming it; a token of another organisation and an
// actor token are refused (401).
func TestStatsRoute(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		env := apitest.New(t, e)
		now := env.Clock.Now()
		hour := now.UTC().Truncate(time.Hour)
		var tally stats.Tally
		sms := stats.Dims{Channel: "SMS", Country: "ES", Type: "OTP"}
		mail := stats.Dims{Channel: "EMAIL", Country: stats.Unknown, Type: "CHAIN"}
		for range 4 {
			tally.Count(settingsOrg, hour, sms, stats.Created)
			tally.Latency(settingsOrg, hour, sms, 800)
		}
		tally.Count(settingsOrg, hour, sms, stats.Completed)
		tally.Count(settingsOrg, hour.Add(-2*time.Hour), mail, stats.Created)
		tally.Count("globex", hour, sms, stats.Created)
		if err := tally.Flush(t.Context(), env.Store); err != nil {
			t.Fatal(err)
		}
		c := settingsAs(t, env, "ops@acme.example", settingsOrg, auth.ScopeAdmin)
		get := func(query string) *apitest.Response {
			return env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/" + settingsOrg + "/stats?" + query, Token: c.token})
		}
		read := func(query string) statsBody {
			t.Helper()
			resp := get(query)
			if resp.Status != http.StatusOK {
				t.Fatalf("stats?%s: %d %s", query, resp.Status, resp.Body)
			}
			var b statsBody
			if err := json.Unmarshal(resp.Body, &b); err != nil {
				t.Fatal(err)
			}
			return b
		}

		b := read("")
		if !b.To.Equal(hour.Add(time.Hour)) || !b.From.Equal(hour.Add(-23*time.Hour)) || b.GroupBy != nil || len(b.Totals) != 1 || len(b.Buckets) != 2 {
			t.Fatalf("the default span: %+v", b)
		}
		if got := string(b.Totals[0]["created"]) + " " + string(b.Totals[0]["completed"]) + " " + string(b.Totals[0]["conversion"]) + " " +
			string(b.Totals[0]["delivery_ms_p50"]) + " " + string(b.Totals[0]["delivery_ms_p95"]); got != "5 1 0.2 1000 1000" {
			t.Errorf("total created, completed, conversion, p50, p95: %s, want 5 1 0.2 1000 1000", got)
		}
		if _, ok := b.Totals[0]["group"]; ok {
			t.Errorf("an ungrouped total names a group: %v", b.Totals[0])
		}

		b = read("group_by=channel&from=" + url.QueryEscape(hour.Add(-90*time.Minute).Format(time.RFC3339)) + "&to=" + url.QueryEscape(hour.Add(time.Minute).Format(time.RFC3339)))
		if !b.From.Equal(hour.Add(-2*time.Hour)) || !b.To.Equal(hour.Add(time.Hour)) || *b.GroupBy != "channel" || len(b.Totals) != 2 {
			t.Fatalf("grouped by channel over [-2h, +1h): %+v", b)
		}
		if string(b.Totals[0]["group"]) != `"EMAIL"` || string(b.Totals[0]["conversion"]) != "0" || string(b.Totals[0]["delivery_ms_p50"]) != "null" ||
			string(b.Totals[1]["group"]) != `"SMS"` || string(b.Totals[1]["created"]) != "4" {
			t.Errorf("totals by channel: %v", b.Totals)
		}
		if b := read("from=" + url.QueryEscape(hour.Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(hour.Format(time.RFC3339))); len(b.Buckets) != 0 || len(b.Totals) != 0 {
			t.Errorf("an hour with no counts: %+v", b)
		}

		for query, field := range map[string]string{
			"from=yesterday":                 "from",
			"to=2026-13-01T00:00:00Z":        "to",
			"group_by=colour":                "group_by",
			"group_by=channel&group_by=type": "group_by",
			"colour=red":                     "colour",
			"from=2026-12-06T10:00:00Z&to=2026-12-06T09:00:00Z": "to",
			"from=2026-10-01T00:00:00Z&to=2026-12-06T00:00:00Z": "to",
			"to=9999-12-31T23:00:01Z":                           "to",
			"to=0000-01-01T00:00:00Z":                           "to",
			"from=2020-01-01T00:00:00Z":                         "from",
			"from=2099-01-01T00:00:00Z":                         "from",
			"from=%zz":                                          "query",
			"from=2026-12-06T10:00:00+01:00":                    "from",
		} {
			wantSettingsError(t, get(query), http.StatusBadRequest, "MDOC_001", field)
		}

		other := settingsAs(t, env, "ops@globex.example", "globex", auth.ScopeAdmin)
		resp := env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/" + settingsOrg + "/stats", Token: other.token})
		wantSettingsError(t, resp, http.StatusUnauthorized, "MDOC_003", "")
		actor := settingsAs(t, env, "actor-1", settingsOrg, auth.ScopeActor)
		wantSettingsError(t, env.Do(t, apitest.Request{Method: http.MethodGet, Path: "/v1/orgs/" + settingsOrg + "/stats", Token: actor.token}),
			http.StatusUnauthorized, "MDOC_003", "")
	})
}
