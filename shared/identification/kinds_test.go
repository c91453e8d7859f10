package identification

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestKindListsHoldEveryKind reads the package's source for every type
// with a Guard's Check or a Change's Apply method and checks GuardKinds and
// ChangeKinds list it: the lists the stores' tests walk cannot miss a kind.
func TestKindListsHoldEveryKind(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var guards, changes []string
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".go") || strings.HasSuffix(ent.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, ent.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			recv := fmt.Sprint(fn.Recv.List[0].Type)
			params := fn.Type.Params.List
			switch {
			case fn.Name.Name == "Check" && len(params) > 0 && fmt.Sprint(params[0].Type) == "Stored":
				guards = append(guards, recv)
			case fn.Name.Name == "Apply" && len(params) == 1:
				if star, ok := params[0].Type.(*ast.StarExpr); ok && fmt.Sprint(star.X) == "Changing" {
					changes = append(changes, recv)
				}
			}
		}
	}
	names := func(kinds []any) []string {
		var out []string
		for _, k := range kinds {
			out = append(out, strings.TrimPrefix(fmt.Sprintf("%T", k), "identification."))
		}
		return out
	}
	var gk, ck []any
	for _, g := range GuardKinds() {
		gk = append(gk, g)
	}
	for _, c := range ChangeKinds() {
		ck = append(ck, c)
	}
	for _, c := range []struct {
		what   string
		source []string
		listed []string
	}{{"guard", guards, names(gk)}, {"change", changes, names(ck)}} {
		slices.Sort(c.source)
		listed := slices.Clone(c.listed)
		slices.Sort(listed)
		if len(c.source) < 10 || !slices.Equal(c.source, slices.Compact(listed)) {
			t.Errorf("%s kinds in the source %v, listed %v", c.what, c.source, c.listed)
		}
	}
}
