package identification

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// template is the code message in one language. text is an fmt format with
// the organisation (%[1]s), the code (%[2]s), the time (%[3]s, HH:MM) and
// the date (%[4]s, in dateLayout) it stops working, in UTC; subject is the
// e-mail subject, with the organisation only (%[1]s): a subject is shown
// and logged in more places than a body, so it never holds the code.
//
// The texts go by SMS as they are, so they keep to the GSM 03.38 basic
// character set (è, é, à, ò, ü, ä, ö, ß are in it; á, í, ó, ú are not): a
// single character outside it turns the whole SMS into UCS-2, whose segments
// hold 70 characters instead of 160. The wording is chosen so that no word
// loses its accent: "clave" rather than "código" in Spanish, "caduca" rather
// than "válido". With the longest organisation name (64 characters,
// docs/api.md) and a code of CodeLength, every text fits one 160-character
// segment; messages_test.go holds them to it. The organisation name itself
// is of A-Z a-z 0-9 _ . - (docs/api.md), all in the basic set.
type template struct {
	subject    string
	text       string
	dateLayout string
}

// templates are the messages by language (Languages).
var templates = map[string]template{
	"ES": {
		subject:    "Clave de identificación de %[1]s",
		text:       "%[1]s: su clave para identificarse es %[2]s. Caduca a las %[3]s (UTC) del %[4]s.",
		dateLayout: "02/01/2006",
	},
	"EN": {
		subject:    "Your %[1]s identification code",
		text:       "%[1]s: your identification code is %[2]s. It expires at %[3]s UTC on %[4]s.",
		dateLayout: "2 January 2006",
	},
	"EU": {
		subject:    "%[1]s: zure identifikazio-kodea",
		text:       "%[1]s: zure identifikazio-kodea %[2]s da. Iraungitze-data: %[4]s, %[3]s (UTC).",
		dateLayout: "2006/01/02",
	},
	"GL": {
		subject:    "Clave de identificación de %[1]s",
		text:       "%[1]s: a clave para identificarse é %[2]s. Caduca o %[4]s (%[3]s UTC).",
		dateLayout: "02/01/2006",
	},
	"CA": {
		subject:    "El vostre codi d'identificació per a %[1]s",
		text:       "%[1]s: el vostre codi per identificar-vos és %[2]s. Caduca a les %[3]s (UTC) del %[4]s.",
		dateLayout: "02/01/2006",
	},
	"DE": {
		subject:    "Ihr Identifizierungscode für %[1]s",
		text:       "%[1]s: Ihr Identifizierungscode lautet %[2]s. Gültig bis zum %[4]s um %[3]s Uhr (UTC).",
		dateLayout: "02.01.2006",
	},
}

// RenderMessage returns the e-mail subject and the text (the SMS, or the
// e-mail body) of m in m.Language, English when it is empty or not one of
// Languages: the organisation's own text when m has one (m.Text, filled by
// FillText), the built-in one otherwise. The text says who asks (m.Name,
// or m.Org when the organisation set no name), the code and when it stops
// working (m.ValidUntil, in UTC), and nothing else: it takes no actor data.
func RenderMessage(m Message) (subject, text string) {
	t, ok := templates[strings.ToUpper(m.Language)]
	if !ok {
		t = templates["EN"]
	}
	name := m.Name
	if name == "" {
		name = m.Org
	}
	until := m.ValidUntil.UTC()
	subject = fmt.Sprintf(t.subject, name)
	if m.Text != "" {
		return subject, FillText(m.Text, m.Code, name, m.Minutes, until)
	}
	text = fmt.Sprintf(t.text, name, m.Code, until.Format("15:04"), until.Format(t.dateLayout))
	return subject, text
}

// The placeholders of an organisation's own text.
const (
	PlaceholderCode      = "{code}"
	PlaceholderOrg       = "{org}"
	PlaceholderMinutes   = "{minutes}"
	PlaceholderExpiresAt = "{expires_at}"
)

// ExpiresAtLayout is how {expires_at} is written: the code's end, in UTC.
const ExpiresAtLayout = "2006-01-02 15:04 UTC"

// FillText is an organisation's text with its placeholders filled: the
// code, the organisation's name, the code's lifetime in minutes and its
// end. Nothing else of the text is interpreted: the settings refuse a
// brace that opens no placeholder, so there is nothing else to fill, and
// the values are filled in one pass (a name holding "{code}" stays as
// written: names may not hold braces anyway).
func FillText(text, code, name string, minutes int, until time.Time) string {
	return strings.NewReplacer(
		PlaceholderCode, code,
		PlaceholderOrg, name,
		PlaceholderMinutes, strconv.Itoa(minutes),
		PlaceholderExpiresAt, until.UTC().Format(ExpiresAtLayout),
	).Replace(text)
}

// E164 is m as an E.164 number: "+", the country code and the number; ""
// for nil.
func E164(m *MSISDN) string {
	if m == nil {
		return ""
	}
	return "+" + m.CountryCode + m.PhoneNumber
}
