package identification_test

import (
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
)

var validUntil = time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)

// wantTexts are the messages for org "acme", code "k4khb9", valid until
// 2026-11-21T10:15:00Z, word for word: anything else in a text (a name, a
// document number, a stray field) fails TestRenderMessageSaysOnlyThis.
var wantTexts = map[string]struct{ subject, text string }{
	"ES": {"Clave de identificación de acme", "acme: su clave para identificarse es k4khb9. Caduca a las 10:15 (UTC) del 21/11/2026."},
	"EN": {"Your acme identification code", "acme: your identification code is k4khb9. It expires at 10:15 UTC on 21 November 2026."},
	"EU": {"acme: zure identifikazio-kodea", "acme: zure identifikazio-kodea k4khb9 da. Iraungitze-data: 2026/11/21, 10:15 (UTC)."},
	"GL": {"Clave de identificación de acme", "acme: a clave para identificarse é k4khb9. Caduca o 21/11/2026 (10:15 UTC)."},
	"CA": {"El vostre codi d'identificació per a acme", "acme: el vostre codi per identificar-vos és k4khb9. Caduca a les 10:15 (UTC) del 21/11/2026."},
	"DE": {"Ihr Identifizierungscode für acme", "acme: Ihr Identifizierungscode lautet k4khb9. Gültig bis zum 21.11.2026 um 10:15 Uhr (UTC)."},
}

func acme(language string) identification.Message {
	return identification.Message{
		Channel: "SMS", To: "+34600111222", Language: language, Org: "acme", Code: "k4khb9",
		ValidUntil: validUntil, IdentificationID: "0193a000-0000-7000-8000-000000000001",
	}
}

func TestRenderMessageSaysOnlyThis(t *testing.T) {
	if len(wantTexts) != len(identification.Languages) {
		t.Fatalf("%d expected texts for %d languages", len(wantTexts), len(identification.Languages))
	}
	for _, lang := range identification.Languages {
		want, ok := wantTexts[lang]
		if !ok {
			t.Errorf("%s: no expected text", lang)
			continue
		}
		subject, text := identification.RenderMessage(acme(lang))
		if subject != want.subject {
			t.Errorf("%s subject\n got %q\nwant %q", lang, subject, want.subject)
		}
		if text != want.text {
			t.Errorf("%s text\n got %q\nwant %q", lang, text, want.text)
		}
	}
}

func TestRenderMessageEveryLanguage(t *testing.T) {
	seen := map[string]string{}
	for _, lang := range identification.Languages {
		m := acme(lang)
		m.Org, m.Code = "ayto-villanueva", "z9q0a1"
		subject, text := identification.RenderMessage(m)
		if !strings.Contains(text, m.Org) || !strings.Contains(text, m.Code) || !strings.Contains(text, "10:15") {
			t.Errorf("%s: the text lacks the org, the code or the time: %q", lang, text)
		}
		if !strings.Contains(subject, m.Org) {
			t.Errorf("%s: the subject lacks the org: %q", lang, subject)
		}
		if strings.Contains(subject, m.Code) {
			t.Errorf("%s: the subject shows the code: %q", lang, subject)
		}
		if other, dup := seen[text]; dup {
			t.Errorf("%s renders as %s does: %q", lang, other, text)
		}
		seen[text] = lang
	}
	_, es := identification.RenderMessage(acme("ES"))
	_, de := identification.RenderMessage(acme("DE"))
	if es == de {
		t.Errorf("ES and DE render the same text %q", es)
	}
}

// TestRenderMessageShowsUTC renders a ValidUntil held in another time zone:
// the text says the UTC time the message claims.
func TestRenderMessageShowsUTC(t *testing.T) {
	m := acme("ES")
	m.ValidUntil = validUntil.In(time.FixedZone("CET", 3600))
	if _, text := identification.RenderMessage(m); text != wantTexts["ES"].text {
		t.Errorf("got %q, want %q", text, wantTexts["ES"].text)
	}
	m.ValidUntil = time.Date(2027, 1, 2, 23, 59, 0, 0, time.FixedZone("", -5*3600)) // 04:59 UTC on 3 January
	for lang, want := range map[string]string{"ES": "04:59 (UTC) del 03/01/2027", "EN": "04:59 UTC on 3 January 2027",
		"EU": "2027/01/03, 04:59 (UTC)", "GL": "03/01/2027 (04:59 UTC)", "CA": "04:59 (UTC) del 03/01/2027", "DE": "03.01.2027 um 04:59 Uhr"} {
		m.Language = lang
		if _, text := identification.RenderMessage(m); !strings.Contains(text, want) {
			t.Errorf("%s: %q lacks %q", lang, text, want)
		}
	}
}

func TestRenderMessageFallsBackToEnglish(t *testing.T) {
	wantSubject, wantText := identification.RenderMessage(acme("EN"))
	for _, lang := range []string{"", "FR", "PT", "english", "ES-ES"} {
		if subject, text := identification.RenderMessage(acme(lang)); subject != wantSubject || text != wantText {
			t.Errorf("language %q: got %q / %q, want the English text", lang, subject, text)
		}
	}
	// The language codes are upper case; a lower-case one is the same language.
	if _, text := identification.RenderMessage(acme("de")); text != wantTexts["DE"].text {
		t.Errorf("language de: %q", text)
	}
}

// TestRenderMessageFitsOneSMS renders every language with the longest
// organisation name (64 characters, docs/api.md) and checks the text is all
// GSM 03.38 and fits one 160-septet segment: one character outside the
// basic set would send it as UCS-2, at 70 characters a segment.
func TestRenderMessageFitsOneSMS(t *testing.T) {
	m := acme("")
	m.Org = "x" + strings.Repeat("acme-_.", 9)
	if len(m.Org) != 64 {
		t.Fatalf("org of %d characters, want 64", len(m.Org))
	}
	m.Code = strings.Repeat("w", identification.CodeLength)
	m.ValidUntil = time.Date(2026, 9, 30, 23, 59, 0, 0, time.UTC) // the longest English month
	for _, lang := range identification.Languages {
		m.Language = lang
		_, text := identification.RenderMessage(m)
		n, bad := gsmSeptets(text)
		if bad != "" {
			t.Errorf("%s: %q is not in the GSM 03.38 character set (it would go as UCS-2): %q", lang, bad, text)
		}
		if n > 160 {
			t.Errorf("%s: %d septets, more than one 160-septet SMS: %q", lang, n, text)
		}
		t.Logf("%s: %d septets", lang, n)
	}
}

// gsmBasic is the GSM 03.38 default alphabet; gsmExtension are the
// characters sent as an escape and a second septet.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

// gsmSeptets returns how many septets s takes in the GSM 03.38 alphabet,
// and the first character outside it, if any.
func gsmSeptets(s string) (n int, bad string) {
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtension, r):
			n += 2
		default:
			if bad == "" {
				bad = string(r)
			}
			n++
		}
	}
	return n, bad
}

func TestGSMSeptetsCanFail(t *testing.T) {
	if n, bad := gsmSeptets("válido"); bad != "á" || n != 6 {
		t.Errorf("válido: %d, %q", n, bad)
	}
	if n, bad := gsmSeptets("Gültig [é]"); bad != "" || n != 12 {
		t.Errorf("Gültig [é]: %d, %q", n, bad)
	}
}

func TestE164(t *testing.T) {
	if got := identification.E164(&identification.MSISDN{CountryCode: "34", PhoneNumber: "600111222"}); got != "+34600111222" {
		t.Errorf("got %q", got)
	}
	if got := identification.E164(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
}
