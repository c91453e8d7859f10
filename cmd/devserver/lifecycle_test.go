package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/httpapi"
)

// lifecycleSecret is the dev server's HS256 secret in these tests.
const lifecycleSecret = "lifecycle-test-secret-0123456789"

// TestHealthzReportsAStoreItCannotReach runs the dev server on an engine
// the test owns, stops that engine, and expects /healthz to turn into a 503
// ErrorsResponse (MDOC_000, Retry-After) while the server keeps running.
func TestHealthzReportsAStoreItCannotReach(t *testing.T) {
	engine, err := localengine.StartDynoxide(t.Context(), localengine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Stop()
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+lifecycleSecret,
		"DYNAMODB_ENDPOINT="+engine.Endpoint, "TABLE_NAME=health", "SWEEP_INTERVAL=0")
	if err := engine.Stop(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var resp *http.Response
	var body []byte
	for {
		resp, err = http.Get(p.base + "/healthz")
		if err != nil {
			t.Fatalf("healthz: %v", err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still says %d %s 20s after the store went away", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("healthz without a store: got %d (Retry-After %q) %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	var er httpapi.ErrorsResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&er); err != nil || len(er.Errors) != 1 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("healthz 503 is not an ErrorsResponse: %v: %s", err, body)
	}
	u, _ := url.Parse(engine.Endpoint)
	if e := er.Errors[0]; e.Code != "MDOC_000" || e.Title != "INTERNAL_SERVER_ERROR" || e.Details == "" || strings.Contains(e.Details, u.Port()) {
		t.Errorf("healthz 503 error = %+v, want MDOC_000 with generic details", e)
	}
	select {
	case <-p.exited:
		t.Fatalf("the dev server exited when an engine it did not start went away: %v\n%s", p.waitErr, p.stderr)
	default:
	}
}

// TestDevServerExitsWhenItsEngineDies kills the engine the dev server
// started: the server must log the engine's exit and exit non-zero itself.
func TestDevServerExitsWhenItsEngineDies(t *testing.T) {
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+lifecycleSecret,
		"DYNAMODB_ENDPOINT=", "TABLE_NAME=enginedies", "SWEEP_INTERVAL=0")
	var engine []int
	for _, pr := range listProcs() {
		if pr.ppid == p.cmd.Process.Pid && pr.comm == localengine.NameDynoxide {
			engine = append(engine, pr.pid)
		}
	}
	if len(engine) != 1 {
		t.Fatalf("dev server %d has %d dynoxide children, want 1", p.cmd.Process.Pid, len(engine))
	}
	if err := syscall.Kill(engine[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the dev server still runs 30s after its engine was killed\n%s", p.stderr)
	}
	var exitErr *exec.ExitError
	if !errors.As(p.waitErr, &exitErr) || exitErr.ExitCode() <= 0 {
		t.Errorf("dev server exit after its engine died: %v, want a non-zero exit status", p.waitErr)
	}
	found := false
	for _, line := range logLines(t, p.stderr.String()) {
		if line["msg"] == "engine exited" {
			found = true
			if line["level"] != "ERROR" || line["engine"] != localengine.NameDynoxide || line["pid"] != float64(engine[0]) || line["exit"] != "signal: killed" {
				t.Errorf("engine exit logged as %v, want ERROR naming dynoxide, pid %d and signal: killed", line, engine[0])
			}
		}
	}
	if !found {
		t.Errorf("no \"engine exited\" log line:\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "devserver: dynoxide (pid "+strconv.Itoa(engine[0])+") exited") {
		t.Errorf("the dev server's exit error does not name its engine:\n%s", p.stderr)
	}
}

// TestMakeRunStopsOnSIGTERM runs `make run` in a session of its own, waits
// until it serves, and sends SIGTERM to make's process alone, as a process
// manager or an IDE stopping it does: the dev server and its engine must
// shut down gracefully and free the port.
func TestMakeRunStopsOnSIGTERM(t *testing.T) {
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Fatal("make is not on PATH; `make run` is what this test proves, and make test runs under make")
	}
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(makeCmd, "--no-print-directory", "run", "DEVSERVER="+filepath.Join(t.TempDir(), "devserver"))
	cmd.Dir = root
	cmd.Env = append(withoutMakeEnv(os.Environ()), "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+lifecycleSecret,
		"DYNAMODB_ENDPOINT=", "TABLE_NAME=makerun", "SWEEP_INTERVAL=0", "LOG_LEVEL=info")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	session := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Whatever is left of the session, by pid; the engine dies with its server.
		for _, pr := range listProcs() {
			if pr.sid == session && pr.state != "Z" {
				syscall.Kill(pr.pid, syscall.SIGKILL)
			}
		}
		<-exited
	})
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "Serving the identification admin API on "); ok {
				base <- strings.Fields(rest)[0]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-base:
	case <-exited:
		t.Fatalf("make run exited early\n%s", stderr)
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run did not serve within 3 minutes\n%s", stderr)
	}
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	var running []proc // the session but make itself: the server, the engine, maybe a shell
	engines := 0
	for _, pr := range listProcs() {
		if pr.sid == session && pr.pid != session {
			running = append(running, pr)
			if pr.comm == localengine.NameDynoxide {
				engines++
			}
		}
	}
	if engines != 1 {
		t.Fatalf("make run's session %d holds %d dynoxide processes, want 1: %+v", session, engines, running)
	}

	if err := syscall.Kill(session, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []proc
		for _, pr := range running {
			if alive(pr) {
				left = append(left, pr)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after SIGTERM to make, still running: %+v\n%s", left, stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("make still runs 10s after SIGTERM and after its children exited")
	}
	l, err := net.Listen("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Errorf("port still taken after make run stopped: %v", err)
	} else {
		l.Close()
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"engine stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the dev server did not log %s: it did not shut down gracefully\n%s", want, stderr)
		}
	}
}

// TestLogLevel runs the dev server with LOG_LEVEL=warn, which must log no
// request (nor any other info) line, and with LOG_LEVEL=debug, which must
// log the request line and debug lines too.
func TestLogLevel(t *testing.T) {
	for _, tc := range []struct {
		level        string
		wantLevels   map[string]bool // levels that must appear
		refuseLevels map[string]bool // levels that must not
	}{
		{"warn", nil, map[string]bool{"DEBUG": true, "INFO": true}},
		{"debug", map[string]bool{"DEBUG": true, "INFO": true}, nil},
	} {
		t.Run(tc.level, func(t *testing.T) {
			p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+lifecycleSecret,
				"DYNAMODB_ENDPOINT=", "TABLE_NAME=loglevel", "SWEEP_INTERVAL=0", "LOG_LEVEL="+tc.level)
			resp, err := http.Get(p.base + "/v1/orgs/acme/identifications/otp/0193a5d2-7c1e-7b3a-9f00-2b6f1c9d4e5a")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("GET without a token: %d, want 401", resp.StatusCode)
			}
			if !p.stop(20 * time.Second) {
				t.Fatalf("dev server did not stop within 20s of SIGTERM")
			}
			if p.waitErr != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", p.waitErr, p.stderr)
			}
			seen := map[string]bool{}
			requests := 0
			for _, line := range logLines(t, p.stderr.String()) {
				level, _ := line["level"].(string)
				seen[level] = true
				if tc.refuseLevels[level] {
					t.Errorf("LOG_LEVEL=%s logged a %s line: %v", tc.level, level, line)
				}
				if line["msg"] == "request" {
					requests++
				}
			}
			for level := range tc.wantLevels {
				if !seen[level] {
					t.Errorf("LOG_LEVEL=%s logged no %s line:\n%s", tc.level, level, p.stderr)
				}
			}
			if want := map[string]int{"warn": 0, "debug": 1}[tc.level]; requests != want {
				t.Errorf("LOG_LEVEL=%s logged %d request lines, want %d:\n%s", tc.level, requests, want, p.stderr)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, buildDevServer(t))
		cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DYNAMODB_ENDPOINT=", "LOG_LEVEL=loud")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "LOG_LEVEL") {
			t.Errorf("LOG_LEVEL=loud: %v, want an error naming LOG_LEVEL:\n%s", err, out)
		}
	})
}

// logLines decodes the dev server's JSON log lines, failing on any other
// line but the error it exits with.
func logLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if l == "" || strings.HasPrefix(l, "devserver: ") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// withoutMakeEnv drops the variables through which a make running the
// tests would reach the make the test runs.
func withoutMakeEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "DEVSERVER":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// proc is a process as /proc/<pid>/stat tells it.
type proc struct {
	pid, ppid, sid int
	state, comm    string
}

// listProcs returns the processes visible in /proc.
func listProcs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pr, ok := readProc(pid); ok {
			out = append(out, pr)
		}
	}
	return out
}

// readProc reads process pid; ok is false if it does not exist.
func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	// pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses.
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return proc{}, false
	}
	f := strings.Fields(string(b[close+1:]))
	if len(f) < 4 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	sid, _ := strconv.Atoi(f[3])
	return proc{pid: pid, ppid: ppid, sid: sid, state: f[0], comm: string(b[open+1 : close])}, true
}

// alive reports whether pr still runs: it exists, is no zombie, and is the
// same process (its session has not changed with a reused pid).
func alive(pr proc) bool {
	now, ok := readProc(pr.pid)
	return ok && now.state != "Z" && now.sid == pr.sid && now.comm == pr.comm
}

// TestHealthzReportsAnEvidenceBucketItCannotReach runs the dev server on an
// S3 engine (moto) the test owns, stops that engine, and expects /healthz
// to turn into a 503 naming the evidence bucket while the store still
// answers.
func TestHealthzReportsAnEvidenceBucketItCannotReach(t *testing.T) {
	moto, err := localengine.StartMoto()
	if err != nil {
		t.Fatal(err)
	}
	defer moto.Stop()
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir(), "DEV_JWT_SECRET="+lifecycleSecret,
		"DYNAMODB_ENDPOINT=", "S3_ENDPOINT="+moto.Endpoint, "TABLE_NAME=bucketdown", "SWEEP_INTERVAL=0")
	moto.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/healthz")
		if err != nil {
			t.Fatalf("healthz: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if !strings.Contains(string(body), "evidence bucket not answering") || strings.Contains(string(body), "store") {
				t.Errorf("healthz with the bucket down: %s, want a 503 naming the evidence bucket alone", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz still says %d %s 20s after the evidence bucket went away", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
