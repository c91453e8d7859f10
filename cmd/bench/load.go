package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

// concurrencies are the client concurrencies of the api/raw comparison.
var concurrencies = []int{1, 8, 32}

// createBody is the documented create-otp example (docs/api.md).
const createBody = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":"true"}}`

// cancelBody is the body of every API cancel.
const cancelBody = `{"reason":"bench"}`

// loadOp is one operation measured both ways: through the API (the dev
// server) and as the raw SDK call the store makes for it. An op with pooled
// set acts on a fresh process per call (a cancel can only succeed once).
type loadOp struct {
	name   string
	pooled bool
	api    func(ctx context.Context, id string) error
	raw    func(ctx context.Context, id string) error
}

// point is one measurement: one op, one side, one concurrency.
type point struct {
	rps      float64
	p50, p99 time.Duration
	ok, errs int
	firstErr string
	drained  bool // the pool of processes ran out before the time was up
	// cpu is the CPU time per successful call, in microseconds, of this
	// process (the client), the dev server and the engine.
	cpu [3]float64
}

// The processes whose CPU time a point accounts for.
var procNames = [3]string{"client", "server", "engine"}

// series are the medians over the rounds, for the table and the chart.
type series struct {
	op, side string
	c        []int
	rps      []float64
	p50, p99 []float64 // milliseconds
}

// apiVsRaw records api_vs_raw.<op>.c<N> (the median over the rounds of the
// ratio of the API's requests per second to the raw call's, both measured
// back to back in the same round, in alternating order) and the medians of
// each side's rate and p50/p99 latency.
func apiVsRaw(ctx context.Context, env *engineEnv, bins binaries, dir string, o options, res *results) error {
	table, drop, err := env.newTable(ctx, "api")
	if err != nil {
		return err
	}
	defer drop()
	// The dev server's stream processor reads the stream once, at start,
	// and then not for the rest of the phase: in AWS the stream function
	// runs beside the API, not on its CPU, and delivery_ms and
	// stream_vs_raw measure it. Left on, it would work through the
	// records of every write measured here, on the same two cores.
	srv, err := startDevServer(ctx, env, bins.devserver, table, dir, "-stream-interval", "1h")
	if err != nil {
		return err
	}
	defer srv.stop()

	hc := &http.Client{
		Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true},
		Timeout:   30 * time.Second,
	}
	call := func(ctx context.Context, method, path, body string, want int) error {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, srv.base+path, r)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+srv.token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, msg)
		}
		return nil
	}

	// The template: one process created through the API and read back raw,
	// so the raw calls write and read exactly what the product does.
	const otpPath = "/v1/orgs/acme/identifications/otp"
	var created struct{ ID string }
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+otpPath, strings.NewReader(createBody))
	req.Header.Set("Authorization", "Bearer "+srv.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create the template process: %d %v", resp.StatusCode, err)
	}
	tmpl, err := env.readRaw(ctx, table, created.ID)
	if err != nil {
		return err
	}
	putCond, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name(tmpl.keyAttr))).Build()
	if err != nil {
		return err
	}
	cancel, err := cancelExpr(time.Now())
	if err != nil {
		return err
	}
	tableName := aws.String(table)

	ops := []loadOp{
		{
			name: "create",
			api: func(ctx context.Context, _ string) error {
				return call(ctx, http.MethodPost, otpPath, createBody, http.StatusCreated)
			},
			raw: func(ctx context.Context, _ string) error {
				_, err := env.client.PutItem(ctx, &dynamodb.PutItemInput{
					TableName: tableName, Item: tmpl.withID(uuid.Must(uuid.NewV7()).String()),
					ConditionExpression: putCond.Condition(), ExpressionAttributeNames: putCond.Names(),
				})
				return err
			},
		},
		{
			name: "get",
			api: func(ctx context.Context, _ string) error {
				return call(ctx, http.MethodGet, otpPath+"/"+created.ID, "", http.StatusOK)
			},
			raw: func(ctx context.Context, _ string) error {
				_, err := env.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: tableName, Key: tmpl.key(created.ID), ConsistentRead: aws.Bool(true)})
				return err
			},
		},
		{
			name: "cancel", pooled: true,
			api: func(ctx context.Context, id string) error {
				return call(ctx, http.MethodPost, otpPath+"/"+id+"/cancel", cancelBody, http.StatusNoContent)
			},
			raw: func(ctx context.Context, id string) error {
				_, err := env.client.UpdateItem(ctx, update(table, tmpl.key(id), cancel))
				return err
			},
		},
	}

	pool := func(n int) ([]string, error) { return env.seedRaw(ctx, tmpl, n) }
	measure := func(op loadOp, side string, c int, d time.Duration, poolSize int) (point, error) {
		var ids []string
		if op.pooled {
			var err error
			if ids, err = pool(poolSize); err != nil {
				return point{}, err
			}
		}
		fn := op.raw
		if side == "api" {
			fn = op.api
		}
		pids := [3]int{os.Getpid(), srv.cmd.Process.Pid, env.pid}
		var before [3]time.Duration
		for i, pid := range pids {
			before[i] = cpuTime(pid)
		}
		p := runPoint(ctx, c, d, ids, fn)
		for i, pid := range pids {
			if p.ok > 0 {
				p.cpu[i] = float64(cpuTime(pid)-before[i]) / float64(time.Microsecond) / float64(p.ok)
			}
		}
		return p, nil
	}

	step("  warming up both sides")
	for _, op := range ops {
		for _, side := range []string{"raw", "api"} {
			if _, err := measure(op, side, 8, 300*time.Millisecond, 2000); err != nil {
				return err
			}
		}
	}

	type key struct {
		op, side string
		c        int
	}
	points := map[key][]point{}
	ratios := map[key][]float64{}
	for round := range o.rounds {
		for _, op := range ops {
			for ci, c := range concurrencies {
				sides := []string{"raw", "api"}
				if (round+ci)%2 == 1 {
					sides = []string{"api", "raw"}
				}
				// A pooled op needs a process per call: enough for the
				// fastest write rate seen at this concurrency, with room
				// to spare.
				poolSize := 0
				if op.pooled {
					fastest := 500.0
					for k, ps := range points {
						if k.c == c && k.op == "create" {
							for _, p := range ps {
								fastest = max(fastest, p.rps)
							}
						}
					}
					poolSize = int(fastest*o.point.Seconds()*1.5) + 200
				}
				got := map[string]point{}
				for _, side := range sides {
					p, err := measure(op, side, c, o.point, poolSize)
					if err != nil {
						return err
					}
					if p.ok == 0 {
						return fmt.Errorf("%s %s c=%d: every call failed: %s", side, op.name, c, p.firstErr)
					}
					got[side] = p
					points[key{op.name, side, c}] = append(points[key{op.name, side, c}], p)
				}
				ratios[key{op.name, "", c}] = append(ratios[key{op.name, "", c}], got["api"].rps/got["raw"].rps)
				step("  round %d %-6s c=%-2d api %6.0f/s p50 %5.2f ms p99 %6.2f ms | raw %6.0f/s p50 %5.2f ms p99 %6.2f ms | ratio %.2f",
					round+1, op.name, c, got["api"].rps, ms(got["api"].p50), ms(got["api"].p99),
					got["raw"].rps, ms(got["raw"].p50), ms(got["raw"].p99), got["api"].rps/got["raw"].rps)
			}
		}
	}

	var all []series
	for _, op := range ops {
		for _, side := range []string{"api", "raw"} {
			s := series{op: op.name, side: side}
			for _, c := range concurrencies {
				ps := points[key{op.name, side, c}]
				var rps, p50, p99 []float64
				var cpu [3][]float64
				errs, drained, firstErr := 0, 0, ""
				for _, p := range ps {
					for i := range cpu {
						cpu[i] = append(cpu[i], p.cpu[i])
					}
					rps = append(rps, p.rps)
					p50 = append(p50, ms(p.p50))
					p99 = append(p99, ms(p.p99))
					errs += p.errs
					if p.drained {
						drained++
					}
					if firstErr == "" {
						firstErr = p.firstErr
					}
				}
				suffix := fmt.Sprintf("%s.c%d", op.name, c)
				res.set(side+"_rps."+suffix, median(rps))
				res.set(side+"_p50_ms."+suffix, median(p50))
				res.set(side+"_p99_ms."+suffix, median(p99))
				res.set(side+"_errors."+suffix, float64(errs))
				for i, name := range procNames {
					if side == "raw" && name == "server" {
						continue
					}
					res.set("cpu_us_per_req."+side+"."+suffix+"."+name, median(cpu[i]))
				}
				if errs > 0 || drained > 0 {
					res.note("api_vs_raw."+suffix, fmt.Sprintf("%s: %d failed calls (%s), %d points ran out of processes", side, errs, firstErr, drained))
				}
				s.c = append(s.c, c)
				s.rps = append(s.rps, median(rps))
				s.p50 = append(s.p50, median(p50))
				s.p99 = append(s.p99, median(p99))
			}
			all = append(all, s)
		}
		for _, c := range concurrencies {
			res.set(fmt.Sprintf("api_vs_raw.%s.c%d", op.name, c), median(ratios[key{op.name, "", c}]))
		}
	}
	return writeChart(filepath.Join(dir, "throughput.svg"), all)
}

// runPoint calls fn from c goroutines until d has passed (or, when ids is
// not nil, until every id has been used once) and returns the rate of
// successful calls and their latencies.
func runPoint(ctx context.Context, c int, d time.Duration, ids []string, fn func(context.Context, string) error) point {
	var next atomic.Int64
	var drained atomic.Bool
	lat := make([][]time.Duration, c)
	errs := make([]int, c)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range c {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				id := ""
				if ids != nil {
					i := int(next.Add(1)) - 1
					if i >= len(ids) {
						drained.Store(true)
						return
					}
					id = ids[i]
				}
				t := time.Now()
				err := fn(ctx, id)
				el := time.Since(t)
				if err != nil {
					errs[w]++
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[w] = append(lat[w], el)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	p := point{drained: drained.Load()}
	for w := range c {
		all = append(all, lat[w]...)
		p.errs += errs[w]
	}
	slices.Sort(all)
	p.ok = len(all)
	p.rps = float64(len(all)) / elapsed.Seconds()
	p.p50, p.p99 = percentile(all, 50), percentile(all, 99)
	if s, ok := firstErr.Load().(string); ok {
		p.firstErr = s
	}
	return p
}

// devServer is a running cmd/devserver process.
type devServer struct {
	cmd      *exec.Cmd
	base     string
	token    string
	log      *os.File
	verifier *auth.Verifier
}

// mint is a token of the dev server's issuer for organisation acme with
// scopes.
func (s *devServer) mint(scopes ...string) (string, error) {
	return s.verifier.Mint("bench", []string{"acme"}, scopes, 2*time.Hour)
}

// startDevServer starts the built dev server on a free loopback port,
// against the run's engine and table, with its own JWT secret and the
// sweep off, logging to dir/devserver.log; it returns once /healthz answers.
func startDevServer(ctx context.Context, env *engineEnv, bin, table, dir string, args ...string) (*devServer, error) {
	return startDevServerNamed(ctx, env, bin, table, dir, "devserver", args...)
}

// startDevServerNamed is startDevServer logging to dir/<name>.log, with its
// data in dir/<name>.
func startDevServerNamed(ctx context.Context, env *engineEnv, bin, table, dir, name string, args ...string) (*devServer, error) {
	return startDevServerEnv(ctx, env, bin, table, dir, name, nil, args...)
}

// startDevServerEnv is startDevServerNamed with extraEnv added to the dev
// server's environment.
func startDevServerEnv(ctx context.Context, env *engineEnv, bin, table, dir, name string, extraEnv []string, args ...string) (*devServer, error) {
	var raw [32]byte
	rand.Read(raw[:])
	secret := hex.EncodeToString(raw[:])
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = env.root
	cmd.Env = append(os.Environ(),
		"ADDR=127.0.0.1:0",
		"DYNAMODB_ENDPOINT="+env.endpoint,
		"TABLE_NAME="+table,
		"DEV_JWT_SECRET="+secret,
		"DATA_DIR="+filepath.Join(dir, name),
		"SWEEP_INTERVAL=0",
		"LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start dev server: %w", err)
	}
	s := &devServer{cmd: cmd, log: logFile}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "Serving the identification admin API on "); ok {
				base, _, _ := strings.Cut(rest, " ")
				found <- base
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s.base = <-found:
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("dev server did not say where it listens within 30s; see %s", logFile.Name())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	s.verifier = &auth.Verifier{Secret: []byte(secret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	if s.token, err = s.mint(auth.ScopeAdmin); err != nil {
		s.stop()
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("dev server at %s not healthy: %v", s.base, err)
		}
	}
}

// stop ends the dev server gracefully, or kills it after 10 seconds.
func (s *devServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	s.log.Close()
}
