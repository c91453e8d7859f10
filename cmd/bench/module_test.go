package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/idadmin/api/internal/localengine"
)

// TestRunsOnTheRepository: the benchmark is a module of its own in
// cmd/bench, and from there still finds the repository it measures (the
// functions, template.yaml, the local engines), not its own go.mod's folder.
func TestRunsOnTheRepository(t *testing.T) {
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"template.yaml", "functions", filepath.Join("cmd", "bench", "go.mod")} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("RepoRoot() = %s, which holds no %s: %v", root, p, err)
		}
	}
}
