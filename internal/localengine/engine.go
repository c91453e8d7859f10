package localengine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

const (
	// readyTimeout bounds how long a start waits for the engine to answer.
	readyTimeout = 30 * time.Second
	// readyPoll is the pause between two readiness probes.
	readyPoll = 20 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = 2 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
	// portAttempts is how many free ports a start with Port 0 tries.
	portAttempts = 3
	// outputLimit bounds the engine output kept in memory.
	outputLimit = 64 << 10
	// errorTailLimit bounds the engine output quoted in an error.
	errorTailLimit = 4 << 10
)

var (
	// errPortInUse marks a start that failed because another process holds the port.
	errPortInUse = errors.New("port already in use")
	// errNotReady is the cause of the readiness deadline.
	errNotReady = errors.New("readiness deadline exceeded")
	// errExited is the cause that ends the readiness wait when the engine exits.
	errExited = errors.New("engine exited")
)

// Options configures the start of an engine.
type Options struct {
	// Root is the repository root holding tools/node_modules; empty means
	// RepoRoot(). The engines must already be installed (see EnsureTools).
	Root string
	// Port is the loopback TCP port the engine listens on. 0 picks a free
	// port, trying another if the chosen one is taken before the engine binds it.
	Port int
	// DBPath is the SQLite file dynoxide keeps its data in; empty keeps the
	// data in memory. DynamoDB Local always runs in memory and rejects it.
	DBPath string
}

// Engine is a running local DynamoDB engine, a child process in its own
// process group that receives SIGKILL if the starting process dies.
type Engine struct {
	// Name is NameDynoxide or NameDynamoDBLocal.
	Name string
	// Endpoint is the engine's base URL, "http://127.0.0.1:PORT".
	Endpoint string

	port     int
	cmd      *exec.Cmd
	out      *tailBuffer
	exited   chan struct{} // closed once the process has been reaped
	waitErr  error         // the process's exit status, set before exited closes
	stopOnce sync.Once
	stopErr  error
}

// StartDynoxide starts `dynoxide serve` on 127.0.0.1 and waits until it
// answers ListTables. The data lives in opts.DBPath, or in memory if empty.
func StartDynoxide(ctx context.Context, opts Options) (*Engine, error) {
	root, err := resolveRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("start dynoxide: %w", err)
	}
	bin := DynoxidePath(root)
	if err := checkInstalled(bin); err != nil {
		return nil, fmt.Errorf("start dynoxide: %w", err)
	}
	e, err := start(ctx, NameDynoxide, opts.Port, func(port int) *exec.Cmd {
		args := []string{"serve", "--host", "127.0.0.1", "--port", strconv.Itoa(port)}
		if opts.DBPath != "" {
			args = append(args, "--db-path", opts.DBPath)
		}
		return exec.Command(bin, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("start dynoxide: %w", err)
	}
	return e, nil
}

// StartDynamoDBLocal starts DynamoDB Local (in memory, one shared database,
// telemetry off) with the java found on PATH and waits until it answers
// ListTables. DynamoDB Local listens on all interfaces, not only loopback.
func StartDynamoDBLocal(ctx context.Context, opts Options) (*Engine, error) {
	if opts.DBPath != "" {
		return nil, fmt.Errorf("start dynamodb-local: DBPath %q given, but DynamoDB Local runs in memory only", opts.DBPath)
	}
	root, err := resolveRoot(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("start dynamodb-local: %w", err)
	}
	dir := DynamoDBLocalDir(root)
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if err := checkInstalled(jar); err != nil {
		return nil, fmt.Errorf("start dynamodb-local: %w", err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("start dynamodb-local: DynamoDB Local needs a Java runtime (17 or later): %w", err)
	}
	e, err := start(ctx, NameDynamoDBLocal, opts.Port, func(port int) *exec.Cmd {
		cmd := exec.Command(java,
			"-Djava.library.path="+filepath.Join(dir, "DynamoDBLocal_lib"),
			"-jar", jar,
			"-inMemory", "-sharedDb",
			"-port", strconv.Itoa(port),
			"-disableTelemetry")
		cmd.Dir = dir
		return cmd
	})
	if err != nil {
		return nil, fmt.Errorf("start dynamodb-local: %w", err)
	}
	return e, nil
}

// PID returns the engine's process id, which is also its process group id.
func (e *Engine) PID() int {
	return e.cmd.Process.Pid
}

// Exited returns a channel that is closed once the engine's process has
// exited, on its own or by Stop; ExitErr then tells how it ended.
func (e *Engine) Exited() <-chan struct{} {
	return e.exited
}

// ExitErr returns the engine's exit status as exec.Cmd.Wait reported it (nil
// for a clean exit), or nil while the engine is still running.
func (e *Engine) ExitErr() error {
	select {
	case <-e.exited:
		return e.waitErr
	default:
		return nil
	}
}

// Output returns the last output (stdout and stderr interleaved) the engine
// wrote, at most 64 KiB.
func (e *Engine) Output() string {
	return e.out.String()
}

// Stop ends the engine: SIGTERM to its process group, then SIGKILL if it is
// still running 5 s later. It reports an error if the engine had already
// exited on its own or had to be killed. Stop is idempotent: later calls
// return the first call's result.
func (e *Engine) Stop() error {
	if e == nil || e.cmd == nil {
		return nil
	}
	e.stopOnce.Do(func() { e.stopErr = e.stop() })
	return e.stopErr
}

func (e *Engine) stop() error {
	select {
	case <-e.exited:
		return fmt.Errorf("stop %s: it had already exited (%v)%s", e.Name, e.waitErr, e.tail())
	default:
	}
	pgid := e.cmd.Process.Pid // Setpgid makes the engine lead its own group
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: SIGTERM process group %d: %w", e.Name, pgid, err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-e.exited:
		return nil
	case <-timer.C:
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: SIGKILL process group %d: %w", e.Name, pgid, err)
	}
	<-e.exited
	return fmt.Errorf("stop %s: still running %s after SIGTERM, killed", e.Name, stopTimeout)
}

// tail formats the end of the engine's output for an error message.
func (e *Engine) tail() string {
	out := e.out.Tail(errorTailLimit)
	if strings.TrimSpace(out) == "" {
		return " (no output)"
	}
	return fmt.Sprintf("\n--- last output of %s ---\n%s", e.Name, strings.TrimRight(out, "\n"))
}

// start launches the engine command builds, choosing a free port (and
// retrying with another when it turns out to be taken) if port is 0.
func start(ctx context.Context, name string, port int, command func(port int) *exec.Cmd) (*Engine, error) {
	attempts := 1
	if port == 0 {
		attempts = portAttempts
	}
	var err error
	for range attempts {
		p := port
		if p == 0 {
			if p, err = freePort(); err != nil {
				return nil, err
			}
		}
		var e *Engine
		if e, err = launch(ctx, name, p, command(p)); err == nil {
			return e, nil
		}
		if port != 0 || !errors.Is(err, errPortInUse) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// launch starts cmd as the engine listening on port and waits until it is ready.
func launch(ctx context.Context, name string, port int, cmd *exec.Cmd) (*Engine, error) {
	out := newTailBuffer(outputLimit)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second // do not hang on output pipes held by stray grandchildren
	if err := startOnLockedThread(cmd); err != nil {
		return nil, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	e := &Engine{
		Name:     name,
		Endpoint: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		port:     port,
		cmd:      cmd,
		out:      out,
		exited:   make(chan struct{}),
	}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	if err := e.waitReady(ctx); err != nil {
		_ = e.Stop() // the readiness error says what went wrong
		return nil, err
	}
	return e, nil
}

// waitReady polls ListTables until the engine answers it, exits, or 30 s pass.
func (e *Engine) waitReady(ctx context.Context) error {
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, readyTimeout, errNotReady)
	defer cancelTimeout()
	// Abort an in-flight probe as soon as the process exits.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-e.exited:
			cancel(errExited)
		case <-ctx.Done():
		}
	}()

	client := NewClient(e.Endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	started := time.Now()
	for {
		probeCtx, cancelProbe := context.WithTimeout(ctx, probeTimeout)
		_, err := client.ListTables(probeCtx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		cancelProbe()
		if err == nil {
			if !listenerOwnedBy(e.cmd.Process.Pid, e.port) {
				return fmt.Errorf("%w: something answers on port %d, but not %s (pid %d)%s",
					errPortInUse, e.port, e.Name, e.cmd.Process.Pid, e.tail())
			}
			return nil
		}
		select {
		case <-ctx.Done():
			switch cause := context.Cause(ctx); {
			case errors.Is(cause, errExited):
				<-e.exited
				err := fmt.Errorf("%s exited before it was ready (%v)%s", e.Name, e.waitErr, e.tail())
				if strings.Contains(strings.ToLower(e.out.String()), "already in use") {
					err = fmt.Errorf("%w: %w", errPortInUse, err)
				}
				return err
			case errors.Is(cause, errNotReady):
				return fmt.Errorf("%s not ready on %s after %s, last ListTables error: %v%s",
					e.Name, e.Endpoint, time.Since(started).Round(time.Millisecond), err, e.tail())
			default:
				return fmt.Errorf("waiting for %s: %w", e.Name, cause)
			}
		case <-tick.C:
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	return port, nil
}

// checkInstalled reports a missing engine file, with a hint on installing it.
func checkInstalled(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("engine not installed (run localengine.EnsureTools or `npm ci` in tools/): %w", err)
	}
	return nil
}
