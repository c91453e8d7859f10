package identification

import (
	"testing"
	"time"
)

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
