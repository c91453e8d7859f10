package wirejson

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encoding/json accepts three things silently that the API refuses (see
// "Request bodies and validation" in docs/openapi.yaml): bytes that are not
// UTF-8 and lone surrogate escapes ("\ud800" without its pair) both become
// U+FFFD, and of a key repeated in one object the last value wins. The
// decoded value cannot tell, so checkEncoding walks the raw body once,
// after encoding/json has accepted its syntax, and reports each place:
// the path of the value or key, and the byte offset.

// maxPathInError bounds the path an encoding problem is reported at; a
// problem deeper than that is reported on the body, with its offset.
const maxPathInError = 256

// maxLinearKeys is how many keys of one object are compared one by one
// before a map takes over, so a hostile object of many keys costs linear
// time.
const maxLinearKeys = 16

// keyRef is a key of an open object: body[start:end] as sent when it holds
// no escape, else its unescaped text, unescaped[-start-1]. Frames and keys
// hold no pointers, so their buffers stay on the stack.
type keyRef struct{ start, end int }

// scanFrame is one open object or array.
type scanFrame struct {
	array     bool
	expectKey bool   // objects: the next string is a key
	index     int    // arrays: the index of the current element
	key       keyRef // objects: the current key
	keysFrom  int    // objects: where its keys start in keys
	set       int    // objects with many keys: 1 + its index in sets
}

// scanText is what the keys of a scan refer to.
type scanText struct {
	body      []byte
	unescaped [][]byte
}

func (t scanText) key(k keyRef) []byte {
	if k.start < 0 {
		return t.unescaped[-k.start-1]
	}
	return t.body[k.start:k.end]
}

// checkEncoding reports, into p, the invalid UTF-8, lone surrogate escapes
// and repeated keys of body, which must be one well-formed JSON value.
// Each place is marked bad, so no rule is checked on a value that was not
// sent as it reads, nor on what depends on it.
func checkEncoding(p Problems, body []byte) {
	var (
		framesBuf [8]scanFrame
		keysBuf   [24]keyRef
		frames    = framesBuf[:0]
		keys      = keysBuf[:0]
		text      = scanText{body: body}
		sets      []map[string]struct{}
		utf8OK    = utf8.Valid(body)
	)
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			frames = append(frames, scanFrame{expectKey: true, keysFrom: len(keys)})
		case '[':
			frames = append(frames, scanFrame{array: true})
		case '}', ']':
			if top := frames[len(frames)-1]; !top.array {
				keys = keys[:top.keysFrom]
			}
			frames = frames[:len(frames)-1]
		case ',':
			if top := &frames[len(frames)-1]; top.array {
				top.index++
			} else {
				top.expectKey = true
			}
		case '"':
			if p.Full() {
				return // nothing more would be kept
			}
			start := i
			end, escaped := stringEnd(body, start)
			i = end
			content := body[start+1 : end]
			var top *scanFrame
			if len(frames) > 0 {
				top = &frames[len(frames)-1]
			}
			if top == nil || top.array || !top.expectKey {
				if off := invalidUTF8(content, utf8OK); off >= 0 {
					report(p, valuePath(text, frames), "is not valid UTF-8", start+1+off)
				} else if off := loneSurrogate(content, escaped); off >= 0 {
					report(p, valuePath(text, frames), "holds an unpaired UTF-16 surrogate escape", start+1+off)
				}
				continue
			}
			top.expectKey = false
			k := keyRef{start + 1, end}
			if escaped {
				var u string
				_ = json.Unmarshal(body[start:end+1], &u) // the syntax was checked
				text.unescaped = append(text.unescaped, []byte(u))
				k = keyRef{-len(text.unescaped), 0}
			}
			top.key = k
			if off := invalidUTF8(content, utf8OK); off >= 0 {
				report(p, keyPath(text, frames), "is a key that is not valid UTF-8", start+1+off)
			} else if off := loneSurrogate(content, escaped); off >= 0 {
				report(p, keyPath(text, frames), "is a key holding an unpaired UTF-16 surrogate escape", start+1+off)
			}
			// Is k already a key of the object?
			seen := false
			switch {
			case top.set > 0:
				set := sets[top.set-1]
				if _, seen = set[string(text.key(k))]; !seen {
					set[string(text.key(k))] = struct{}{}
				}
			default:
				for _, o := range keys[top.keysFrom:] {
					if string(text.key(o)) == string(text.key(k)) {
						seen = true
						break
					}
				}
				if seen {
					break
				}
				if len(keys)-top.keysFrom < maxLinearKeys {
					keys = append(keys, k)
					break
				}
				set := make(map[string]struct{}, 2*maxLinearKeys)
				for _, o := range keys[top.keysFrom:] {
					set[string(text.key(o))] = struct{}{}
				}
				set[string(text.key(k))] = struct{}{}
				sets = append(sets, set)
				top.set = len(sets)
				keys = keys[:top.keysFrom]
			}
			if seen {
				report(p, keyPath(text, frames), "appears more than once in its object", start)
			}
		}
	}
}

// stringEnd returns the index of the quote closing the string literal that
// opens at b[i], and whether it holds an escape.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j, escaped
		case '\\':
			escaped = true
			j++
		}
	}
	return len(b) - 1, escaped // not reached: the syntax was checked
}

// valuePath is the path of the value being read: every open frame's
// current key or index.
func valuePath(t scanText, frames []scanFrame) string { return framePath(t, frames) }

// keyPath is the path of the key just read in the innermost open object,
// made readable as encoding/json decodes it (U+FFFD for what is not UTF-8)
// so that it matches the path an unknown key is reported at.
func keyPath(t scanText, frames []scanFrame) string {
	obj := framePath(t, frames[:len(frames)-1])
	if obj == "body" {
		return obj
	}
	path := unknownPath(obj, validText(t.key(frames[len(frames)-1].key)))
	if len(path) > maxPathInError {
		return "body"
	}
	return path
}

// framePath joins the current key or index of frames; "" is the top-level
// value, "body" a path too long to be of use.
func framePath(t scanText, frames []scanFrame) string {
	path := ""
	for _, f := range frames {
		if f.array {
			path += "[" + strconv.Itoa(f.index) + "]"
		} else {
			path = unknownPath(path, validText(t.key(f.key)))
		}
		if len(path) > maxPathInError {
			return "body"
		}
	}
	return path
}

func validText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func report(p Problems, path, msg string, offset int) {
	p.Fail(pathOr(path, "body"), "%s (at byte offset %d)", msg, offset)
}

// invalidUTF8 returns the offset of the first byte of b that is not UTF-8,
// or -1. bodyOK says the whole body is valid, which utf8.Valid told faster.
func invalidUTF8(b []byte, bodyOK bool) int {
	if bodyOK {
		return -1
	}
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// loneSurrogate returns the offset in the content of a string literal of
// the first \u escape of a UTF-16 surrogate that is not half of a
// high-then-low pair, or -1.
func loneSurrogate(b []byte, escaped bool) int {
	if !escaped {
		return -1
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character, skipped by the loop
		if b[i] != 'u' {
			continue
		}
		r := hex4(b[i+1 : i+5])
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if len(b) > i+10 && b[i+5] == '\\' && b[i+6] == 'u' {
				if lo := hex4(b[i+7 : i+11]); lo >= 0xdc00 && lo <= 0xdfff {
					i += 10
					continue
				}
			}
			return i - 1
		case r >= 0xdc00 && r <= 0xdfff:
			return i - 1
		}
		i += 4
	}
	return -1
}

// hex4 reads four hexadecimal digits, which the syntax check guarantees.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
