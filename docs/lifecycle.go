package docs

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// The generated part of lifecycle.md lies between these two lines.
const (
	LifecycleBegin = "<!-- lifecycle:begin (generated from identification.Lifecycle by `make docs`; do not edit by hand) -->"
	LifecycleEnd   = "<!-- lifecycle:end -->"
)

// LifecycleFile is the document holding the generated lifecycle, relative
// to this package's directory.
const LifecycleFile = "lifecycle.md"

// Lifecycle returns the generated part of lifecycle.md, markers excluded:
// a Mermaid state diagram and a table, both derived from
// identification.Lifecycle, Action.Allows and DeleteAllowed, so that the
// published picture is the code's own table.
func Lifecycle() string {
	return lifecycle(identification.Lifecycle, identification.Statuses)
}

// SpliceLifecycle returns doc with the text between the lifecycle markers
// replaced by Lifecycle().
func SpliceLifecycle(doc []byte) ([]byte, error) {
	return splice(doc, Lifecycle())
}

func splice(doc []byte, generated string) ([]byte, error) {
	begin := bytes.Index(doc, []byte(LifecycleBegin))
	end := bytes.Index(doc, []byte(LifecycleEnd))
	if begin < 0 || end < 0 || end < begin {
		return nil, fmt.Errorf("the document lacks the lines %q and %q, in that order", LifecycleBegin, LifecycleEnd)
	}
	var out bytes.Buffer
	out.Write(doc[:begin+len(LifecycleBegin)])
	out.WriteString("\n" + generated)
	out.Write(doc[end:])
	return out.Bytes(), nil
}

// edge is one arrow of the diagram.
type edge struct {
	from, to identification.Status
	label    string
}

// when an action is allowed from a status, relative to the process's expiry.
type when int

const (
	never when = iota
	beforeExpiry
	afterExpiry
	anyTime
)

func allowed(a identification.Action, s identification.Status) when {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := a.Allows(s, now.Add(time.Hour), now)
	after := a.Allows(s, now.Add(-time.Hour), now)
	switch {
	case before && after:
		return anyTime
	case before:
		return beforeExpiry
	case after:
		return afterExpiry
	}
	return never
}

func deleteAllowed(s identification.Status, force bool) when {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	before := identification.DeleteAllowed(s, now.Add(time.Hour), now, force)
	after := identification.DeleteAllowed(s, now.Add(-time.Hour), now, force)
	switch {
	case before && after:
		return anyTime
	case before:
		return beforeExpiry
	case after:
		return afterExpiry
	}
	return never
}

// results are the statuses action leads to from status from ("" when from
// is ""), in each of the shapes a command of it takes: a rule may keep the
// status (To ""), or, like the completion of a code or a step, complete the
// process only when it is the last thing left.
func results(a identification.Action, rule identification.Rule, from identification.Status) []identification.Status {
	var out []identification.Status
	for _, cmd := range []identification.Command{{Action: a}, {Action: a, Step: 1}, {Action: a, Step: 1, Last: true}} {
		to := rule.To
		if e, err := identification.Plan(cmd); err == nil && rules(a) {
			to = e.Rule.To
		}
		if to == "" {
			to = from
		}
		if !slices.Contains(out, to) {
			out = append(out, to)
		}
	}
	return out
}

// rules reports whether a is the real lifecycle's action (tests draw
// pictures of tables of their own, which Plan does not know).
func rules(a identification.Action) bool {
	_, ok := identification.Lifecycle[a]
	return ok
}

func lifecycle(rules map[identification.Action]identification.Rule, statuses []identification.Status) string {
	index := func(s identification.Status) int {
		if i := slices.Index(statuses, s); i >= 0 {
			return i
		}
		return len(statuses)
	}
	actions := make([]identification.Action, 0, len(rules))
	for a := range rules {
		actions = append(actions, a)
	}
	slices.SortFunc(actions, func(a, b identification.Action) int {
		if d := index(results(a, rules[a], "")[0]) - index(results(b, rules[b], "")[0]); d != 0 {
			return d
		}
		return strings.Compare(string(a), string(b))
	})

	var edges []edge
	var table strings.Builder
	table.WriteString("| action | allowed from | leads to |\n|---|---|---|\n")
	for _, a := range actions {
		var from []string
		for _, s := range statuses {
			w := allowed(a, s)
			if w == never {
				continue
			}
			label := string(a)
			if w == afterExpiry {
				label += " (expires_at passed)"
			}
			for _, to := range results(a, rules[a], s) {
				edges = append(edges, edge{s, to, label})
			}
			from = append(from, "`"+string(s)+"`"+condition(w))
		}
		if len(from) == 0 {
			from = []string{"nowhere"}
		}
		var leads []string
		for _, to := range results(a, rules[a], "") {
			if to == "" {
				leads = append(leads, "the same status")
			} else {
				leads = append(leads, "`"+string(to)+"`")
			}
		}
		fmt.Fprintf(&table, "| %s | %s | %s |\n", a, strings.Join(from, ", "), strings.Join(leads, " or "))
	}
	slices.SortStableFunc(edges, func(x, y edge) int { return index(x.from) - index(y.from) })

	var plain, forced []string
	everyStatusForced := true
	for _, s := range statuses {
		if w := deleteAllowed(s, false); w != never {
			plain = append(plain, "`"+string(s)+"`"+condition(w))
			edges = append(edges, edge{s, "deleted", "delete"})
		}
		if deleteAllowed(s, true) == anyTime {
			forced = append(forced, "`"+string(s)+"`")
		} else {
			everyStatusForced = false
		}
	}
	if everyStatusForced {
		forced = []string{"any status"}
	}
	fmt.Fprintf(&table, "| delete | %s; with `force=true`: %s | removed (404 afterwards) |\n",
		orNowhere(plain), orNowhere(forced))

	var b strings.Builder
	b.WriteString("```mermaid\nstateDiagram-v2\n")
	b.WriteString("    classDef open fill:#dbeafe,stroke:#1d4ed8,color:#111\n")
	b.WriteString("    classDef final fill:#e5e7eb,stroke:#374151,color:#111\n")
	b.WriteString("    state \"deleted (404 afterwards)\" as deleted\n")
	fmt.Fprintf(&b, "    [*] --> %s : create\n", identification.StatusCreated)
	for _, e := range edges {
		fmt.Fprintf(&b, "    %s --> %s : %s\n", e.from, e.to, e.label)
	}
	if everyStatusForced {
		b.WriteString("    note right of deleted : force=true deletes from any status\n")
	} else {
		for _, s := range statuses {
			if deleteAllowed(s, false) == never && deleteAllowed(s, true) != never {
				fmt.Fprintf(&b, "    %s --> deleted : delete force=true\n", s)
			}
		}
	}
	var open, final []string
	for _, s := range statuses {
		switch {
		case s.Open():
			open = append(open, string(s))
		case s.Final():
			final = append(final, string(s))
		}
	}
	if len(open) > 0 {
		fmt.Fprintf(&b, "    class %s open\n", strings.Join(open, ", "))
	}
	if len(final) > 0 {
		fmt.Fprintf(&b, "    class %s final\n", strings.Join(final, ", "))
	}
	b.WriteString("```\n\n")
	fmt.Fprintf(&b, "Open (blue): %s. Final (grey): %s.\n\n", orNowhere(quote(open)), orNowhere(quote(final)))
	b.WriteString(table.String())
	return b.String()
}

func condition(w when) string {
	switch w {
	case beforeExpiry:
		return " (before `expires_at`)"
	case afterExpiry:
		return " (once `expires_at` has passed)"
	}
	return ""
}

func quote(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = "`" + s + "`"
	}
	return out
}

func orNowhere(list []string) string {
	if len(list) == 0 {
		return "nowhere"
	}
	return strings.Join(list, ", ")
}
