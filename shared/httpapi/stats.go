// The statistics' route (docs/api.md#statistics): an organisation's hourly
// counts, as the stream processor counted them.

package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/idadmin/api/shared/stats"
)

// GetStats reads the organisation's statistics.
var GetStats = Route{Name: "get-stats", Method: http.MethodGet, Path: "/v1/orgs/{org_id}/stats", Success: http.StatusOK,
	Scopes: adminOrSettings, Needs: settingsNeeded, serve: (*Handler).getStats}

// DefaultStatsRange is the span read when from is not given;
// MaxStatsBuckets the most hourly rows one answer holds (a month of an
// organisation in many countries, grouped by country, is more: ask for a
// shorter span).
const (
	DefaultStatsRange = 24 * time.Hour
	MaxStatsBuckets   = 5000
)

// statsYears bound the times from and to may name.
var statsYears = [2]int{2000, 9000}

// statsRow is one hour's (or the span's) counts of one group.
type statsRow struct {
	Hour           *time.Time `json:"hour,omitempty"`
	Group          *string    `json:"group,omitempty"`
	Created        int64      `json:"created"`
	CodesSent      int64      `json:"codes_sent"`
	Delivered      int64      `json:"delivered"`
	DeliveryFailed int64      `json:"delivery_failed"`
	Blocked        int64      `json:"blocked"`
	Flagged        int64      `json:"flagged"`
	Completed      int64      `json:"completed"`
	Failed         int64      `json:"failed"`
	Expired        int64      `json:"expired"`
	Cancelled      int64      `json:"cancelled"`
	Conversion     *float64   `json:"conversion"`
	DeliveryMsP50  *int64     `json:"delivery_ms_p50"`
	DeliveryMsP95  *int64     `json:"delivery_ms_p95"`
}

type statsView struct {
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	GroupBy *string    `json:"group_by"`
	Buckets []statsRow `json:"buckets"`
	Totals  []statsRow `json:"totals"`
}

func (h *Handler) getStats(w http.ResponseWriter, r *http.Request, c *call) {
	from, to, groupBy, err := statsQuery(r, h.settings.Now())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rows, totals, err := h.settings.Stats(r.Context(), c.org, from, to, groupBy)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(rows) > MaxStatsBuckets {
		h.writeError(w, r, paramError("from: the span holds %d hourly rows, more than %d: ask for a shorter one", len(rows), MaxStatsBuckets))
		return
	}
	out := statsView{From: from, To: to, GroupBy: nonEmpty(groupBy), Buckets: make([]statsRow, len(rows)), Totals: make([]statsRow, len(totals))}
	for n, row := range rows {
		out.Buckets[n] = statsRowOf(row, groupBy)
	}
	for n, row := range totals {
		out.Totals[n] = statsRowOf(row, groupBy)
	}
	writeJSON(w, http.StatusOK, out)
}

func statsRowOf(r stats.Row, groupBy string) statsRow {
	out := statsRow{Hour: r.Hour, Created: r.Values[stats.Created], CodesSent: r.Values[stats.CodesSent], Delivered: r.Values[stats.Delivered],
		DeliveryFailed: r.Values[stats.DeliveryFailed], Blocked: r.Values[stats.Blocked], Flagged: r.Values[stats.Flagged],
		Completed: r.Values[stats.Completed], Failed: r.Values[stats.Failed], Expired: r.Values[stats.Expired], Cancelled: r.Values[stats.Cancelled],
		Conversion: r.Conversion, DeliveryMsP50: r.P50, DeliveryMsP95: r.P95}
	if groupBy != "" {
		g := r.Group
		out.Group = &g
	}
	return out
}

// statsQuery reads from, to (RFC 3339, whole hours: from rounded down, to
// up; to defaults to the end of the current hour, from to DefaultStatsRange
// before to) and group_by. An error names the parameter the client gave.
func statsQuery(r *http.Request, now time.Time) (from, to time.Time, groupBy string, err error) {
	q, perr := url.ParseQuery(r.URL.RawQuery)
	if perr != nil {
		return from, to, "", paramError("query: is malformed (encode a + in a time's offset as %%2B)")
	}
	var hasFrom, hasTo bool
	var rawFrom, rawTo time.Time
	for name, vals := range q {
		if len(vals) != 1 {
			return from, to, "", paramError("%s: must be given once", safeParam(name))
		}
		v := vals[0]
		switch name {
		case "from", "to":
			t, terr := time.Parse(time.RFC3339, v)
			if terr != nil {
				return from, to, "", paramError("%s: must be a time in RFC 3339 (2026-12-06T10:00:00Z; a + in its offset encoded as %%2B)", name)
			}
			if y := t.UTC().Year(); y < statsYears[0] || y >= statsYears[1] {
				return from, to, "", paramError("%s: must be a time from the year %d to %d", name, statsYears[0], statsYears[1]-1)
			}
			if name == "from" {
				rawFrom, hasFrom = t.UTC(), true
			} else {
				rawTo, hasTo = t.UTC(), true
			}
		case "group_by":
			if !slices.Contains(stats.Dimensions, v) {
				return from, to, "", paramError("group_by: must be one of channel, country, type")
			}
			groupBy = v
		default:
			return from, to, "", paramError("%s: is not a parameter of this endpoint (from, to, group_by)", safeParam(name))
		}
	}
	switch {
	case hasFrom && hasTo:
		if !rawFrom.Before(rawTo) {
			return from, to, "", paramError("to: must be after from")
		}
		if rawTo.Sub(rawFrom) > stats.MaxRange {
			return from, to, "", paramError("to: must be at most 31 days after from")
		}
		from, to = rawFrom.Truncate(time.Hour), ceilHour(rawTo)
	case hasTo:
		to = ceilHour(rawTo)
		from = to.Add(-DefaultStatsRange)
	default:
		to = ceilHour(now.UTC().Add(time.Nanosecond))
		if hasFrom {
			from = rawFrom.Truncate(time.Hour)
			if !from.Before(to) {
				return from, to, "", paramError("from: must be before now (or give to)")
			}
			if to.Sub(rawFrom) > stats.MaxRange {
				return from, to, "", paramError("from: must be at most 31 days ago (or give to)")
			}
		} else {
			from = to.Add(-DefaultStatsRange)
		}
	}
	return from, to, groupBy, nil
}

// ceilHour is t rounded up to a whole hour.
func ceilHour(t time.Time) time.Time {
	if h := t.Truncate(time.Hour); !h.Equal(t) {
		return h.Add(time.Hour)
	}
	return t
}
