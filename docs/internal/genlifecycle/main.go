// Command genlifecycle rewrites the generated part of docs/lifecycle.md (the
// state diagram and table between its lifecycle markers) from
// identification.Lifecycle. It runs from `go generate ./docs`, which
// `make docs` calls; the docs tests fail when the committed file differs.
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/idadmin/api/docs"
)

func main() {
	path := docs.LifecycleFile
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(path); err != nil {
		fmt.Fprintln(os.Stderr, "genlifecycle:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := docs.SpliceLifecycle(old)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	if err := os.WriteFile(path, updated, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "genlifecycle: updated %s\n", path)
	return nil
}
