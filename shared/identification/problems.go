package identification

import (
	"fmt"
	"strings"
)

// maxFieldErrors bounds the errors one response reports, so a hostile body
// cannot make the answer larger than the question.
const maxFieldErrors = 50

// Problems collects the field errors of one request, each at the path of
// its field ("actor.msisdn.phone_number", "sequence[1].otp_step"), in the
// order found: first what decoding the request found (wrong types, unknown
// fields, the encoding), then the rules its input breaks (the inputs'
// Check methods). A path that failed to decode is marked bad (Fail), which
// suppresses every later problem at it or below it, so each field is
// reported once and no rule is checked on a value that was not read as
// sent. At most 50 are kept. The zero value is empty and ready to use.
type Problems struct {
	list []FieldError
	bad  map[string]bool
}

// Add records a problem at path, unless path or a parent of it is bad.
// The message names the rule and never repeats the value.
func (p *Problems) Add(path, format string, args ...any) {
	if p.Bad(path) {
		return
	}
	if len(p.list) < maxFieldErrors {
		p.list = append(p.list, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

// Fail records a problem of decoding at path and marks the path bad.
func (p *Problems) Fail(path, format string, args ...any) {
	p.Add(path, format, args...)
	if p.bad == nil {
		p.bad = map[string]bool{}
	}
	p.bad[path] = true
}

// Bad reports whether path or one of its parents failed to decode.
func (p *Problems) Bad(path string) bool {
	if len(p.bad) == 0 {
		return false
	}
	for {
		if p.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return false
		}
		path = path[:i]
	}
}

// AnyBad reports whether any path failed to decode.
func (p *Problems) AnyBad() bool { return len(p.bad) > 0 }

// Full reports whether no further problem will be kept.
func (p *Problems) Full() bool { return len(p.list) >= maxFieldErrors }

// Fields returns the problems recorded, in order.
func (p *Problems) Fields() []FieldError { return p.list }

// Err is the KindInvalid error holding every problem, or nil when there is
// none.
func (p *Problems) Err() error {
	if len(p.list) == 0 {
		return nil
	}
	return Invalid(p.list)
}
