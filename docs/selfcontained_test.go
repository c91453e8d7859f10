package docs

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// outsideRef matches a reference to a document outside the repository: a
// path into the directory beside the checkout, or the product contract it
// was written from (by name, or cited by section number).
// The pattern is assembled so that this file does not match it.
var outsideRef = regexp.MustCompile(`\.\./` + `shared/|\b` + spec + `\b`)

// spec is the contract's name, split so that this file does not match.
const spec = "SP" + "EC"

// skipDirs are not part of the repository's own text: version control,
// installed tools and what builds and local runs leave behind.
var skipDirs = map[string]bool{
	".git":                       true,
	"tools/node_modules":         true,
	"tools/openapi/node_modules": true,
	".local":                     true,
	".build":                     true,
	".aws-sam":                   true,
}

// TestRepositoryIsSelfContained fails on every line of the repository that
// refers to a document outside it: docs/ is the users' contract, and what
// the code and its comments cite must be there for whoever clones it.
func TestRepositoryIsSelfContained(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s is not the repository root: %v", root, err)
	}
	hits, files, err := findOutsideRefs(root)
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no file was read: the walk is broken")
	}
	for _, h := range hits {
		t.Errorf("%s refers outside the repository: %s", h.where, h.line)
	}
	if len(hits) > 0 {
		t.Logf("%d references in %d files read; point them at docs/ (docs/README.md is the index) instead", len(hits), files)
	}
}

type hit struct{ where, line string }

// findOutsideRefs walks root and returns every matching line of every text
// file, and how many files it read.
func findOutsideRefs(root string) ([]hit, int, error) {
	var hits []hit
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDirs[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			return nil // binary
		}
		files++
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
		for n := 1; sc.Scan(); n++ {
			if line := sc.Text(); outsideRef.MatchString(line) {
				hits = append(hits, hit{where: rel + ":" + strconv.Itoa(n), line: strings.TrimSpace(line)})
			}
		}
		return sc.Err()
	})
	return hits, files, err
}

// TestOutsideRefPattern holds the pattern to what it must and must not
// catch, so the walk above can fail.
func TestOutsideRefPattern(t *testing.T) {
	for _, s := range []string{
		"The contract is `../" + "shared/" + spec + ".md`.",
		"// Route is one row of the route table of " + spec + " §2.",
		"# One function per endpoint (" + spec + " section 2).",
		spec + " 3 wants force true, false or absent",
		`"description": "see ../` + `shared/ENGINES.md"`,
	} {
		if !outsideRef.MatchString(s) {
			t.Errorf("not caught: %q", s)
		}
	}
	for _, s := range []string{
		"github.com/idadmin/api/shared/identification",
		`filepath.Join("..", "shared", "app")`,
		"see docs/lifecycle.md",
		"OPENAPI_" + spec + "_PATH",
		"specification",
	} {
		if outsideRef.MatchString(s) {
			t.Errorf("wrongly caught: %q", s)
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.go"), []byte("package a\n\n// see "+spec+" §5\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".local"), 0o755)
	os.WriteFile(filepath.Join(dir, ".local", "b.txt"), []byte("../"+"shared/x\n"), 0o644)
	hits, files, err := findOutsideRefs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 || len(hits) != 1 || hits[0].where != "a.go:3" {
		t.Errorf("walk of a tree with one reference (and one in a skipped directory): files=%d hits=%v", files, hits)
	}
}
