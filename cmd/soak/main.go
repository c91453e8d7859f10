// Command soak runs a mixed workload against a real dev server for a while
// and checks that nothing was lost or invented: it starts dynoxide (in
// memory, on loopback; DynamoDB Local with -engine dynamodb-local) and the
// dev server as child processes, drives every route from -concurrency
// workers for -duration (or until -requests),
// tracks per identification what the 2xx answers say its state must be,
// and at the end reads every one back and compares. It fails on any 5xx,
// transport error, two winners of one transition, a final state that
// differs from the expected one, or actor data in the server's logs.
//
//	go run ./cmd/soak -duration 60s -concurrency 32
//
// With -probe-engine it runs no workload: it measures the engine's own
// write rate, as its tables grow, with and without a stream and indexes
// (probe.go), to tell the engine's share of a soak's rate from the
// service's.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

func main() {
	duration := flag.Duration("duration", 60*time.Second, "how long the workload runs")
	concurrency := flag.Int("concurrency", 32, "concurrent clients")
	maxRequests := flag.Int64("requests", 5_000_000, "stop after this many workload requests, whichever comes first")
	timeout := flag.Duration("timeout", 10*time.Second, "per-request timeout")
	serverArgs := flag.String("devserver-args", "", "extra arguments for the dev server, split at spaces (e.g. \"-stream-interval 0\" to measure without the stream processor)")
	engineName := flag.String("engine", localengine.NameDynoxide, "the local engine the dev server runs on: dynoxide (in memory) or dynamodb-local")
	cpuProfile := flag.String("cpuprofile", "", "write the soak client's CPU profile of the workload to this file")
	probe := flag.Bool("probe-engine", false, "run no workload: measure the engine's write rate as its tables grow, with and without a stream and indexes")
	flag.Parse()
	if *engineName != localengine.NameDynoxide && *engineName != localengine.NameDynamoDBLocal {
		fmt.Fprintln(os.Stderr, "soak: -engine is dynoxide or dynamodb-local")
		os.Exit(2)
	}
	if *concurrency < 1 || *duration <= 0 || *maxRequests < 1 {
		fmt.Fprintln(os.Stderr, "soak: -concurrency, -duration and -requests must be positive")
		os.Exit(2)
	}
	if *probe {
		if err := runProbe(*engineName); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		return
	}
	ok, err := run(*engineName, *duration, *concurrency, *maxRequests, *timeout, *cpuProfile, strings.Fields(*serverArgs))
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func startEngine(ctx context.Context, root, engineName string) (*localengine.Engine, error) {
	start := localengine.StartDynoxide
	if engineName == localengine.NameDynamoDBLocal {
		start = localengine.StartDynamoDBLocal
	}
	return start(ctx, localengine.Options{Root: root})
}

func runProbe(engineName string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := localengine.RepoRoot()
	if err != nil {
		return err
	}
	if err := localengine.EnsureTools(root); err != nil {
		return err
	}
	engine, err := startEngine(ctx, root, engineName)
	if err != nil {
		return err
	}
	defer engine.Stop()
	return probeEngine(ctx, os.Stdout, engine)
}

func run(engineName string, duration time.Duration, concurrency int, maxRequests int64, timeout time.Duration, cpuProfile string, serverArgs []string) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := localengine.RepoRoot()
	if err != nil {
		return false, err
	}
	if err := localengine.EnsureTools(root); err != nil {
		return false, err
	}
	tmp, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)

	fmt.Println("soak: building the dev server")
	bin := filepath.Join(tmp, "devserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/devserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return false, fmt.Errorf("build dev server: %v\n%s", err, out)
	}
	engine, err := startEngine(ctx, root, engineName)
	if err != nil {
		return false, err
	}
	defer engine.Stop()
	secret := randomHex(32)
	server, err := startServer(ctx, bin, root, tmp, engine.Endpoint, secret, serverArgs)
	if err != nil {
		return false, err
	}
	defer server.stop()
	fmt.Printf("soak: dev server at %s on %s at %s\n", server.base, engine.Name, engine.Endpoint)

	v := &auth.Verifier{Secret: []byte(secret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	admin, err := v.Mint("soak", []string{soakOrg}, []string{auth.ScopeAdmin, auth.ScopeForceDelete}, 24*time.Hour)
	if err != nil {
		return false, err
	}
	other, err := v.Mint("soak-other", []string{"soak-other-org"}, []string{auth.ScopeAdmin, auth.ScopeForceDelete}, 24*time.Hour)
	if err != nil {
		return false, err
	}
	l := newLoad(server.base, admin, other, concurrency, timeout)
	fmt.Printf("soak: %d clients for %s (at most %d requests)\n", concurrency, duration, maxRequests)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return false, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return false, err
		}
		l.run(ctx, duration, maxRequests)
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return false, err
		}
	} else {
		l.run(ctx, duration, maxRequests)
	}
	fmt.Printf("soak: checking the final state of %d identifications\n", len(l.records.all()))
	l.verify(ctx)

	server.stop()
	leaks := server.piiLeaks(l.pii())
	ok := l.report(os.Stdout, leaks)
	return ok, nil
}

// server is the dev server child process.
type server struct {
	base     string
	cmd      *exec.Cmd
	exited   chan error
	log      string
	stopOnce sync.Once
}

func startServer(ctx context.Context, bin, root, tmp, endpoint, secret string, args []string) (*server, error) {
	logPath := filepath.Join(tmp, "devserver.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "DATA_DIR="+filepath.Join(tmp, "data"), "DEV_JWT_SECRET="+secret,
		"DYNAMODB_ENDPOINT="+endpoint, "TABLE_NAME=soak")
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan error, 1), log: logPath}
	go func() { s.exited <- cmd.Wait(); logFile.Close() }()
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
	select {
	case s.base = <-base:
	case err := <-s.exited:
		s.stopOnce.Do(func() {})
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("dev server exited: %v\n%s", err, b)
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, errors.New("dev server did not start within 60s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	resp, err := http.Get(s.base + "/healthz")
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("healthz: %w", err)
	}
	resp.Body.Close()
	return s, nil
}

// stop ends the server with SIGTERM (SIGKILL after 15 s) and waits for it;
// calling it again does nothing.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// piiLeaks returns the values found in the server's log.
func (s *server) piiLeaks(values []string) []string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return []string{"cannot read the server log: " + err.Error()}
	}
	var found []string
	for _, v := range values {
		if strings.Contains(string(b), v) {
			found = append(found, v)
		}
	}
	return found
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
