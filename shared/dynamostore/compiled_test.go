package dynamostore

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

var valuePlaceholder = regexp.MustCompile(`:\d+`)

// TestCompiledShapesFillEveryPlaceholder builds every expression shape the
// store uses and checks that a call's values cover each placeholder of the
// condition and update exactly, with no sentinel left behind.
func TestCompiledShapesFillEveryPlaceholder(t *testing.T) {
	s := New(nil, Options{Table: "t"})
	var args [numParams]types.AttributeValue
	for p := range numParams {
		args[p] = &types.AttributeValueMemberS{Value: "arg"}
	}
	var all []*compiled
	dev := &identification.Device{InstallationID: "i", Fingerprint: "f"}
	for _, cmd := range shapeCommands(dev) {
		e, err := identification.Plan(cmd)
		if err != nil {
			t.Fatal(err)
		}
		sh := shapeOf(e)
		c, err := compile(s.effectExpression(sh))
		if err != nil {
			t.Fatalf("%+v: %v", sh, err)
		}
		all = append(all, c)
	}
	for _, force := range []bool{false, true} {
		c, err := compile(deleteExpression(force))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
	}
	for _, c := range all {
		values := c.values(&args)
		text := deref(c.condition) + " " + deref(c.update)
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
	// A shape is built once and shared.
	first, _ := s.shapes.get(deleteShape{false}, func() expression.Builder { return deleteExpression(false) })
	second, _ := s.shapes.get(deleteShape{false}, func() expression.Builder { t.Fatal("built twice"); return deleteExpression(false) })
	if first != second {
		t.Error("the same shape was compiled twice")
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
			base := identification.Command{Action: action, By: by}
			out = append(out, base)
			v := base
			v.Reason, v.Code, v.StepType, v.Step, v.Last = "r", code, identification.StepOTP, 1, true
			v.Guesses, v.NoTwoFactor, v.CodeHash, v.Awaiting = []string{"g"}, true, "h", true
			v.Agent = &identification.AgentRecord{Name: "a", Sub: "s", EvidenceMetadata: "{}"}
			out = append(out, v)
		}
	}
	return out
}
