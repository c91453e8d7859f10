// Command withengines runs a command with both local DynamoDB engines
// (dynoxide and DynamoDB Local) started on free loopback ports, so that a
// whole `go test ./...` run shares one pair of engines instead of every test
// binary starting its own:
//
//	go run ./cmd/withengines -- go test -race ./...
//
// It installs the engines if need be (npm ci in tools/), starts both
// concurrently, runs the command with TEST_DYNAMODB_ENDPOINTS set to
// "dynoxide=http://127.0.0.1:P1,dynamodb-local=http://127.0.0.1:P2",
// forwards SIGINT and SIGTERM to it, stops both engines when it ends, and
// exits with its exit code (128+signal if a signal killed it; 2 for a usage
// error, 1 if the engines could not be started or the command not run).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run does the work of main and returns the exit code.
func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withengines [--] command [args...]")
		return 2
	}

	// Catch the signals from the start: during the engine start-up they
	// cancel it, later they are forwarded to the command.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	root, err := localengine.RepoRoot()
	if err != nil {
		return fail(err)
	}
	if err := localengine.EnsureTools(root); err != nil {
		return fail(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var interrupt atomic.Value // the signal that cancelled the start-up
	go func() {
		select {
		case sig := <-sigs:
			interrupt.Store(sig)
			cancel()
		case <-ctx.Done():
		}
	}()
	engines, err := startEngines(ctx, root)
	cancel()
	defer stopEngines(engines)
	if sig, ok := interrupt.Load().(syscall.Signal); ok {
		fmt.Fprintf(os.Stderr, "withengines: %v while starting the engines\n", sig)
		return 128 + int(sig)
	}
	if err != nil {
		return fail(err)
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), localengine.EndpointsEnv+"="+localengine.FormatEndpoints(engines))
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("run %s: %w", args[0], err))
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig) // fails only once the command has exited
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	return exitCode(err)
}

// startEngines starts dynoxide and DynamoDB Local concurrently and reports
// each on stderr. On failure it stops whichever did start and returns nil.
func startEngines(ctx context.Context, root string) ([]*localengine.Engine, error) {
	starts := []func(context.Context, localengine.Options) (*localengine.Engine, error){
		localengine.StartDynoxide,
		localengine.StartDynamoDBLocal,
	}
	engines := make([]*localengine.Engine, len(starts))
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, start := range starts {
		wg.Go(func() {
			begin := time.Now()
			engines[i], errs[i] = start(ctx, localengine.Options{Root: root})
			if e := engines[i]; e != nil {
				fmt.Fprintf(os.Stderr, "withengines: %s ready at %s (pid %d, %s)\n",
					e.Name, e.Endpoint, e.PID(), time.Since(begin).Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopEngines(engines)
		return nil, err
	}
	return engines, nil
}

// stopEngines stops every started engine, reporting failures on stderr.
func stopEngines(engines []*localengine.Engine) {
	var wg sync.WaitGroup
	for _, e := range engines {
		if e == nil {
			continue
		}
		wg.Go(func() {
			if err := e.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "withengines: %v\n", err)
			}
		})
	}
	wg.Wait()
}

// exitCode maps the command's Wait error to this program's exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fail(err)
	}
	if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
		return 128 + int(status.Signal())
	}
	return exit.ExitCode()
}

// fail reports err on stderr and returns exit code 1.
func fail(err error) int {
	fmt.Fprintf(os.Stderr, "withengines: %v\n", err)
	return 1
}
