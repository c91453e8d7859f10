package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
)

// pii is the registry of the actor data sent through Do (and NotePII) and
// of every Env's logs, so that no test can log actor data unnoticed
// (docs/auth.md: names, document numbers, e-mails and phone numbers never reach
// the logs).
var pii piiRegistry

type piiRegistry struct {
	mu     sync.Mutex
	values map[string]bool
	logs   []*SyncBuffer
}

// Values shorter than these could turn up in a log by chance (a name "J",
// a 4-digit phone number inside a duration) and are not registered.
const (
	minPIILength       = 5
	minPIIDigitsLength = 8
)

// NotePII registers values as actor data that must never be logged; Do
// registers the actor's name, last name, e-mail, document number and phone
// number of every JSON body it sends. Use it for data Do cannot see, such
// as the actor of a body that is not valid JSON.
func NotePII(values ...string) {
	pii.mu.Lock()
	defer pii.mu.Unlock()
	for _, v := range values {
		v = strings.TrimSpace(v)
		if len(v) < minPIILength || isAllDigits(v) && len(v) < minPIIDigitsLength {
			continue
		}
		if pii.values == nil {
			pii.values = map[string]bool{}
		}
		pii.values[v] = true
	}
}

// CheckNoPII scans the logs of every Env built so far for every value
// registered so far and describes what it found.
func CheckNoPII() error {
	pii.mu.Lock()
	logs := append([]*SyncBuffer(nil), pii.logs...)
	pii.mu.Unlock()
	var errs []string
	for _, l := range logs {
		if err := pii.check(l); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// AssertNoPII fails t if the logs of any Env built so far hold actor data
// sent through Do or registered with NotePII. Every Env also checks its own
// logs when its test ends.
func AssertNoPII(t testing.TB) {
	t.Helper()
	if err := CheckNoPII(); err != nil {
		t.Error(err)
	}
}

// PIIValues returns how many values are registered, so a test can tell
// that the registry saw its requests.
func PIIValues() int {
	pii.mu.Lock()
	defer pii.mu.Unlock()
	return len(pii.values)
}

func (r *piiRegistry) addLogs(b *SyncBuffer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, b)
}

// check reports the registered values found in b, as sent or as a JSON
// encoder would escape them.
func (r *piiRegistry) check(b *SyncBuffer) error {
	logs := b.String()
	if logs == "" {
		return nil
	}
	r.mu.Lock()
	values := make([]string, 0, len(r.values))
	for v := range r.values {
		values = append(values, v)
	}
	r.mu.Unlock()
	sort.Strings(values)
	var found []string
	for _, v := range values {
		for _, form := range jsonForms(v) {
			if i := strings.Index(logs, form); i >= 0 {
				found = append(found, fmt.Sprintf("%q in log line %s", v, lineAt(logs, i)))
				break
			}
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("actor data in the logs:\n  %s", strings.Join(found, "\n  "))
	}
	return nil
}

// jsonForms returns v and its JSON-escaped forms (with and without HTML
// escaping), without quotes.
func jsonForms(v string) []string {
	forms := []string{v}
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			s := strings.TrimSuffix(b.String(), "\n")
			if s = s[1 : len(s)-1]; s != v {
				forms = append(forms, s)
			}
		}
	}
	return forms
}

func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}

// actorValues returns the actor's personal data in a request body, if it
// is a JSON object with an actor.
func actorValues(body []byte) []string {
	if len(body) == 0 || !bytes.Contains(body, []byte(`"actor"`)) {
		return nil
	}
	var doc struct {
		Actor json.RawMessage `json:"actor"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil || len(doc.Actor) == 0 {
		return nil
	}
	var actor map[string]any
	dec = json.NewDecoder(bytes.NewReader(doc.Actor))
	dec.UseNumber()
	if dec.Decode(&actor) != nil {
		return nil
	}
	var out []string
	add := func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, string(x))
		}
	}
	add(actor["name"])
	add(actor["last_name"])
	add(actor["email"])
	if d, ok := actor["identity_document"].(map[string]any); ok {
		add(d["document_number"])
	}
	if m, ok := actor["msisdn"].(map[string]any); ok {
		add(m["phone_number"])
	}
	return out
}

func isAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// NoteCode registers a one-time code as a secret that must never be
// logged. A code made only of hexadecimal characters is not registered:
// it could turn up by chance inside a request id.
func NoteCode(code string) {
	for i := 0; i < len(code); i++ {
		if c := code[i] | 0x20; c >= 'g' && c <= 'z' {
			NotePII(code)
			return
		}
	}
}

// codeIn returns the otp_code of a response body, "" when it has none.
func codeIn(body []byte) string {
	if !bytes.Contains(body, []byte(`"otp_code"`)) {
		return ""
	}
	var v struct {
		Code string `json:"otp_code"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Code
}

// secretValues are the code, second factor and device data a request
// carries: none may reach a log line.
func secretValues(body []byte, h http.Header) []string {
	var out []string
	if bytes.Contains(body, []byte(`"code"`)) || bytes.Contains(body, []byte(`"two_factor"`)) {
		var v struct {
			Code      string `json:"code"`
			TwoFactor string `json:"two_factor"`
		}
		if json.Unmarshal(body, &v) == nil {
			NoteCode(v.Code)
			out = append(out, v.TwoFactor)
		}
	}
	for _, name := range []string{"x-installation_id", "x-fingerprint", "x-location"} {
		out = append(out, h.Values(name)...)
	}
	return out
}
