package settings

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
)

// Check records in p every rule s breaks, each at its member's path,
// naming the rule and never the value. org is the organisation's id, which
// messages call it by when s has no display name.
func (s Settings) Check(p *identification.Problems, org string) {
	if s.DisplayName != "" {
		if msg := checkName(s.DisplayName); msg != "" {
			p.Add("display_name", "%s", msg)
		}
	}
	if s.DefaultLanguage != "" && !slices.Contains(identification.Languages, s.DefaultLanguage) {
		p.Add("default_language", "must be one of %s", strings.Join(identification.Languages, ", "))
	}
	if s.CodeLength != 0 && (s.CodeLength < MinCodeLength || s.CodeLength > MaxCodeLength) {
		p.Add("code.length", "must be from %d to %d", MinCodeLength, MaxCodeLength)
	}
	if s.CodeTTLMinutes != 0 && (s.CodeTTLMinutes < MinCodeTTLMinutes || s.CodeTTLMinutes > MaxCodeTTLMinutes) {
		p.Add("code.ttl_minutes", "must be from %d to %d", MinCodeTTLMinutes, MaxCodeTTLMinutes)
	}
	if s.Channels != nil {
		if len(s.Channels) == 0 {
			p.Add("channels", "must name at least one channel, of %s", strings.Join(Channels, ", "))
		}
		for n, c := range s.Channels {
			path := "channels[" + strconv.Itoa(n) + "]"
			switch {
			case !slices.Contains(Channels, c):
				p.Add(path, "must be one of %s", strings.Join(Channels, ", "))
			case slices.Index(s.Channels, c) != n:
				p.Add(path, "must name each channel once")
			}
		}
	}
	s.Guard.check(p)
	name := s.DisplayName
	if name == "" {
		name = org
	}
	length := max(s.CodeLength, MinCodeLength)
	if s.CodeLength > MaxCodeLength {
		length = MaxCodeLength
	}
	for _, ch := range slices.Sorted(maps.Keys(s.Messages)) {
		path := "messages." + ch
		if !slices.Contains(Channels, ch) {
			p.Add(path, "must be a channel, one of %s", strings.Join(Channels, ", "))
			continue
		}
		if ch == "WHATSAPP" {
			p.Add(path, "is not configurable: WhatsApp sends the templates approved in the WhatsApp Business account")
			continue
		}
		if len(s.Messages[ch]) == 0 {
			p.Add(path, "must hold at least one language's text, or be left out")
		}
		for _, lang := range slices.Sorted(maps.Keys(s.Messages[ch])) {
			lpath := path + "." + lang
			if !slices.Contains(identification.Languages, lang) {
				p.Add(lpath, "must be a language, one of %s", strings.Join(identification.Languages, ", "))
				continue
			}
			if msg := CheckText(ch, s.Messages[ch][lang], name, length); msg != "" {
				p.Add(lpath, "%s", msg)
			}
		}
	}
	// The built-in SMS texts are written for names of the GSM alphabet up
	// to 64 characters and codes of 6: a name outside that alphabet, or a
	// longer code, must still leave each of them one segment.
	if (s.DisplayName != "" && checkName(s.DisplayName) == "") || (s.CodeLength != 0 && !p.Bad("code.length") && s.CodeLength <= MaxCodeLength) {
		path := "code.length"
		if s.DisplayName != "" {
			path = "display_name"
		}
		for _, lang := range identification.Languages {
			if _, own := s.Messages["SMS"][lang]; own {
				continue
			}
			_, text := identification.RenderMessage(identification.Message{Language: lang, Org: name, Code: strings.Repeat("W", length)})
			if n, limit, _ := SMSLength(text); n > limit {
				p.Add(path, "makes the built-in %s SMS longer than one segment (%d characters of %d): use the GSM alphabet, a shorter name, or a text of your own in messages.SMS.%s",
					lang, n, limit, lang)
				break
			}
		}
	}
}

// check records the rules g breaks, at "guard.<member>".
func (g Guard) check(p *identification.Problems) {
	if g.Mode != "" && !slices.Contains(identification.GuardModes, g.Mode) {
		p.Add("guard.mode", "must be one of %s", strings.Join(identification.GuardModes, ", "))
	}
	if g.AllowedCountries != nil {
		if len(g.AllowedCountries) == 0 {
			p.Add("guard.allowed_countries", "must name at least one country, or be null for the deployment's default")
		}
		for n, c := range g.AllowedCountries {
			path := "guard.allowed_countries[" + strconv.Itoa(n) + "]"
			switch {
			case !numbers.KnownCountry(c):
				p.Add(path, "must be an ISO 3166-1 alpha-2 country code with a calling code, in capitals (ES)")
			case slices.Index(g.AllowedCountries, c) != n:
				p.Add(path, "must name each country once")
			}
		}
	}
	bound := func(path string, v, hi int) {
		if v != 0 && (v < 1 || v > hi) {
			p.Add(path, "must be from 1 to %d, or null for no limit", hi)
		}
	}
	bound("guard.max_sends_per_hour", g.MaxSendsPerHour, MaxSendsPerHour)
	bound("guard.max_sends_per_day", g.MaxSendsPerDay, MaxSendsPerDay)
	bound("guard.max_sends_per_destination_per_day", g.MaxSendsPerDestinationPerDay, MaxSendsPerDestination)
	if g.MaxSendsPerHour > 0 && g.MaxSendsPerDay > 0 && g.MaxSendsPerDay < g.MaxSendsPerHour && !p.Bad("guard.max_sends_per_day") {
		p.Add("guard.max_sends_per_day", "must be at least max_sends_per_hour")
	}
	if g.PrefixDigits != 0 || g.PrefixMaxPerHour != 0 {
		if g.PrefixDigits < MinPrefixDigits || g.PrefixDigits > MaxPrefixDigits {
			p.Add("guard.prefix_velocity.digits", "must be from %d to %d", MinPrefixDigits, MaxPrefixDigits)
		}
		if g.PrefixMaxPerHour < 1 || g.PrefixMaxPerHour > MaxPrefixPerHour {
			p.Add("guard.prefix_velocity.max_per_hour", "must be from 1 to %d", MaxPrefixPerHour)
		}
	}
}

// checkName is what is wrong with a display name ("" when nothing): 1 to
// MaxDisplayName characters, printable, no line break, no braces (a name is
// filled into a text, never read as one), not only spaces.
func checkName(name string) string {
	if !utf8.ValidString(name) {
		return "must be UTF-8 text"
	}
	if n := utf8.RuneCountInString(name); n > MaxDisplayName {
		return "must be at most " + strconv.Itoa(MaxDisplayName) + " characters"
	}
	if strings.TrimSpace(name) != name || name == "" {
		return "must not start or end with a space"
	}
	for _, r := range name {
		if !unicode.IsPrint(r) && r != ' ' || r == '{' || r == '}' {
			return "must hold printable characters only, and no { or }"
		}
	}
	return ""
}

// Changed are the paths of the members that differ between a and b, in
// the document's order.
func Changed(a, b Settings) []string {
	var out []string
	if a.DisplayName != b.DisplayName {
		out = append(out, "display_name")
	}
	if a.DefaultLanguage != b.DefaultLanguage {
		out = append(out, "default_language")
	}
	if a.CodeLength != b.CodeLength {
		out = append(out, "code.length")
	}
	if a.CodeTTLMinutes != b.CodeTTLMinutes {
		out = append(out, "code.ttl_minutes")
	}
	if !slices.Equal(a.Channels, b.Channels) || (a.Channels == nil) != (b.Channels == nil) {
		out = append(out, "channels")
	}
	ga, gb := a.Guard, b.Guard
	if ga.Mode != gb.Mode {
		out = append(out, "guard.mode")
	}
	if !slices.Equal(ga.AllowedCountries, gb.AllowedCountries) || (ga.AllowedCountries == nil) != (gb.AllowedCountries == nil) {
		out = append(out, "guard.allowed_countries")
	}
	if ga.MaxSendsPerHour != gb.MaxSendsPerHour {
		out = append(out, "guard.max_sends_per_hour")
	}
	if ga.MaxSendsPerDay != gb.MaxSendsPerDay {
		out = append(out, "guard.max_sends_per_day")
	}
	if ga.MaxSendsPerDestinationPerDay != gb.MaxSendsPerDestinationPerDay {
		out = append(out, "guard.max_sends_per_destination_per_day")
	}
	if ga.PrefixDigits != gb.PrefixDigits || ga.PrefixMaxPerHour != gb.PrefixMaxPerHour {
		out = append(out, "guard.prefix_velocity")
	}
	for _, ch := range union(a.Messages, b.Messages) {
		for _, l := range union(a.Messages[ch], b.Messages[ch]) {
			av, aok := a.Messages[ch][l]
			bv, bok := b.Messages[ch][l]
			if av != bv || aok != bok {
				out = append(out, "messages."+ch+"."+l)
			}
		}
	}
	return out
}

// union is the keys of a and b, each once, sorted.
func union[V any](a, b map[string]V) []string {
	return slices.Compact(slices.Sorted(func(yield func(string) bool) {
		for k := range a {
			if !yield(k) {
				return
			}
		}
		for k := range b {
			if !yield(k) {
				return
			}
		}
	}))
}
