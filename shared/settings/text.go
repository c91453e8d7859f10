package settings

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idadmin/api/shared/identification"
)

// The placeholders a text may use (identification.FillText fills them).
// {code} is required: a message without the code is no message.
const (
	PlaceholderCode      = identification.PlaceholderCode
	PlaceholderOrg       = identification.PlaceholderOrg
	PlaceholderMinutes   = identification.PlaceholderMinutes
	PlaceholderExpiresAt = identification.PlaceholderExpiresAt
)

// ExpiresAtLayout is how {expires_at} is written: the code's end, in UTC.
const ExpiresAtLayout = identification.ExpiresAtLayout

// placeholders are the placeholders a text may use, and nothing else in
// braces.
var placeholders = []string{PlaceholderCode, PlaceholderOrg, PlaceholderMinutes, PlaceholderExpiresAt}

// CheckText returns what is wrong with text as channel's message for an
// organisation named name with codes of length characters ("" when
// nothing): only the known placeholders, {code} at least once, printable
// characters (line breaks in e-mails only), and for SMS one segment once
// filled with the longest values (160 GSM 03.38 characters, or 70 UCS-2
// ones when any character is outside that set).
func CheckText(channel, text, name string, length int) string {
	if strings.TrimSpace(text) == "" {
		return "must not be empty"
	}
	if !utf8.ValidString(text) {
		return "must be UTF-8 text"
	}
	for _, r := range text {
		if r == '\n' && channel == "EMAIL" {
			continue
		}
		if !unicode.IsPrint(r) && r != ' ' {
			if channel == "EMAIL" {
				return "must hold printable characters and line breaks only"
			}
			return "must hold printable characters only"
		}
	}
	rest := text
	for {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			break
		}
		if rest[i] == '}' {
			return "has a } that closes no placeholder; the placeholders are {code}, {org}, {minutes} and {expires_at}"
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return "has a { that opens no placeholder; the placeholders are {code}, {org}, {minutes} and {expires_at}"
		}
		if !slices.Contains(placeholders, rest[i:i+end+1]) {
			return "has an unknown placeholder; the placeholders are {code}, {org}, {minutes} and {expires_at}"
		}
		rest = rest[i+end+1:]
	}
	if !strings.Contains(text, PlaceholderCode) {
		return "must contain {code}"
	}
	// The longest values: a code of its length (W stands for any), the
	// most minutes, the expiry's fixed layout, the name as it is.
	filled := identification.FillText(text, strings.Repeat("W", length), name, MaxCodeTTLMinutes, time.Time{})
	switch channel {
	case "SMS":
		if n, limit, enc := SMSLength(filled); n > limit {
			return "must fit one SMS segment once filled with the longest values: " + strconv.Itoa(limit) + " " + enc +
				" characters, and it would take " + strconv.Itoa(n)
		}
	default:
		if n := utf8.RuneCountInString(filled); n > MaxTextLength {
			return "must be at most " + strconv.Itoa(MaxTextLength) + " characters once filled with the longest values"
		}
	}
	return ""
}

// SMSLength is how many characters text takes in an SMS, the limit of one
// segment in its encoding and the encoding's name: GSM 03.38 (160; the
// characters of its extension table take two) when every character is in
// that alphabet, else UCS-2 (70; a character outside the Basic
// Multilingual Plane takes two).
func SMSLength(text string) (n, limit int, encoding string) {
	gsm := true
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsmBasic, r):
			n++
		case strings.ContainsRune(gsmExtension, r):
			n += 2
		default:
			gsm = false
		}
	}
	if gsm {
		return n, 160, "GSM-7"
	}
	n = 0
	for _, r := range text {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n, 70, "UCS-2"
}

// gsmBasic is the GSM 03.38 basic character set (3GPP TS 23.038), and
// gsmExtension the characters of its extension table, sent as an escape
// and the character.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)
