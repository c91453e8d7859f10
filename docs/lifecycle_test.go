package docs

import (
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/idadmin/api/shared/identification"
)

// TestLifecyclePictureIsCurrent regenerates the lifecycle's picture and
// table from identification.Lifecycle and fails when lifecycle.md holds
// anything else between its markers.
func TestLifecyclePictureIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(LifecycleFile)
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceLifecycle(committed)
	if err != nil {
		t.Fatalf("docs/%s: %v", LifecycleFile, err)
	}
	if string(committed) == string(want) {
		return
	}
	t.Errorf("docs/%s is stale: its lifecycle picture no longer matches identification.Lifecycle.\n"+
		"Run `make docs` (go generate ./docs) and commit docs/%s.\n%s",
		LifecycleFile, LifecycleFile, lineDiff(between(string(committed)), between(string(want))))
}

// between returns the generated part of a document, or all of it.
func between(doc string) string {
	_, rest, ok := strings.Cut(doc, LifecycleBegin)
	if !ok {
		return doc
	}
	inner, _, _ := strings.Cut(rest, LifecycleEnd)
	return inner
}

// lineDiff lists the lines only in got (-) and only in want (+).
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	in := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, l := range g {
		if !in(w, l) {
			b.WriteString("- committed: " + l + "\n")
		}
	}
	for _, l := range w {
		if !in(g, l) {
			b.WriteString("+ generated: " + l + "\n")
		}
	}
	if b.Len() == 0 {
		b.WriteString("(the same lines in another order)\n")
	}
	return b.String()
}

// TestLifecycleFollowsTheTable proves the picture is derived from the table
// it is given: a change to the table changes the picture, so the staleness
// test above can fail.
func TestLifecycleFollowsTheTable(t *testing.T) {
	base := lifecycle(identification.Lifecycle, identification.Statuses)
	for _, want := range []string{
		"stateDiagram-v2",
		"[*] --> CREATED : create",
		"CREATED --> CANCELLED : cancel",
		"COMPLETED --> CLOSED : close",
		"IN_PROGRESS --> EXPIRED : expire (expires_at passed)",
		"CREATED --> deleted : delete",
	} {
		if !strings.Contains(base, want) {
			t.Errorf("the picture of the current table lacks %q:\n%s", want, base)
		}
	}
	for action, rule := range identification.Lifecycle {
		for _, from := range rule.From {
			to := rule.To
			if to == "" {
				to = from // an action that keeps the status is a loop
			}
			if !strings.Contains(base, string(from)+" --> "+string(to)+" : "+string(action)) {
				t.Errorf("the picture lacks the arrow %s --> %s for %s", from, to, action)
			}
		}
	}
	if strings.Contains(base, "-->  :") {
		t.Errorf("the picture has an arrow to nowhere:\n%s", base)
	}

	// The rules of the table are read through Action.Allows, so a changed
	// table must be installed where Allows reads it; it is restored after.
	saved := maps.Clone(identification.Lifecycle)
	t.Cleanup(func() {
		for a := range identification.Lifecycle {
			delete(identification.Lifecycle, a)
		}
		maps.Copy(identification.Lifecycle, saved)
	})
	identification.Lifecycle["reopen"] = identification.Rule{From: []identification.Status{identification.StatusClosed}, To: identification.StatusCreated}
	delete(identification.Lifecycle, identification.ActionCancel)
	changed := lifecycle(identification.Lifecycle, identification.Statuses)
	if changed == base {
		t.Fatal("the picture did not change with the table")
	}
	if !strings.Contains(changed, "CLOSED --> CREATED : reopen") {
		t.Errorf("a new rule is not drawn:\n%s", changed)
	}
	if strings.Contains(changed, ": cancel") {
		t.Errorf("a removed rule is still drawn:\n%s", changed)
	}
}

func TestSpliceLifecycle(t *testing.T) {
	doc := "# Lifecycle\n\nprose\n\n" + LifecycleBegin + "\nstale picture\n" + LifecycleEnd + "\n\nmore prose\n"
	got, err := splice([]byte(doc), "fresh\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Lifecycle\n\nprose\n\n" + LifecycleBegin + "\nfresh\n" + LifecycleEnd + "\n\nmore prose\n"
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{
		"no markers",
		LifecycleBegin + " only the beginning",
		LifecycleEnd + " the end first " + LifecycleBegin,
	} {
		if _, err := splice([]byte(bad), "x"); err == nil {
			t.Errorf("splice(%q) did not fail", bad)
		}
	}
}
