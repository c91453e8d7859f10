package dynamostore

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

var valuePlaceholder = regexp.MustCompile(`:\d+`)

var testRef = identification.Ref{Org: "acme", Type: identification.TypeChain, ID: "0193a000-0000-7000-8000-000000000000"}

// TestCompiledShapesFillEveryPlaceholder translates every effect the
// lifecycle plans and checks that a call's values cover each placeholder
// of the condition and update exactly, with no sentinel left behind.
func TestCompiledShapesFillEveryPlaceholder(t *testing.T) {
	s := New(nil, Options{Table: "t", Retention: time.Hour})
	dev := &identification.Device{InstallationID: "i", Fingerprint: "f"}
	type call struct {
		c    *compiled
		args []types.AttributeValue
	}
	var all []call
	for _, cmd := range shapeCommands(dev) {
		e, err := identification.Plan(cmd)
		if err != nil {
			t.Fatal(err)
		}
		c, args, _, err := s.effect(testRef, e)
		if err != nil {
			t.Fatalf("%s: %v", cmd.Action, err)
		}
		all = append(all, call{c, args})
	}
	for _, force := range []bool{false, true} {
		c, err := compile(deleteExpression(force))
		if err != nil {
			t.Fatal(err)
		}
		args := make([]types.AttributeValue, numDelete)
		for n := range args {
			args[n] = str("arg")
		}
		all = append(all, call{c, args})
	}
	for _, a := range all {
		values := a.c.values(a.args)
		text := deref(a.c.condition) + " " + deref(a.c.update)
		used := map[string]bool{}
		for _, p := range valuePlaceholder.FindAllString(text, -1) {
			used[p] = true
			if values[p] == nil {
				t.Errorf("%s: placeholder %s has no value", text, p)
			}
		}
		for p, v := range values {
			if !used[p] {
				t.Errorf("%s: value %s is not used", text, p)
			}
			if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.HasPrefix(sv.Value, sentinelPrefix) {
				t.Errorf("%s: sentinel %q left in the values", text, sv.Value)
			}
		}
	}
}

// TestAShapesKeyDecidesItsExpression: two effects with the same key have
// the same expression text, so the cache never hands one effect another's
// condition; and a shape is built once.
func TestAShapesKeyDecidesItsExpression(t *testing.T) {
	dev := &identification.Device{InstallationID: "i", Fingerprint: "f"}
	texts := map[string]string{}
	for _, cmd := range shapeCommands(dev) {
		e, err := identification.Plan(cmd)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh store each time: nothing cached.
		s := New(nil, Options{Table: "t", Retention: time.Hour})
		c, _, _, err := s.effect(testRef, e)
		if err != nil {
			t.Fatal(err)
		}
		var key string
		for k := range s.shapes.m {
			key = k
		}
		text := deref(c.condition) + " | " + deref(c.update)
		if have, ok := texts[key]; ok && have != text {
			t.Errorf("%s: key %q holds two expressions:\n%s\n%s", cmd.Action, key, have, text)
		}
		texts[key] = text
	}
	if len(texts) < 20 {
		t.Errorf("only %d shapes for every command of the lifecycle", len(texts))
	}
	s := New(nil, Options{Table: "t"})
	first, _ := s.shapes.get(deleteShapes[false], func() (expression.Builder, error) { return deleteExpression(false), nil })
	second, _ := s.shapes.get(deleteShapes[false], func() (expression.Builder, error) {
		t.Fatal("built twice")
		return deleteExpression(false), nil
	})
	if first != second {
		t.Error("the same shape was compiled twice")
	}
}

// untranslated names the guard and change kinds the store cannot
// translate into an expression.
func untranslated(guards []identification.Guard, changes []identification.Change) []string {
	s := New(nil, Options{Table: "t", Retention: time.Hour})
	status := identification.StatusIn{Action: identification.ActionCancel, From: []identification.Status{identification.StatusCreated}}
	var out []string
	try := func(kind any, e identification.Effect) {
		e.At = time.Unix(1e9, 0)
		if _, _, _, err := s.effect(testRef, e); err != nil {
			out = append(out, fmt.Sprintf("%T", kind))
		}
	}
	for _, g := range guards {
		// The zero values the walk cannot take: a status guard allowing
		// nothing, a step type the item does not record.
		switch g.(type) {
		case identification.AtStepType:
			g = identification.AtStepType{Type: identification.StepOTP}
		case identification.StatusIn:
			g = status
		}
		try(g, identification.Effect{Guards: []identification.Guard{status, g}})
	}
	for _, c := range changes {
		if c == (identification.End{}) {
			c = identification.End{Clock: identification.EndNow}
		}
		try(c, identification.Effect{Guards: []identification.Guard{status}, Changes: []identification.Change{c}})
	}
	return out
}

// TestEveryKindTranslates walks every guard and change kind of the domain:
// one added there without its translation here fails.
func TestEveryKindTranslates(t *testing.T) {
	if got := untranslated(identification.GuardKinds(), identification.ChangeKinds()); len(got) > 0 {
		t.Errorf("kinds with no translation in dynamostore: %v", got)
	}
}

// testOnlyGuard is a guard kind dynamostore has never heard of.
type testOnlyGuard struct{}

func (testOnlyGuard) Check(identification.Stored, time.Time) *identification.Error { return nil }

// testOnlyChange is a change kind dynamostore has never heard of.
type testOnlyChange struct{}

func (testOnlyChange) Apply(*identification.Changing) {}

// TestAnUnknownKindFailsTheWalk: the walk above fails on a kind it cannot
// translate, naming it (so it cannot pass by translating nothing).
func TestAnUnknownKindFailsTheWalk(t *testing.T) {
	got := untranslated(append(identification.GuardKinds(), testOnlyGuard{}), append(identification.ChangeKinds(), testOnlyChange{}))
	want := []string{"dynamostore.testOnlyGuard", "dynamostore.testOnlyChange"}
	if !slices.Equal(got, want) {
		t.Errorf("untranslated = %v, want %v", got, want)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// shapeCommands is a command of every action in each of its variants.
func shapeCommands(dev *identification.Device) []identification.Command {
	actor := identification.Caller{Kind: identification.CallerActor, Device: dev, UserAgent: "ua"}
	code := &identification.IssuedCode{Hash: "h", KeyID: "k", Nonce: "n", Delivery: "PENDING"}
	var out []identification.Command
	for action, rule := range identification.Lifecycle {
		for _, kind := range rule.By {
			by := identification.Caller{Kind: kind}
			if kind == identification.CallerActor {
				by = actor
			}
			at := time.Unix(1e9, 0)
			base := identification.Command{Action: action, By: by, At: at}
			out = append(out, base)
			v := base
			v.Reason, v.Code, v.StepType, v.Step, v.Last = "r", code, identification.StepOTP, 1, true
			v.Guesses, v.NoTwoFactor, v.CodeHash, v.Awaiting = []string{"g"}, true, "h", true
			v.Agent = &identification.AgentRecord{Name: "a", Sub: "s", EvidenceMetadata: "{}"}
			v.Evidence = &identification.Evidence{Kind: identification.EvidenceSelfie, Key: "k"}
			v.Decision = &identification.DocumentDecision{Approved: true}
			v.ExpiresAt = at.Add(time.Hour)
			out = append(out, v)
			w := v
			w.By.UserAgent, w.Reason, w.Step, w.Last = "", "", 2, false
			out = append(out, w)
		}
	}
	return out
}
