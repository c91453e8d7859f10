package httpapi

import (
	"net/url"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/identification"
)

// FuzzParseListQuery: any query string is either a query within the rules
// or a identification.KindParameter error that names parameters but repeats no value.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"", "status=CREATED,IN_PROGRESS&limit=5", "limit=0", "limit=+5", "limit= 5", "phone=+34612345678",
		"phone=%2B34612345678", "email=A@B.example&document_number=x-1", "created_from=2026-12-01T00:00:00Z&created_to=2026-11-01T00:00:00Z",
		"cursor=abc", "status=created", "status=CREATED,,FAILED", "%zz=1", "secret%40value=1"} {
		f.Add(s)
	}
	// Every rule's text: a value or name found in it may be found in an
	// error without having been echoed.
	_, all := parseListQuery(url.Values{"status": {"x"}, "created_from": {"x"}, "created_to": {"x"}, "email": {"x"}, "phone": {"x"},
		"document_number": {"%"}, "limit": {"x"}, "cursor": {""}, "x": {"1"}, "y": {"1", "2"}, "%": {"1"}})
	rules := all.Error() + "; created_to: must not be before created_from"
	f.Fuzz(func(t *testing.T, raw string) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseListQuery(vals)
		if err != nil {
			if identification.KindOf(err) != identification.KindParameter {
				t.Fatalf("%q: error of kind %v: %v", raw, identification.KindOf(err), err)
			}
			// A value or a name with a character a safe name may not
			// hold cannot be in the error unless it was echoed (unless
			// a rule's own text holds it).
			scrubbed := err.Error()
			for n := range vals {
				if safeParam(n) == n {
					scrubbed = strings.ReplaceAll(scrubbed, n, "")
				}
			}
			echoed := func(v string) bool {
				return len(v) >= 3 && safeParam(v) != v && !strings.Contains(rules, v) && strings.Contains(scrubbed, v)
			}
			for name, vs := range vals {
				for _, v := range vs {
					if strings.TrimSpace(v) == v && echoed(v) {
						t.Fatalf("%q: the error repeats the value %q: %v", raw, v, err)
					}
				}
				if strings.TrimSpace(name) == name && echoed(name) {
					t.Fatalf("%q: the error repeats the name %q: %v", raw, name, err)
				}
			}
			return
		}
		if q.Limit < 1 || q.Limit > identification.MaxListLimit {
			t.Fatalf("%q: limit %d accepted", raw, q.Limit)
		}
		if !q.CreatedFrom.IsZero() && !q.CreatedTo.IsZero() && q.CreatedTo.Before(q.CreatedFrom) {
			t.Fatalf("%q: created_to before created_from accepted", raw)
		}
		if q.Phone != "" && (q.Phone[0] != '+' || len(q.Phone) < 9) {
			t.Fatalf("%q: phone %q accepted", raw, q.Phone)
		}
	})
}
