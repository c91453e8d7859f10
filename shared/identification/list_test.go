package identification

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseListQuery: any query string is either a query within the rules
// or a KindParameter error that names parameters but repeats no value.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"", "status=CREATED,IN_PROGRESS&limit=5", "limit=0", "limit=+5", "limit= 5", "phone=+34612345678",
		"phone=%2B34612345678", "email=A@B.example&document_number=x-1", "created_from=2026-12-01T00:00:00Z&created_to=2026-11-01T00:00:00Z",
		"cursor=abc", "status=created", "status=CREATED,,FAILED", "%zz=1", "secret%40value=1"} {
		f.Add(s)
	}
	// Every rule's text: a value or name found in it may be found in an
	// error without having been echoed.
	_, all := ParseListQuery(url.Values{"status": {"x"}, "created_from": {"x"}, "created_to": {"x"}, "email": {"x"}, "phone": {"x"},
		"document_number": {"%"}, "limit": {"x"}, "cursor": {""}, "x": {"1"}, "y": {"1", "2"}, "%": {"1"}})
	rules := all.Error() + "; created_to: must not be before created_from"
	f.Fuzz(func(t *testing.T, raw string) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseListQuery(vals)
		if err != nil {
			if KindOf(err) != KindParameter {
				t.Fatalf("%q: error of kind %v: %v", raw, KindOf(err), err)
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
		if q.Limit < 1 || q.Limit > MaxListLimit {
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

// TestCursorsAreBoundToTheirQuery: a cursor opens only for the query it was
// sealed for, and under a key that still exists.
func TestCursorsAreBoundToTheirQuery(t *testing.T) {
	k, err := NewCodeKeys("k1", []byte("cursor-test-key-of-at-least-32-bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	q := ListQuery{Statuses: []Status{StatusCreated}, Email: "a@b.example"}
	pos := PositionOf(time.Unix(1795255249, 0), "0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81")
	c := k.sealCursor(pos, queryDigest("acme", TypeOTP, q))
	if got, ok := k.openCursor(c, queryDigest("acme", TypeOTP, q)); !ok || got != pos {
		t.Fatalf("own cursor: %q %v", got, ok)
	}
	// The same address in another case is the same query.
	same := q
	same.Email = "A@B.EXAMPLE"
	if _, ok := k.openCursor(c, queryDigest("acme", TypeOTP, same)); !ok {
		t.Fatal("the same query with the address in capitals refused the cursor")
	}
	other := q
	other.Statuses = nil
	for name, digest := range map[string]string{
		"another org":   queryDigest("acme2", TypeOTP, q),
		"another type":  queryDigest("acme", TypeChain, q),
		"another query": queryDigest("acme", TypeOTP, other),
	} {
		if _, ok := k.openCursor(c, digest); ok {
			t.Errorf("%s opened the cursor", name)
		}
	}
	rotated, err := NewCodeKeys("k2", []byte("another-cursor-key-of-at-least-32-bytes"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rotated.openCursor(c, queryDigest("acme", TypeOTP, q)); ok {
		t.Error("a cursor sealed under a key that is gone opened")
	}
}
