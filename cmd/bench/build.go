package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// helloName is the baseline program's name among the built binaries.
const helloName = "hello"

// binaries are the programs a run builds.
type binaries struct {
	// devserver is the dev server, built as `go build` builds it.
	devserver string
	// functions are the function names (directories under functions/),
	// sorted; lambdas[name] is the bootstrap of each and of hello.
	functions []string
	lambdas   map[string]string
	// baselines[route] is the baseline of each route's function (built
	// once the routes' calls are known; see buildBaselines).
	baselines map[string]string
}

// lambdaFlags are the flags of `make lambdas` (LAMBDA_BUILD in the Makefile);
// keep the two in step.
var lambdaFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w"}

// build builds the dev server, and every function and hello for this
// machine's architecture as `make lambdas` builds them, into dir/bin.
func build(ctx context.Context, root, dir string) (binaries, error) {
	b := binaries{devserver: filepath.Join(dir, "bin", "devserver"), lambdas: map[string]string{}}
	if err := goBuild(ctx, root, nil, nil, b.devserver, "./cmd/devserver"); err != nil {
		return b, err
	}
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil || len(mains) == 0 {
		return b, fmt.Errorf("no functions/*/main.go (%v)", err)
	}
	pkgs := []string{"./internal/lambdabaseline/hello"}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		b.functions = append(b.functions, name)
		pkgs = append(pkgs, "./functions/"+name)
	}
	slices.Sort(b.functions)
	out := filepath.Join(dir, "bin", "lambda") + string(filepath.Separator)
	if err := os.RemoveAll(out); err != nil {
		return b, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return b, err
	}
	lambdaEnv := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + hostArch()}
	if err := goBuild(ctx, root, lambdaEnv, lambdaFlags, out, pkgs...); err != nil {
		return b, err
	}
	for _, name := range append([]string{helloName}, b.functions...) {
		b.lambdas[name] = filepath.Join(out, name)
		if _, err := os.Stat(b.lambdas[name]); err != nil {
			return b, fmt.Errorf("built %s: %w", name, err)
		}
	}
	return b, nil
}

// goBuild runs go build in root with extra environment and flags.
func goBuild(ctx context.Context, root string, env, flags []string, out string, pkgs ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out)
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(withoutProxy(os.Environ()), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s go %s: %w\n%s", strings.Join(env, " "), strings.Join(args, " "), err, msg)
	}
	return nil
}

// goTool is the go command: $GO as the Makefile passes it, else go on PATH.
func goTool() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// withoutProxy is environ without the loopback proxy main sets for the
// run's own clients: the go command may need the module proxy.
func withoutProxy(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "HTTPS_PROXY=") && !strings.HasPrefix(kv, "HTTP_PROXY=") && !strings.HasPrefix(kv, "NO_PROXY=") {
			out = append(out, kv)
		}
	}
	return out
}
