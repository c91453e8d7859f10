package identification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Listing limits (docs/api.md, "Listing and search").
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
	maxCursor        = 512
)

// ListQuery is a listing's query as the API takes it: the filters, the page
// size and where the previous page stopped.
type ListQuery struct {
	// Statuses, when any, admit a process whose status as read now is one
	// of them (sorted, without repeats).
	Statuses []Status
	// CreatedFrom and CreatedTo bound created_at, both inclusive; zero
	// when absent.
	CreatedFrom, CreatedTo time.Time
	// Email, Phone (E.164) and DocumentNumber match the actor's values,
	// in the forms ActorKey normalises them to.
	Email, Phone, DocumentNumber string
	Limit                        int
	// Cursor is the next_cursor of the previous page, "" for the first.
	Cursor string
}

// listRules are the rule of each parameter of a listing, as an error
// names it after the parameter: "limit: must be a whole number from 1 to
// 100".
var listRules = map[string]string{
	"status":          "must be one or more of " + joinStatuses(Statuses) + ", separated by commas",
	"created_from":    rfc3339Rule,
	"created_to":      rfc3339Rule,
	"email":           "must be a valid e-mail address of at most " + strconv.Itoa(maxEmailLength) + " characters",
	"phone":           "must be an E.164 number: + then 8 to 15 digits, such as +34612345678 (send + as %2B)",
	"document_number": "must be 1 to " + strconv.Itoa(maxDocumentNumber) + " letters, digits or '-'",
	"limit":           "must be a whole number from 1 to " + strconv.Itoa(MaxListLimit),
	"cursor":          "must be the next_cursor of the previous page, unchanged",
}

const rfc3339Rule = "must be an RFC 3339 time such as 2026-12-01T10:00:00Z"

// Set reads value, the text of the listing's parameter name as sent, into
// q. known is false for a name that is no parameter of a listing; rule is
// the rule the value breaks, "" when q took it (q keeps only values within
// their rules). Validate then checks what no single parameter tells.
func (q *ListQuery) Set(name, value string) (rule string, known bool) {
	rule, known = listRules[name]
	if !known {
		return "", false
	}
	switch name {
	case "status":
		st, ok := parseStatuses(value)
		if !ok {
			return rule, true
		}
		q.Statuses = st
	case "created_from", "created_to":
		t, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return rule, true
		}
		if name == "created_from" {
			q.CreatedFrom = t.UTC()
		} else {
			q.CreatedTo = t.UTC()
		}
	case "email":
		if !isEmail(value) {
			return rule, true
		}
		q.Email = value
	case "phone":
		p, ok := parseE164(value)
		if !ok {
			return rule, true
		}
		q.Phone = p
	case "document_number":
		if !validDocumentNumber(value) {
			return rule, true
		}
		q.DocumentNumber = value
	case "limit":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > MaxListLimit || strings.TrimSpace(value) != value || strings.HasPrefix(value, "+") {
			return rule, true
		}
		q.Limit = n
	case "cursor":
		if value == "" || len(value) > maxCursor {
			return rule, true
		}
		q.Cursor = value
	}
	return "", true
}

// Validate returns every rule q breaks, each at its parameter: a value Set
// would not have taken, and created_to before created_from.
func (q ListQuery) Validate() []FieldError {
	var out []FieldError
	broken := func(name string) { out = append(out, FieldError{Path: name, Message: listRules[name]}) }
	for _, st := range q.Statuses {
		if !slices.Contains(Statuses, st) {
			broken("status")
			break
		}
	}
	if q.Email != "" && !isEmail(q.Email) {
		broken("email")
	}
	if p, ok := parseE164(q.Phone); q.Phone != "" && (!ok || p != q.Phone) {
		broken("phone")
	}
	if q.DocumentNumber != "" && !validDocumentNumber(q.DocumentNumber) {
		broken("document_number")
	}
	if q.Limit < 1 || q.Limit > MaxListLimit {
		broken("limit")
	}
	if len(q.Cursor) > maxCursor {
		broken("cursor")
	}
	if !q.CreatedFrom.IsZero() && !q.CreatedTo.IsZero() && q.CreatedTo.Before(q.CreatedFrom) {
		out = append(out, FieldError{Path: "created_to", Message: "must not be before created_from"})
	}
	return out
}

func parseStatuses(v string) ([]Status, bool) {
	var out []Status
	for _, s := range strings.Split(v, ",") {
		st := Status(strings.TrimSpace(s))
		if !slices.Contains(Statuses, st) {
			return nil, false
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	slices.Sort(out)
	return out, len(out) > 0
}

// parseE164 reads +<8 to 15 digits>.
func parseE164(v string) (string, bool) {
	v, ok := strings.CutPrefix(v, "+")
	if !ok {
		return "", false
	}
	if len(v) < 8 || len(v) > 15 || v[0] == '0' {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return "", false
		}
	}
	return "+" + v, true
}

// Actor value kinds an index can match (ActorKey).
const (
	ActorEmail    = "email"
	ActorPhone    = "phone"
	ActorDocument = "document"
)

// ActorKeys are the keyed hashes a process is found by: one per actor value
// it has, "" for none. An index key holds these, never the values.
type ActorKeys struct {
	Email, Phone, Document string
}

// actorValue is v as it is hashed: e-mail addresses compare without case,
// document numbers as the second factor compares them (without case,
// spaces or hyphens), phones as E.164.
func actorValue(kind, v string) string {
	switch kind {
	case ActorEmail:
		return strings.ToLower(v)
	case ActorDocument:
		return normalisedDocument(v)
	}
	return v
}

// ListFilter is a listing as the store runs it: the actor values as their
// keyed hashes (one per key a process may have been written under), the
// page's upper bound as a position, and the moment the statuses are read
// at.
type ListFilter struct {
	Org  string
	Type Type
	// Statuses as in ListQuery: the status read at Now, so an open
	// process whose expiry has passed counts as EXPIRED.
	Statuses []Status
	// From and To bound created_at (inclusive); zero when absent.
	From, To time.Time
	// Email, Phone and Document are the accepted keyed hashes of each
	// asked value, the current key's first; nil when not asked.
	Email, Phone, Document []string
	// Before is the exclusive position the page starts below, "" for the
	// newest.
	Before string
	Limit  int
	Now    time.Time
}

// ListPage is one page: the processes, newest first, and whether more
// follow below the last one.
type ListPage struct {
	Items []*Identification
	More  bool
	// Next, when More, is the position the next page starts below, if not
	// the last item's: a store that finds a process gone after choosing
	// the page (deleted, or moved out of the asked statuses) answers the
	// page without it, and goes on below the last one it chose.
	Next string
}

// Lister is a store that lists.
type Lister interface {
	List(ctx context.Context, f ListFilter) (ListPage, error)
}

// Position is where i sits in a listing: newest first by created_at, then
// by id, so every process has one place and a page can start just below
// the last one shown.
func Position(i *Identification) string { return PositionOf(i.CreatedAt, i.ID) }

// PositionOf is the position of the process created at created with id.
func PositionOf(created time.Time, id string) string {
	return fmt.Sprintf("%011d#%s", created.Unix(), id)
}

// Page is one page as the API answers it.
type Page struct {
	Items      []*Identification
	NextCursor string
}

// errBadCursor is the error of any cursor that is not the unchanged
// next_cursor of a page of this query.
var errBadCursor = Errorf(KindParameter, "cursor: must be the next_cursor of the previous page of the same query, unchanged")

// List answers one page of org's processes of type t matching q, newest
// first, each as read now (docs/api.md, "Listing and search").
func (s *Service) List(ctx context.Context, org string, t Type, q ListQuery) (Page, error) {
	l, ok := s.store.(Lister)
	if !ok {
		return Page{}, errors.New("list: the store cannot list (it is no identification.Lister)")
	}
	if s.keys == nil {
		return Page{}, errors.New("list: the service has no code keys to hash actor values and sign cursors with")
	}
	now := s.Now()
	f := ListFilter{Org: org, Type: t, Statuses: q.Statuses, From: q.CreatedFrom, To: q.CreatedTo, Limit: q.Limit, Now: now}
	for _, id := range s.keys.keyIDs() {
		add := func(dst *[]string, kind, v string) {
			if v != "" {
				h, _ := s.keys.ActorKey(id, org, kind, v)
				*dst = append(*dst, h)
			}
		}
		add(&f.Email, ActorEmail, q.Email)
		add(&f.Phone, ActorPhone, q.Phone)
		add(&f.Document, ActorDocument, q.DocumentNumber)
	}
	digest := queryDigest(org, t, q)
	if q.Cursor != "" {
		pos, ok := s.keys.openCursor(q.Cursor, digest)
		if !ok {
			return Page{}, errBadCursor
		}
		f.Before = pos
	}
	p, err := l.List(ctx, f)
	if err != nil {
		return Page{}, fmt.Errorf("list %s of %s: %w", t, org, err)
	}
	out := Page{Items: make([]*Identification, len(p.Items))}
	for n, i := range p.Items {
		out.Items[n] = i.AsSeenAt(now)
	}
	next := p.Next
	if next == "" && len(p.Items) > 0 {
		next = Position(p.Items[len(p.Items)-1])
	}
	if p.More && next != "" {
		out.NextCursor = s.keys.sealCursor(next, digest)
	}
	return out, nil
}

// queryDigest names the query a cursor belongs to: the organisation, the
// type and every filter (not the limit, which a client may change from
// page to page).
func queryDigest(org string, t Type, q ListQuery) string {
	st := make([]string, len(q.Statuses))
	for n, s := range q.Statuses {
		st[n] = string(s)
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	return strings.Join([]string{"list", org, string(t), strings.Join(st, ","), stamp(q.CreatedFrom), stamp(q.CreatedTo),
		actorValue(ActorEmail, q.Email), q.Phone, actorValue(ActorDocument, q.DocumentNumber)}, "\x00")
}
