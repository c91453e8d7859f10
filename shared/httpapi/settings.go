// The settings routes (docs/settings.md): an organisation's settings
// document, read by its admins, replaced under the
// identifications/settings scope with the ETag it was read at, and the
// audit list of its changes.

package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/wirejson"
)

const settingsPath = "/v1/orgs/{org_id}/settings"

var (
	// adminOrSettings: the organisation's admins read its settings; only
	// the settings scope changes them.
	adminOrSettings = []string{auth.ScopeAdmin, auth.ScopeSettings}
	settingsNeeded  = []Need{NeedSettings}
)

// The settings routes.
var (
	GetSettings = Route{Name: "get-settings", Method: http.MethodGet, Path: settingsPath, Success: http.StatusOK, Scopes: adminOrSettings,
		Needs: settingsNeeded, serve: (*Handler).getSettings}
	PutSettings = Route{Name: "put-settings", Method: http.MethodPut, Path: settingsPath, Success: http.StatusOK, Scopes: settingsScope,
		Needs: settingsNeeded, serve: (*Handler).putSettings}
	GetSettingsHistory = Route{Name: "get-settings-history", Method: http.MethodGet, Path: settingsPath + "/history", Success: http.StatusOK, Scopes: adminOrSettings,
		Needs: settingsNeeded, serve: (*Handler).getSettingsHistory}
)

// settingsView is the document as the API shows it: every member, those
// not set null (the deployment's default applies to them), and the
// version it is at, when and by whom it was last changed (null before the
// first change).
type settingsView struct {
	DisplayName     *string                      `json:"display_name"`
	DefaultLanguage *string                      `json:"default_language"`
	Code            codeView                     `json:"code"`
	Channels        []string                     `json:"channels"`
	Messages        map[string]map[string]string `json:"messages"`
	Guard           guardView                    `json:"guard"`
	Version         int64                        `json:"version"`
	UpdatedAt       *time.Time                   `json:"updated_at"`
	UpdatedBy       *string                      `json:"updated_by"`
}

type codeView struct {
	Length     *int `json:"length"`
	TTLMinutes *int `json:"ttl_minutes"`
}

// guardView is the sending guard as the API shows it: a member not set
// null (ENFORCE, the deployment's countries, no limit).
type guardView struct {
	Mode                         *string             `json:"mode"`
	AllowedCountries             []string            `json:"allowed_countries"`
	MaxSendsPerHour              *int                `json:"max_sends_per_hour"`
	MaxSendsPerDay               *int                `json:"max_sends_per_day"`
	MaxSendsPerDestinationPerDay *int                `json:"max_sends_per_destination_per_day"`
	PrefixVelocity               *prefixVelocityView `json:"prefix_velocity"`
}

type prefixVelocityView struct {
	Digits     int `json:"digits"`
	MaxPerHour int `json:"max_per_hour"`
}

func settingsViewOf(st settings.Stored) settingsView {
	s := st.Settings.Clone()
	v := settingsView{DisplayName: nonEmpty(s.DisplayName), DefaultLanguage: nonEmpty(s.DefaultLanguage),
		Code: codeView{Length: nonZero(s.CodeLength), TTLMinutes: nonZero(s.CodeTTLMinutes)}, Channels: s.Channels, Version: st.Version}
	if len(s.Messages) > 0 {
		v.Messages = s.Messages
	}
	g := s.Guard
	v.Guard = guardView{Mode: nonEmpty(g.Mode), AllowedCountries: g.AllowedCountries, MaxSendsPerHour: nonZero(g.MaxSendsPerHour),
		MaxSendsPerDay: nonZero(g.MaxSendsPerDay), MaxSendsPerDestinationPerDay: nonZero(g.MaxSendsPerDestinationPerDay)}
	if g.PrefixDigits != 0 {
		v.Guard.PrefixVelocity = &prefixVelocityView{Digits: g.PrefixDigits, MaxPerHour: g.PrefixMaxPerHour}
	}
	if !st.UpdatedAt.IsZero() {
		at := st.UpdatedAt.UTC().Truncate(time.Second)
		v.UpdatedAt = &at
	}
	v.UpdatedBy = nonEmpty(st.UpdatedBy)
	return v
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// settingsMembers are the members a PUT takes. The sandbox member comes
// in a later release: until then it is an unknown field.
var settingsMembers = []string{"display_name", "default_language", "code", "channels", "messages", "guard"}

// guardMembers are the guard's.
var guardMembers = []string{"mode", "allowed_countries", "max_sends_per_hour", "max_sends_per_day",
	"max_sends_per_destination_per_day", "prefix_velocity"}

// parseSettings decodes a PUT's body, the whole document (a member absent
// or null is not set), and checks the document's rules for org: every
// problem at its path, the value never repeated.
func parseSettings(body []byte, org string) (settings.Settings, error) {
	var s settings.Settings
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return s, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, settingsMembers...)
	if !ok {
		return s, p.Err()
	}
	s.DisplayName = wirejson.String(p, m, "", "display_name")
	if _, ok := m["display_name"].(string); ok && s.DisplayName == "" {
		p.Fail("display_name", "must be 1 to %d characters, or null to leave it unset", settings.MaxDisplayName)
	}
	s.DefaultLanguage = wirejson.String(p, m, "", "default_language")
	if _, ok := m["default_language"].(string); ok && s.DefaultLanguage == "" {
		p.Fail("default_language", "must be one of %s, or null to leave it unset", strings.Join(identification.Languages, ", "))
	}
	if c, ok := wirejson.Present(p, m, "", "code"); ok {
		if cm, ok := wirejson.Object(p, "code", c, "length", "ttl_minutes"); ok {
			s.CodeLength = wholeNumber(p, cm, "code", "length", settings.MinCodeLength, settings.MaxCodeLength)
			s.CodeTTLMinutes = wholeNumber(p, cm, "code", "ttl_minutes", settings.MinCodeTTLMinutes, settings.MaxCodeTTLMinutes)
		}
	}
	if raw, ok := wirejson.Present(p, m, "", "channels"); ok {
		list, isList := raw.([]any)
		if !isList {
			p.Fail("channels", "must be a list of channels, got %s", wirejson.Kind(raw))
		} else {
			s.Channels = make([]string, 0, len(list))
			for n, e := range list {
				c, isStr := e.(string)
				if !isStr {
					// Kept in its place (as no channel), so that the
					// rules name the others at their own index.
					p.Fail("channels["+strconv.Itoa(n)+"]", "must be a string, got %s", wirejson.Kind(e))
				}
				s.Channels = append(s.Channels, c)
			}
		}
	}
	if raw, ok := wirejson.Present(p, m, "", "messages"); ok {
		s.Messages = decodeMessages(p, raw)
	}
	if raw, ok := wirejson.Present(p, m, "", "guard"); ok {
		s.Guard = decodeGuard(p, raw)
	}
	s.Check(p, org)
	return s, p.Err()
}

// decodeMessages reads messages: an object of channel to an object of
// language to text. No texts at all is none set.
func decodeMessages(p *identification.Problems, raw any) map[string]map[string]string {
	mm, ok := wirejson.Object(p, "messages", raw, settings.Channels...)
	if !ok {
		return nil
	}
	out := map[string]map[string]string{}
	for _, ch := range settings.Channels {
		v, ok := wirejson.Present(p, mm, "messages", ch)
		if !ok {
			continue
		}
		path := wirejson.Join("messages", ch)
		texts, ok := wirejson.Object(p, path, v, identification.Languages...)
		if !ok {
			continue
		}
		known := map[string]string{}
		for _, lang := range identification.Languages {
			if _, ok := wirejson.Present(p, texts, path, lang); ok {
				known[lang] = wirejson.String(p, texts, path, lang)
			}
		}
		// Only unknown languages: each is reported already, and the
		// channel is not also said to have no text.
		if len(texts) > 0 && len(known) == 0 {
			continue
		}
		out[ch] = known
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// decodeGuard reads guard: its members' types and ranges (the rules
// between them are Settings.Check's).
func decodeGuard(p *identification.Problems, raw any) settings.Guard {
	var g settings.Guard
	m, ok := wirejson.Object(p, "guard", raw, guardMembers...)
	if !ok {
		return g
	}
	g.Mode = wirejson.String(p, m, "guard", "mode")
	if _, ok := m["mode"].(string); ok && g.Mode == "" {
		p.Fail("guard.mode", "must be one of %s, or null to leave it unset", strings.Join(identification.GuardModes, ", "))
	}
	if raw, ok := wirejson.Present(p, m, "guard", "allowed_countries"); ok {
		list, isList := raw.([]any)
		if !isList {
			p.Fail("guard.allowed_countries", "must be a list of country codes, got %s", wirejson.Kind(raw))
		} else {
			g.AllowedCountries = make([]string, 0, len(list))
			for n, e := range list {
				c, isStr := e.(string)
				if !isStr {
					p.Fail("guard.allowed_countries["+strconv.Itoa(n)+"]", "must be a string, got %s", wirejson.Kind(e))
				}
				g.AllowedCountries = append(g.AllowedCountries, c)
			}
		}
	}
	g.MaxSendsPerHour = wholeNumber(p, m, "guard", "max_sends_per_hour", 1, settings.MaxSendsPerHour)
	g.MaxSendsPerDay = wholeNumber(p, m, "guard", "max_sends_per_day", 1, settings.MaxSendsPerDay)
	g.MaxSendsPerDestinationPerDay = wholeNumber(p, m, "guard", "max_sends_per_destination_per_day", 1, settings.MaxSendsPerDestination)
	if raw, ok := wirejson.Present(p, m, "guard", "prefix_velocity"); ok {
		if pv, ok := wirejson.Object(p, "guard.prefix_velocity", raw, "digits", "max_per_hour"); ok {
			g.PrefixDigits = wholeNumber(p, pv, "guard.prefix_velocity", "digits", settings.MinPrefixDigits, settings.MaxPrefixDigits)
			g.PrefixMaxPerHour = wholeNumber(p, pv, "guard.prefix_velocity", "max_per_hour", 1, settings.MaxPrefixPerHour)
			for _, k := range []string{"digits", "max_per_hour"} {
				if _, ok := pv[k]; !ok || pv[k] == nil {
					p.Fail("guard.prefix_velocity."+k, "is required with prefix_velocity")
				}
			}
		}
	}
	return g
}

// wholeNumber reads an integer field from lo to hi (0 when absent or
// null).
func wholeNumber(p *identification.Problems, m map[string]any, path, key string, lo, hi int) int {
	v, ok := wirejson.Present(p, m, path, key)
	if !ok {
		return 0
	}
	num, isNum := v.(json.Number)
	if !isNum {
		p.Fail(wirejson.Join(path, key), "must be a whole number from %d to %d, got %s", lo, hi, wirejson.Kind(v))
		return 0
	}
	n, err := strconv.Atoi(string(num))
	if err != nil || n < lo || n > hi {
		p.Fail(wirejson.Join(path, key), "must be a whole number from %d to %d", lo, hi)
		return 0
	}
	return n
}

// ifMatch reads the version a PUT was made from: its If-Match header,
// required, one quoted version as an ETag of these routes gave it.
func ifMatch(r *http.Request) (int64, error) {
	vals := r.Header.Values("If-Match")
	const want = `: header is required, the ETag of the settings as read (GET), such as "3"; * is not accepted`
	if len(vals) == 0 {
		return 0, paramError("If-Match" + want)
	}
	v := strings.TrimSpace(strings.Join(vals, ","))
	digits, ok := strings.CutPrefix(v, `"`)
	if ok {
		digits, ok = strings.CutSuffix(digits, `"`)
	}
	if !ok || !isDigits(digits) || len(digits) > 18 || len(digits) > 1 && digits[0] == '0' {
		return 0, paramError("If-Match" + want)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, paramError("If-Match" + want)
	}
	return n, nil
}

func (h *Handler) getSettings(w http.ResponseWriter, r *http.Request, c *call) {
	if r.URL.RawQuery != "" {
		h.writeError(w, r, paramError("query: this endpoint takes no parameters"))
		return
	}
	st, err := h.settings.Get(r.Context(), c.org)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(st.Version))
	writeJSON(w, http.StatusOK, settingsViewOf(st))
}

func (h *Handler) putSettings(w http.ResponseWriter, r *http.Request, c *call) {
	if r.URL.RawQuery != "" {
		h.writeError(w, r, paramError("query: this endpoint takes no parameters"))
		return
	}
	from, err := ifMatch(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in, ok := decoded(h, w, r, func(b []byte) (settings.Settings, error) { return parseSettings(b, c.org) })
	if !ok {
		return
	}
	st, err := h.settings.Put(r.Context(), c.org, in, from, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(st.Version))
	writeJSON(w, http.StatusOK, settingsViewOf(st))
}

// settingsChangeView is one entry of the audit list.
type settingsChangeView struct {
	Version   int64         `json:"version"`
	At        time.Time     `json:"at"`
	By        changedByView `json:"by"`
	RequestID string        `json:"request_id"`
	Fields    []string      `json:"fields"`
}

type changedByView struct {
	Kind string `json:"kind"`
	Sub  string `json:"sub"`
}

// DefaultSettingsHistoryLimit is the audit list's page unless a limit is
// given (at most settings.MaxHistoryPage).
const DefaultSettingsHistoryLimit = 20

// settingsCursor is the cursor of org's audit list below version: opaque
// to clients, "s1:", the version and a check binding it to org,
// base64url. The check is no seal (the cursor names nothing a client
// could not ask for: its own organisation's audit list below a version);
// it makes a cursor changed on the way, or another organisation's, a 400
// rather than another page.
func settingsCursor(org string, version int64) string {
	v := strconv.FormatInt(version, 10)
	return base64.RawURLEncoding.EncodeToString([]byte("s1:" + v + ":" + cursorCheck(org, v)))
}

func cursorCheck(org, version string) string {
	sum := sha256.Sum256([]byte("settings-history\x00" + org + "\x00" + version))
	return hex.EncodeToString(sum[:6])
}

// openSettingsCursor is the version a cursor of org's audit list names.
func openSettingsCursor(org, c string) (int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != c {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(raw), "s1:")
	digits, check, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || !isDigits(digits) || len(digits) > 18 || digits[0] == '0' || check != cursorCheck(org, digits) {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

func (h *Handler) getSettingsHistory(w http.ResponseWriter, r *http.Request, c *call) {
	limit, raw, err := pageQuery(r, DefaultSettingsHistoryLimit, settings.MaxHistoryPage, "before")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	before := int64(0)
	if raw != "" {
		n, ok := openSettingsCursor(c.org, raw)
		if !ok {
			h.writeError(w, r, paramError("before: is not a cursor this endpoint gave; pass next back unchanged"))
			return
		}
		before = n
	}
	items, more, err := h.settings.History(r.Context(), c.org, limit, before)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := struct {
		Items []settingsChangeView `json:"items"`
		Next  *string              `json:"next"`
	}{Items: make([]settingsChangeView, 0, len(items))}
	for _, ch := range items {
		fields := ch.Fields
		if fields == nil {
			fields = []string{}
		}
		out.Items = append(out.Items, settingsChangeView{Version: ch.Version, At: ch.At.UTC().Truncate(time.Second),
			By: changedByView{Kind: string(ch.ByKind), Sub: ch.BySub}, RequestID: ch.RequestID, Fields: fields})
	}
	if more && len(items) > 0 {
		next := settingsCursor(c.org, items[len(items)-1].Version)
		out.Next = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// pageQuery reads a paged route's query: limit (1 to max, def when
// absent) and the cursor parameter named cursor (raw, "" when absent),
// each at most once and nothing else; the route reads its cursor itself.
func pageQuery(r *http.Request, def, max int, cursor string) (int, string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return 0, "", paramError("query: is malformed")
	}
	limit, c := def, ""
	for name, vals := range q {
		if len(vals) != 1 {
			return 0, "", paramError("%s: must be given once", safeParam(name))
		}
		switch v := vals[0]; name {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > max || !isDigits(v) {
				return 0, "", paramError("limit: must be a whole number from 1 to %d", max)
			}
			limit = n
		case cursor:
			c = v
		default:
			return 0, "", paramError("%s: is not a parameter of this endpoint (limit, %s)", safeParam(name), cursor)
		}
	}
	return limit, c, nil
}
