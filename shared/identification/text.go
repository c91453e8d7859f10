package identification

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Free text (a name, a last name, a cancel reason) is checked as a person
// reads it:
//
//   - it is normalised to NFC first, and the NFC form is what is counted
//     and kept: "é" is one character however it was sent;
//   - it holds no control character (Unicode category Cc: C0, DEL, C1), no
//     format character (Cf: zero-width space, soft hyphen, word joiner,
//     byte order mark, left-to-right and right-to-left marks, the
//     bidirectional embeddings, overrides and isolates, tag characters...)
//     and none of the other default-ignorable fillers that render as
//     nothing (Hangul fillers, the combining grapheme joiner...);
//   - the zero-width non-joiner and joiner (U+200C, U+200D) are the one
//     exception: scripts such as Persian and the Indic ones need them, and
//     emoji sequences are built with them, so they are allowed between two
//     characters that are letters, marks, numbers or symbols;
//   - a name is one line: no line or paragraph separator (U+2028, U+2029);
//     a cancel reason may run over several lines, so it may hold tabs, line
//     feeds, carriage returns and those separators;
//   - "required" means at least one visible character: a letter, number,
//     punctuation mark or symbol (white space, marks on their own and the
//     blank braille pattern do not count).

// textKind selects the rules of one kind of field.
type textKind int

const (
	// oneLine is a name: no line breaks.
	oneLine textKind = iota
	// multiLine is free text such as a cancel reason: tabs and line breaks
	// allowed.
	multiLine
)

// textProblem is what is wrong with a text, if anything.
type textProblem struct {
	// at is the 1-based position, in characters of the NFC form, of the
	// first character refused; 0 when every character is allowed.
	at int
	// visible reports whether the text holds a visible character.
	visible bool
}

// nfc returns the NFC form of s; s itself when it already is, which the
// quick check tells without allocating for most text.
func nfc(s string) string { return norm.NFC.String(s) }

// checkText applies the character rules to s, which must already be NFC.
func checkText(s string, kind textKind) textProblem {
	var tp textProblem
	pos := 0
	prev := rune(-1)
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		pos++
		allowed, visible := classify(r, kind)
		if !allowed && (r == zwnj || r == zwj) {
			next, _ := utf8.DecodeRuneInString(s[i+size:])
			allowed = i+size < len(s) && prev >= 0 && joins(prev) && joins(next)
		}
		if !allowed {
			tp.at = pos
			return tp
		}
		tp.visible = tp.visible || visible
		prev = r
		i += size
	}
	return tp
}

const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// classify reports whether r may appear in text of kind, and whether it is
// visible.
func classify(r rune, kind textKind) (allowed, visible bool) {
	if r < utf8.RuneSelf {
		switch {
		case r > ' ' && r < 0x7f:
			return true, true
		case r == ' ':
			return true, false
		case r == '\t' || r == '\n' || r == '\r':
			return kind == multiLine, false
		}
		return false, false // C0 controls and DEL
	}
	switch {
	case r == '\u2028' || r == '\u2029':
		return kind == multiLine, false
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		return false, false
	case r == '\u2800': // braille pattern blank: a symbol that shows nothing
		return true, false
	}
	return true, unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S)
}

// joins reports whether r may stand next to a zero-width (non-)joiner.
func joins(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.S)
}

// textRuleMessage is the message for a refused character at position at.
func textRuleMessage(kind textKind, at int) string {
	rule := "must be one line of text: no control characters (such as tabs or line breaks) or invisible format characters (such as zero-width spaces or bidirectional controls)"
	if kind == multiLine {
		rule = "must not contain control characters other than tabs and line breaks, or invisible format characters (such as zero-width spaces or bidirectional controls)"
	}
	return rule + "; found one at character " + strconv.Itoa(at)
}

// checkName checks a required name: NFC, the character rules, at least
// one visible character, 1..max characters once trimmed. It returns the
// message of the first rule broken, or "".
func checkName(s string, max int) string {
	if s == "" {
		return "is required"
	}
	n := nfc(s)
	tp := checkText(n, oneLine)
	switch {
	case tp.at > 0:
		return textRuleMessage(oneLine, tp.at)
	case !tp.visible:
		return "is required: at least one visible character"
	}
	if c := utf8.RuneCountInString(strings.TrimSpace(n)); c > max {
		return "must be 1 to " + strconv.Itoa(max) + " characters after trimming, got " + strconv.Itoa(c)
	}
	return ""
}

// checkOptionalText checks optional text of kind: NFC, the character
// rules, at most max characters. Text of white space only is allowed.
func checkOptionalText(s string, kind textKind, max int) string {
	if s == "" {
		return ""
	}
	n := nfc(s)
	if tp := checkText(n, kind); tp.at > 0 {
		return textRuleMessage(kind, tp.at)
	}
	if c := utf8.RuneCountInString(n); c > max {
		return "must be at most " + strconv.Itoa(max) + " characters, got " + strconv.Itoa(c)
	}
	return ""
}
