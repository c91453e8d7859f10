package functions_test

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// forbiddenInLambdas are the import path prefixes no deployed function may
// link: the benchmark's charts (gonum), the template reader (goformation),
// the OpenAPI tooling (kin-openapi, oapi-codegen) and the repository's own
// internal packages (test helpers, local engines, dev tools).
var forbiddenInLambdas = []string{
	"gonum.org/",
	"github.com/awslabs/goformation",
	"github.com/getkin/kin-openapi",
	"github.com/oapi-codegen",
	"github.com/idadmin/api/internal/",
}

// TestFunctionsLinkNoTools: `go list -deps` of every functions/*/main
// package (what its bootstrap is built from, tests excluded) holds none of
// forbiddenInLambdas. A failure names the function, the package and the
// chain of imports that brings it in.
func TestFunctionsLinkNoTools(t *testing.T) {
	root := repoRoot(t)
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Name}}\t{{join .Imports \" \"}}", "./functions/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps ./functions/...: %v\n%s", err, stderr)
	}
	imports := map[string][]string{}
	var mains []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			t.Fatalf("go list line %q: want 3 tab-separated fields", line)
		}
		imports[f[0]] = strings.Fields(f[2])
		if f[1] == "main" && strings.HasPrefix(f[0], "github.com/idadmin/api/functions/") {
			mains = append(mains, f[0])
		}
	}

	// Every function directory is checked: as many main packages as
	// functions/*/main.go files.
	files, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 || len(mains) != len(files) {
		t.Fatalf("go list found %d function main packages, functions/*/main.go %d: %v", len(mains), len(files), mains)
	}

	sort.Strings(mains)
	for _, m := range mains {
		for pkg, chain := range forbiddenReached(m, imports) {
			t.Errorf("%s links %s (a tool's dependency, never in a Lambda): %s",
				strings.TrimPrefix(m, "github.com/idadmin/api/"), pkg, strings.Join(chain, " -> "))
		}
	}
}

// forbiddenReached returns, for each forbidden package reachable from
// root in the import graph, one shortest chain of imports to it.
func forbiddenReached(root string, imports map[string][]string) map[string][]string {
	parent := map[string]string{root: ""}
	queue := []string{root}
	found := map[string][]string{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if isForbidden(p) {
			var chain []string
			for q := p; q != ""; q = parent[q] {
				chain = append([]string{q}, chain...)
			}
			found[p] = chain
			continue
		}
		for _, next := range imports[p] {
			if _, seen := parent[next]; !seen {
				parent[next] = p
				queue = append(queue, next)
			}
		}
	}
	return found
}

func isForbidden(pkg string) bool {
	for _, prefix := range forbiddenInLambdas {
		if strings.HasPrefix(pkg, prefix) {
			return true
		}
	}
	return false
}
