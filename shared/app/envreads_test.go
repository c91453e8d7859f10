package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// envReaders are the functions of package os that read the environment.
var envReaders = map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true}

// envReadAllowed reports whether the Go file at rel (slash-separated, from
// the repository's root) may read the environment: this package (the
// composition root), the mains (functions/*/main.go and everything under
// cmd/), test files, and the test and bench helpers under internal/.
// Every other package takes its configuration as explicit values.
func envReadAllowed(rel string) bool {
	switch {
	case strings.HasSuffix(rel, "_test.go"):
		return true
	case strings.HasPrefix(rel, "shared/app/"), strings.HasPrefix(rel, "cmd/"), strings.HasPrefix(rel, "internal/"):
		return true
	}
	parts := strings.Split(rel, "/")
	return len(parts) == 3 && parts[0] == "functions" && parts[2] == "main.go"
}

// TestEnvironmentIsReadOnlyInTheCompositionRoot walks the repository and
// fails naming each file:line outside the allowed places (envReadAllowed)
// that calls os.Getenv, os.LookupEnv, os.Environ or os.ExpandEnv, however
// package os is imported.
func TestEnvironmentIsReadOnlyInTheCompositionRoot(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	offending, files := envReadsOutside(t, root)
	if files < 50 {
		t.Fatalf("walked only %d Go files under %s: not the repository", files, root)
	}
	for _, o := range offending {
		t.Errorf("%s reads the environment; take the value from shared/app's Config (or the function's main) as an explicit field instead", o)
	}
}

// envReadsOutside returns the file:line of every environment read under
// root that envReadAllowed refuses, and how many Go files it parsed.
func envReadsOutside(t *testing.T, root string) ([]string, int) {
	t.Helper()
	var offending []string
	files := 0
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files++
		if envReadAllowed(rel) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, line := range envReadLines(fset, f) {
			offending = append(offending, rel+":"+strconv.Itoa(line))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return offending, files
}

// envReadLines are the lines of f that call an envReaders function of
// package os (under whatever name f imports it; a dot import counts too).
func envReadLines(fset *token.FileSet, f *ast.File) []int {
	names := map[string]bool{}
	dot := false
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p != "os" {
			continue
		}
		switch {
		case imp.Name == nil:
			names["os"] = true
		case imp.Name.Name == ".":
			dot = true
		case imp.Name.Name != "_":
			names[imp.Name.Name] = true
		}
	}
	if len(names) == 0 && !dot {
		return nil
	}
	var lines []int
	ast.Inspect(f, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := e.X.(*ast.Ident); ok && names[id.Name] && envReaders[e.Sel.Name] {
				lines = append(lines, fset.Position(e.Pos()).Line)
			}
		case *ast.Ident:
			if dot && envReaders[e.Name] {
				lines = append(lines, fset.Position(e.Pos()).Line)
			}
		}
		return true
	})
	return lines
}

// TestEnvReadLinesFindsEveryForm checks the detector itself on a file that
// reads the environment every way it knows, and on one that only mentions
// the names.
func TestEnvReadLinesFindsEveryForm(t *testing.T) {
	src := `package p

import (
	"os"
	xos "os"
)

func a() string { return os.Getenv("A") }
func b() (string, bool) { return xos.LookupEnv("B") }
func c() []string { return os.Environ() }
func d() string { return os.ExpandEnv("$D") }
func e() func(string) string { return os.Getenv }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := envReadLines(fset, f); len(got) != 5 || got[0] != 8 || got[4] != 12 {
		t.Errorf("envReadLines = %v, want lines 8 to 12", got)
	}
	quiet := `package p

import "fmt"

type os struct{ Getenv string }

func a() { fmt.Println("os.Getenv") }
`
	f, err = parser.ParseFile(fset, "q.go", quiet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := envReadLines(fset, f); len(got) != 0 {
		t.Errorf("envReadLines of a file without package os = %v, want none", got)
	}
	for rel, want := range map[string]bool{
		"shared/app/config.go": true, "functions/stream/main.go": true, "functions/stream/wire.go": false,
		"cmd/devserver/main.go": true, "internal/fixture/evidence.go": true, "shared/codekey/codekey_test.go": true,
		"shared/codekey/secretsmanager.go": false, "functions/doc.go": false, "shared/application/x.go": false,
	} {
		if got := envReadAllowed(rel); got != want {
			t.Errorf("envReadAllowed(%q) = %v, want %v", rel, got, want)
		}
	}
}
