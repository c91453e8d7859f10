package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// devBinary is the dev server built once for every test of this package.
var devBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// buildDevServer builds the dev server the first time it is called.
func buildDevServer(t *testing.T) string {
	t.Helper()
	devBinary.once.Do(func() {
		devBinary.dir, devBinary.err = os.MkdirTemp("", "devserver-test")
		if devBinary.err != nil {
			return
		}
		devBinary.path = filepath.Join(devBinary.dir, "devserver")
		devBinary.out, devBinary.err = exec.Command("go", "build", "-o", devBinary.path, ".").CombinedOutput()
	})
	if devBinary.err != nil {
		t.Fatalf("build: %v\n%s", devBinary.err, devBinary.out)
	}
	return devBinary.path
}

// TestMain removes the shared build when the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if devBinary.dir != "" {
		os.RemoveAll(devBinary.dir)
	}
	os.Exit(code)
}

// devProcess is a running dev server process.
type devProcess struct {
	base    string // http://127.0.0.1:port
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited closes
	stderr  *lockedBuffer
	// exports are the "export NAME=value" lines it printed (its tokens).
	exports map[string]string
}

// lockedBuffer collects a process's output; safe to read while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startDevServer runs the dev server with env added to the test's own
// environment (ADDR=127.0.0.1:0 is the caller's to set), waits until it
// prints its URL and answers /healthz, and kills it when the test ends if
// it is still running.
func startDevServer(t *testing.T, env ...string) *devProcess {
	t.Helper()
	p := &devProcess{cmd: exec.Command(buildDevServer(t)), exited: make(chan struct{}), stderr: &lockedBuffer{}, exports: map[string]string{}}
	exports := make(chan [2]string, 16)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	// A session of its own, as a terminal gives `make run`: what the server
	// starts is in it, and a test can tell whether any of it is left.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "export "); ok {
				if k, v, ok := strings.Cut(rest, "="); ok {
					exports <- [2]string{k, v}
				}
			}
			if rest, ok := strings.CutPrefix(sc.Text(), "Serving the identification admin API on "); ok {
				base <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case p.base = <-base:
	case <-p.exited:
		t.Fatalf("dev server exited early: %v\n%s", p.waitErr, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("dev server did not start in 60s\n%s", p.stderr)
	}
	// Ready once /healthz says so: under load its checks (each bounded by
	// a second) may answer 503 with Retry-After for a moment.
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(p.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if err == nil && resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The tokens come right after the URL.
	for deadline := time.After(5 * time.Second); len(p.exports) < 3; {
		select {
		case kv := <-exports:
			p.exports[kv[0]] = kv[1]
		case <-deadline:
			return p
		}
	}
	return p
}

// stop sends SIGTERM and waits up to timeout for the process to exit,
// reporting whether it did; its exit status is then in waitErr.
func (p *devProcess) stop(timeout time.Duration) bool {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}
