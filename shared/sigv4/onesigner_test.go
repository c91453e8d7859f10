package sigv4_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const signerImport = "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

// TestOneSigner walks the repository: no Go file but this package's (and
// tests) imports the SDK's SigV4 signer, so that a new hand-made AWS call
// goes through Client rather than a fifth copy of it; and this package
// imports no service's SDK module (github.com/aws/aws-sdk-go-v2/service/…),
// which would put that client into every function it is meant to keep it
// out of.
func TestOneSigner(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	fset := token.NewFileSet()
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		here := filepath.ToSlash(filepath.Dir(rel)) == "shared/sigv4"
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case p == signerImport && !here:
				t.Errorf("%s imports the SigV4 signer: sign and send through shared/sigv4's Client instead", rel)
			case here && strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/"):
				t.Errorf("%s imports %s: shared/sigv4 exists to keep the service clients out of the functions", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("walked only %d Go files under %s: not the repository", files, root)
	}
}
