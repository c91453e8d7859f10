package lambdabaseline_test

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

// The build `make lambdas` does; keep the two in step.
var (
	arches     = []string{"arm64", "amd64"}
	buildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags=-s -w"}
)

// maxRatio bounds a function's size as a multiple of hello's: the handler
// tree, the store and the DynamoDB client are allowed, a second SDK
// configuration stack (about +0.35) or template tooling is not. It is a
// tripwire, not the goal: the goal is make bench's binary_size_vs_baseline
// (at most 1.15 times a function built the same way that makes the same
// DynamoDB calls; measured 1.06 to 1.12). Against hello the HTTP functions
// measure 1.36 to 1.46 on arm64 (2026-12-02: cancel-otp, the largest, links
// the reason's Unicode normalisation and the Idempotency-Key transaction).
const maxRatio = 1.5

// streamMaxRatio is the stream function's bound: it links four more
// service clients (SNS, SES v2, EventBridge, and SQS for the webhooks'
// queue), measured at 1.75 times hello on arm64 (1.65 before SQS), and
// serves stream batches, not requests.
const streamMaxRatio = 1.8

// baseline is the package path of the hello program, relative to the repository.
const baseline = "./internal/lambdabaseline/hello"

// forbiddenModules must never be linked into a function: template parsing
// (tests and dev tools only) and the SDK's shared-config loader with the
// SSO, STS and IMDS clients it drags in (app builds aws.Config by hand).
var forbiddenModules = []string{
	"github.com/awslabs/goformation/v7",
	"gopkg.in/yaml.v3",
	"github.com/getkin/kin-openapi",
	"github.com/aws/aws-sdk-go-v2/config",
	"github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/ssooidc",
	"github.com/aws/aws-sdk-go-v2/service/sts",
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
}

// binary is one program built for one architecture.
type binary struct {
	Name string // function name, or "hello"
	Arch string
	Path string
	Size int64
}

// TestBuiltFunctions builds every function under functions/ and hello for
// both architectures, as `make lambdas` does, and checks the binaries.
func TestBuiltFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function twice; skipped with -short")
	}
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot() error = %v", err)
	}
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil || len(mains) == 0 {
		t.Fatalf("no functions/*/main.go (err %v)", err)
	}
	pkgs := map[string]string{"hello": baseline}
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		pkgs[name] = "./functions/" + name
	}
	bins := mustBuild(t, root, t.TempDir(), pkgs)

	t.Run("sizes", func(t *testing.T) { checkSizes(t, bins) })
	t.Run("modules", func(t *testing.T) { checkModules(t, bins) })
	t.Run("outside Lambda", func(t *testing.T) { checkOutsideLambda(t, bins) })
}

// mustBuild builds every package for every architecture into dir, a few at
// a time, and returns the binaries by "name/arch".
func mustBuild(t *testing.T, root, dir string, pkgs map[string]string) map[string]binary {
	t.Helper()
	type job struct{ name, pkg, arch string }
	jobs := make(chan job)
	var (
		mu   sync.Mutex
		bins = map[string]binary{}
		errs []error
		wg   sync.WaitGroup
	)
	for range max(2, runtime.NumCPU()) {
		wg.Go(func() {
			for j := range jobs {
				out := filepath.Join(dir, j.arch, j.name, "bootstrap")
				args := append(append([]string{"build"}, buildFlags...), "-o", out, j.pkg)
				cmd := exec.CommandContext(t.Context(), "go", args...)
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+j.arch)
				msg, err := cmd.CombinedOutput()
				var info os.FileInfo
				if err == nil {
					info, err = os.Stat(out)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("GOARCH=%s go %s: %v\n%s", j.arch, strings.Join(args, " "), err, msg))
				} else {
					bins[j.name+"/"+j.arch] = binary{Name: j.name, Arch: j.arch, Path: out, Size: info.Size()}
				}
				mu.Unlock()
			}
		})
	}
	for _, name := range slices.Sorted(maps.Keys(pkgs)) {
		for _, arch := range arches {
			jobs <- job{name, pkgs[name], arch}
		}
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bins
}

// checkSizes prints every function's size next to hello's, built the same
// way in the same run, and fails for a ratio over maxRatio.
func checkSizes(t *testing.T, bins map[string]binary) {
	var report strings.Builder
	fmt.Fprintf(&report, "\n%-14s %-6s %12s %12s %6s\n", "function", "arch", "bytes", "hello bytes", "ratio")
	for _, b := range sortedBinaries(bins) {
		if b.Name == "hello" {
			continue
		}
		hello := bins["hello/"+b.Arch]
		ratio := float64(b.Size) / float64(hello.Size)
		fmt.Fprintf(&report, "%-14s %-6s %12d %12d %6.3f\n", b.Name, b.Arch, b.Size, hello.Size, ratio)
		limit := maxRatio
		if b.Name == "stream" {
			limit = streamMaxRatio
		}
		if ratio > limit {
			t.Errorf("%s/%s is %d bytes, %.3f times hello's %d; the limit is %.2f: look for what it newly links (go version -m, go tool nm -size -sort size)",
				b.Name, b.Arch, b.Size, ratio, hello.Size, limit)
		}
	}
	t.Log(report.String())
}

// checkModules reads each function's build information: none of
// forbiddenModules may be linked, and the build must be the intended one.
func checkModules(t *testing.T, bins map[string]binary) {
	for _, b := range sortedBinaries(bins) {
		info, err := buildinfo.ReadFile(b.Path)
		if err != nil {
			t.Errorf("%s/%s: read build info: %v", b.Name, b.Arch, err)
			continue
		}
		for _, dep := range info.Deps {
			if slices.Contains(forbiddenModules, dep.Path) {
				t.Errorf("%s/%s links %s %s", b.Name, b.Arch, dep.Path, dep.Version)
			}
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if settings["-tags"] != "lambda.norpc" || settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" {
			t.Errorf("%s/%s was built with -tags %q, -trimpath %q, CGO_ENABLED %q; want lambda.norpc, true, 0",
				b.Name, b.Arch, settings["-tags"], settings["-trimpath"], settings["CGO_ENABLED"])
		}
	}
}

// checkOutsideLambda starts each function built for this machine without
// AWS_LAMBDA_RUNTIME_API, as someone trying a bootstrap by hand would.
func checkOutsideLambda(t *testing.T, bins map[string]binary) {
	if runtime.GOOS != "linux" || !slices.Contains(arches, runtime.GOARCH) {
		t.Skipf("the binaries are linux/%v; this is %s/%s", arches, runtime.GOOS, runtime.GOARCH)
	}
	for _, b := range sortedBinaries(bins) {
		if b.Name == "hello" || b.Arch != runtime.GOARCH {
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		cmd := exec.CommandContext(ctx, b.Path)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		elapsed := time.Since(start)
		timedOut := ctx.Err() != nil
		cancel()

		var exit *exec.ExitError
		switch {
		case timedOut:
			t.Errorf("%s still running after %v outside Lambda; want it to exit at once", b.Name, elapsed)
		case !errors.As(err, &exit) || exit.ExitCode() <= 0:
			t.Errorf("%s outside Lambda: %v, want a non-zero exit status", b.Name, err)
		case !strings.Contains(stderr.String(), "AWS_LAMBDA_RUNTIME_API is not set"):
			t.Errorf("%s outside Lambda wrote %q to stderr, want it to say AWS_LAMBDA_RUNTIME_API is not set", b.Name, stderr.String())
		default:
			t.Logf("%s: exit %d after %v: %s", b.Name, exit.ExitCode(), elapsed.Round(time.Microsecond), strings.TrimSpace(stderr.String()))
		}
	}
}

func sortedBinaries(bins map[string]binary) []binary {
	out := make([]binary, 0, len(bins))
	for _, b := range bins {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b binary) int {
		return strings.Compare(a.Arch+"/"+a.Name, b.Arch+"/"+b.Name)
	})
	return out
}
