package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
)

// TestSecondDevServerSaysOneIsRunning starts a dev server, then a second
// one on the same data directory and address, as a second `make run` in the
// same checkout does: the second must say at once that the first runs,
// with its pid and address, and start nothing; the first keeps serving
// with its files untouched; and `make sweep` (cmd/sweep) then runs its pass
// on the first one's engine instead of starting another on the same file.
func TestSecondDevServerSaysOneIsRunning(t *testing.T) {
	data := t.TempDir()
	env := []string{"DATA_DIR=" + data, "DEV_JWT_SECRET=" + lifecycleSecret, "DYNAMODB_ENDPOINT=", "S3_ENDPOINT=",
		"TABLE_NAME=exclusive", "SWEEP_INTERVAL=0"}
	first := startDevServer(t, append([]string{"ADDR=127.0.0.1:0"}, env...)...)
	files := map[string]string{}
	stamps := map[string]time.Time{}
	for _, name := range []string{app.EngineEndpointFile, localengine.DataLockFile} {
		path := filepath.Join(data, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(path)
		files[name], stamps[name] = string(b), info.ModTime()
	}
	engines := func() []proc {
		var out []proc
		for _, pr := range listProcs() {
			if pr.comm == localengine.NameDynoxide && pr.state != "Z" && pr.sid == first.cmd.Process.Pid {
				out = append(out, pr)
			}
		}
		return out
	}
	if n := len(engines()); n != 1 {
		t.Fatalf("the first dev server runs %d engines, want 1", n)
	}

	second := exec.Command(buildDevServer(t))
	second.Env = append(os.Environ(), append([]string{"ADDR=" + strings.TrimPrefix(first.base, "http://")}, env...)...)
	second.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	started := time.Now()
	out, err := second.CombinedOutput()
	took := time.Since(started)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() <= 0 {
		t.Fatalf("the second dev server: %v, want a non-zero exit\n%s", err, out)
	}
	msg := string(out)
	if !strings.Contains(msg, "already running") || !strings.Contains(msg, "pid "+strconv.Itoa(first.cmd.Process.Pid)) || !strings.Contains(msg, first.base) {
		t.Errorf("the second dev server does not say that the first (pid %d, %s) runs:\n%s", first.cmd.Process.Pid, first.base, msg)
	}
	if took > 3*time.Second {
		t.Errorf("the second dev server took %s to say so, want at once", took)
	}
	for _, started := range []string{"dynoxide started", "moto", "table ready", "Serving"} {
		if strings.Contains(msg, started) {
			t.Errorf("the second dev server got as far as %q:\n%s", started, msg)
		}
	}
	for _, pr := range listProcs() {
		if pr.sid == second.Process.Pid && alive(pr) {
			t.Errorf("the second dev server left %+v running", pr)
		}
	}

	// `make sweep` while the first runs: its engine, not a second one.
	root, err := localengine.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	sweep := exec.Command("go", "run", "./cmd/sweep")
	sweep.Dir = root
	sweep.Env = append(os.Environ(), env...)
	sweepOut, err := sweep.CombinedOutput()
	if err != nil || !strings.Contains(string(sweepOut), "expired=0") || !strings.Contains(string(sweepOut), strings.TrimSpace(files[app.EngineEndpointFile])) {
		t.Errorf("make sweep while a dev server runs: %v, want a pass on its engine (%s)\n%s", err, strings.TrimSpace(files[app.EngineEndpointFile]), sweepOut)
	}

	// The first one still serves, on its one engine, its files as they were.
	resp, err := http.Get(first.base + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the first dev server after the second start and the sweep: %v %v", resp, err)
	}
	resp.Body.Close()
	if n := len(engines()); n != 1 {
		t.Errorf("the first dev server's session runs %d engines, want 1", n)
	}
	for name, want := range files {
		path := filepath.Join(data, name)
		b, err := os.ReadFile(path)
		info, _ := os.Stat(path)
		if err != nil || string(b) != want || !info.ModTime().Equal(stamps[name]) {
			t.Errorf("%s changed under the running dev server: %q (%v), was %q", name, b, err, want)
		}
	}
	select {
	case <-first.exited:
		t.Fatalf("the first dev server exited: %v\n%s", first.waitErr, first.stderr)
	default:
	}
}

// TestDevServerStopsBothEnginesOnEveryExit ends the dev server in each way
// it can end after it started its engines, and expects nothing of what it
// started to be left running (nor answering on its port), its endpoint
// file removed and its lock released: a start-up failure after moto
// started, Ctrl-C in a terminal (SIGINT to its whole process group, moto's
// included), SIGTERM and SIGHUP (the terminal closed).
func TestDevServerStopsBothEnginesOnEveryExit(t *testing.T) {
	env := func(data string) []string {
		return []string{"ADDR=127.0.0.1:0", "DATA_DIR=" + data, "DEV_JWT_SECRET=" + lifecycleSecret, "DYNAMODB_ENDPOINT=", "S3_ENDPOINT=",
			"TABLE_NAME=exits", "SWEEP_INTERVAL=0"}
	}
	// checkGone checks that nothing of the session sid is left, that the
	// endpoints it logged refuse connections, and that data is released.
	checkGone := func(t *testing.T, sid int, stderr, data string) {
		t.Helper()
		var endpoints []string
		for _, line := range logLines(t, stderr) {
			if e, ok := line["endpoint"].(string); ok && strings.Contains(line["msg"].(string), "started") {
				endpoints = append(endpoints, e)
			}
		}
		if len(endpoints) != 2 {
			t.Errorf("the dev server logged the start of %d engines (%v), want dynoxide and moto\n%s", len(endpoints), endpoints, stderr)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			var left []proc
			for _, pr := range listProcs() {
				if pr.sid == sid && alive(pr) {
					left = append(left, pr)
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("15 s after the dev server exited, still running: %+v\n%s", left, stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, e := range endpoints {
			if c, err := net.DialTimeout("tcp", strings.TrimPrefix(e, "http://"), time.Second); err == nil {
				c.Close()
				t.Errorf("%s still answers after the dev server exited", e)
			}
		}
		if _, err := os.Stat(filepath.Join(data, app.EngineEndpointFile)); err == nil {
			t.Errorf("%s left behind", app.EngineEndpointFile)
		}
		l, err := localengine.LockData(data, "the test")
		if err != nil {
			t.Errorf("the data directory is still locked: %v", err)
		} else {
			l.Release()
		}
	}

	t.Run("start-up failure after moto started", func(t *testing.T) {
		data := t.TempDir()
		cmd := exec.Command(buildDevServer(t))
		cmd.Env = append(os.Environ(), append(env(data), "EVIDENCE_BUCKET=Not_A_Bucket_Name")...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		stderr := &lockedBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Run(); err == nil {
			t.Fatalf("the dev server started with an invalid bucket name\n%s", stderr)
		}
		checkGone(t, cmd.Process.Pid, stderr.String(), data)
	})
	for _, tc := range []struct {
		name  string
		group bool
		sig   syscall.Signal
	}{
		{"Ctrl-C", true, syscall.SIGINT},
		{"SIGTERM", false, syscall.SIGTERM},
		{"SIGHUP", false, syscall.SIGHUP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			p := startDevServer(t, env(data)...)
			pid := p.cmd.Process.Pid
			if tc.group {
				pid = -pid
			}
			if err := syscall.Kill(pid, tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				t.Fatalf("the dev server still runs 30 s after %s\n%s", tc.sig, p.stderr)
			}
			checkGone(t, p.cmd.Process.Pid, p.stderr.String(), data)
			for _, want := range []string{`"msg":"s3 engine stopped"`, `"msg":"engine stopped"`} {
				if !strings.Contains(p.stderr.String(), want) {
					t.Errorf("after %s the dev server did not log %s\n%s", tc.sig, want, p.stderr)
				}
			}
		})
	}
}
