// Package enginetest runs tests against every local DynamoDB engine. It hands
// out the engines named in TEST_DYNAMODB_ENDPOINTS (as set by
// `go run ./cmd/withengines -- go test ./...`), or, when that is unset,
// starts dynoxide and DynamoDB Local once per test binary. NewTable gives
// each test a fresh table built from template.yaml and a client whose calls
// are counted.
//
// A package using it stops self-started engines by calling Main from its
// TestMain:
//
//	func TestMain(m *testing.M) { enginetest.Main(m) }
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

// startTimeout bounds starting the engines (not installing them).
const startTimeout = 2 * time.Minute

// Engine is a running local DynamoDB engine a test can use.
type Engine struct {
	// Name identifies the engine, "dynoxide" or "dynamodb-local"; subtests are named after it.
	Name string
	// Endpoint is the engine's base URL, such as "http://127.0.0.1:8000".
	Endpoint string
}

// engines is the per-test-binary set of engines.
var engines struct {
	once    sync.Once
	list    []Engine
	err     error
	mu      sync.Mutex
	started []*localengine.Engine // self-started engines, for Main to stop
}

// Engines returns the engines to test against: those in
// TEST_DYNAMODB_ENDPOINTS if it is set and not empty, else dynoxide and
// DynamoDB Local, installed if need be and started on the first call of the
// test binary. It fails the test if the variable is malformed or an engine
// does not start.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines.once.Do(func() { engines.list, engines.err = setup() })
	if engines.err != nil {
		t.Fatalf("enginetest: %v", engines.err)
	}
	return slices.Clone(engines.list)
}

// ForEach runs fn as a subtest, named after the engine, for each engine.
// It does not call t.Parallel; fn may.
func ForEach(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

// Main runs the tests, stops the engines Engines started, and exits with
// the tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := stopEngines(); err != nil {
		fmt.Fprintf(os.Stderr, "enginetest: %v\n", err)
	}
	os.Exit(code)
}

// setup reads the engines from the environment or starts them.
func setup() ([]Engine, error) {
	if v := os.Getenv(localengine.EndpointsEnv); v != "" {
		list, err := parseEndpoints(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", localengine.EndpointsEnv, v, err)
		}
		return list, nil
	}
	root, err := localengine.RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := localengine.EnsureTools(root); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	starts := []func(context.Context, localengine.Options) (*localengine.Engine, error){
		localengine.StartDynoxide,
		localengine.StartDynamoDBLocal,
	}
	started := make([]*localengine.Engine, len(starts))
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, start := range starts {
		wg.Go(func() { started[i], errs[i] = start(ctx, localengine.Options{Root: root}) })
	}
	wg.Wait()

	var list []Engine
	engines.mu.Lock()
	defer engines.mu.Unlock()
	for _, e := range started {
		if e != nil {
			engines.started = append(engines.started, e)
			list = append(list, Engine{Name: e.Name, Endpoint: e.Endpoint})
		}
	}
	if err := errors.Join(errs...); err != nil {
		for _, e := range engines.started {
			_ = e.Stop() // the start error is what matters
		}
		engines.started = nil
		return nil, err
	}
	return list, nil
}

// stopEngines stops every engine setup started.
func stopEngines() error {
	engines.mu.Lock()
	defer engines.mu.Unlock()
	var errs []error
	for _, e := range engines.started {
		errs = append(errs, e.Stop())
	}
	engines.started = nil
	return errors.Join(errs...)
}

// parseEndpoints parses the TEST_DYNAMODB_ENDPOINTS format: comma-separated
// name=endpoint pairs.
func parseEndpoints(s string) ([]Engine, error) {
	var list []Engine
	seen := map[string]bool{}
	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, endpoint, ok := strings.Cut(pair, "=")
		name, endpoint = strings.TrimSpace(name), strings.TrimSpace(endpoint)
		if !ok || name == "" || endpoint == "" {
			return nil, fmt.Errorf("entry %q is not name=endpoint", pair)
		}
		if !strings.HasPrefix(endpoint, "http://") && !strings.HasPrefix(endpoint, "https://") {
			return nil, fmt.Errorf("entry %q: endpoint is not an http(s) URL", pair)
		}
		if seen[name] {
			return nil, fmt.Errorf("engine %q named twice", name)
		}
		seen[name] = true
		list = append(list, Engine{Name: name, Endpoint: endpoint})
	}
	if len(list) == 0 {
		return nil, errors.New("no engines")
	}
	return list, nil
}
