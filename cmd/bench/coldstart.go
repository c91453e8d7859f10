package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/idadmin/api/internal/benchbaseline"
	"github.com/idadmin/api/shared/httpapi"
)

// startTimeout bounds one cold start.
const startTimeout = 10 * time.Second

// helloEvent is what hello is invoked with.
const helloEvent = `{"name":"bench"}`

// scheduledEvent invokes a function without a sample event (the expiry
// sweep): an EventBridge scheduled event.
const scheduledEvent = `{"version":"0","id":"00000000-0000-0000-0000-000000000000","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-11-21T10:00:00Z","region":"us-east-1","resources":[],"detail":{}}`

// coldStart is what one binary needs to be started and invoked.
type coldStart struct {
	name string // the function, hello, or baselinePrefix+route
	path string
	// event is the event of the next start: the sample, or the sample
	// acting on a fresh process.
	event func() []byte
	env   []string // added to startEnv
}

// baselinePrefix names a route's baseline among the cold starts.
const baselinePrefix = "baseline:"

// constant is an event that is the same for every start.
func constant(ev []byte) func() []byte { return func() []byte { return ev } }

// fromPool is the route's event on each fresh process of ids in turn.
func fromPool(rs *routeSetup, ids []string) func() []byte {
	next := 0
	return func() []byte {
		id := ids[next%len(ids)]
		next++
		return rs.eventFor(id)
	}
}

// coldStarts records binary_size_ratio.<function> and cold_start_ratio.<function>
// (against hello), binary_size_vs_baseline.<route> and
// cold_start_vs_baseline.<route> (against the route's baseline): each
// binary is started o.starts times, interleaved (the order rotates every
// round), each start timed from just before the process is started to
// the arrival of its first invocation's response at the Runtime API this
// command serves. Every start is a new process with a new Runtime API and
// acts on a fresh process of its own; the functions reach dynoxide. One
// uncounted start of each comes first, so the binaries are in the page
// cache.
func coldStarts(ctx context.Context, env *engineEnv, bins binaries, setups []*routeSetup, o options, res *results) error {
	hello, err := os.Stat(bins.lambdas[helloName])
	if err != nil {
		return err
	}
	res.set("binary_bytes."+helloName, float64(hello.Size()))
	for _, fn := range bins.functions {
		info, err := os.Stat(bins.lambdas[fn])
		if err != nil {
			return err
		}
		res.set("binary_bytes."+fn, float64(info.Size()))
		res.set("binary_size_ratio."+fn, float64(info.Size())/float64(hello.Size()))
		res.note("binary_size_ratio."+fn, fmt.Sprintf("%.1f MiB vs hello %.1f MiB (linux/%s, make lambdas flags)",
			float64(info.Size())/(1<<20), float64(hello.Size())/(1<<20), hostArch()))
	}
	for _, rs := range setups {
		fn, base := bins.lambdas[rs.rt.Name], bins.baselines[rs.rt.Name]
		fi, err1 := os.Stat(fn)
		bi, err2 := os.Stat(base)
		if err1 != nil || err2 != nil {
			continue
		}
		key := "binary_size_vs_baseline." + rs.rt.Name
		res.set("binary_bytes."+baselinePrefix+rs.rt.Name, float64(bi.Size()))
		res.set(key, float64(fi.Size())/float64(bi.Size()))
		res.note(key, fmt.Sprintf("%.2f MiB vs %.2f MiB for %s (%s)", float64(fi.Size())/(1<<20), float64(bi.Size())/(1<<20),
			filepath.Base(base), rs.opSet()))
	}

	table, drop, err := env.newTable(ctx, "cold")
	if err != nil {
		return err
	}
	defer drop()
	starts := []coldStart{{name: helloName, path: bins.lambdas[helloName], event: constant([]byte(helloEvent))}}
	byRoute := map[string]*routeSetup{}
	for _, rs := range setups {
		byRoute[rs.rt.Name] = rs
	}
	for _, fn := range bins.functions {
		cs := coldStart{name: fn, path: bins.lambdas[fn], event: constant([]byte(scheduledEvent))}
		if raw, err := os.ReadFile(filepath.Join(env.root, "events", fn+".json")); err == nil {
			cs.event = constant(raw)
		}
		rs, ok := byRoute[fn]
		if !ok {
			starts = append(starts, cs)
			continue
		}
		p, err := rs.newPools(ctx, env, table, o.starts+1)
		if err != nil {
			return fmt.Errorf("%s: %w", fn, err)
		}
		cs.event = fromPool(rs, p.fn)
		starts = append(starts, cs)
		if base, ok := bins.baselines[fn]; ok {
			benv, err := baselineEnv(rs, table)
			if err != nil {
				return err
			}
			starts = append(starts, coldStart{name: baselinePrefix + fn, path: base, event: fromPool(rs, p.base), env: benv})
		}
	}

	times := map[string][]float64{}
	inits := map[string][]float64{}
	failures := map[string]string{}
	failed := map[string]int{}
	for round := -1; round < o.starts; round++ {
		for k := range starts {
			cs := starts[(k+max(round, 0))%len(starts)]
			if failed[cs.name] >= 2 && len(times[cs.name]) == 0 {
				continue // it never started: not worth o.starts more tries
			}
			d, err := startOnce(ctx, env, table, cs)
			if err != nil {
				failures[cs.name] = err.Error()
				failed[cs.name]++
				continue
			}
			if round >= 0 {
				times[cs.name] = append(times[cs.name], float64(d.total))
				inits[cs.name] = append(inits[cs.name], float64(d.init))
			}
		}
	}
	base := median(times[helloName])
	baseInit := median(inits[helloName])
	res.set("cold_start_ms."+helloName, base/float64(time.Millisecond))
	res.set("cold_init_ms."+helloName, baseInit/float64(time.Millisecond))
	if len(times[helloName]) == 0 {
		return fmt.Errorf("hello never answered: %s", failures[helloName])
	}
	describe := func(name string) string {
		m, mi := median(times[name]), median(inits[name])
		note := fmt.Sprintf("%.1f ms (init %.1f + first invocation %.1f)", m/1e6, mi/1e6, (m-mi)/1e6)
		if f, ok := failures[name]; ok {
			note += fmt.Sprintf("; %d starts failed, the last: %s", failed[name], f)
		}
		return note
	}
	for _, fn := range bins.functions {
		key := "cold_start_ratio." + fn
		m, mi := median(times[fn]), median(inits[fn])
		res.set("cold_start_ms."+fn, m/float64(time.Millisecond))
		res.set("cold_init_ms."+fn, mi/float64(time.Millisecond))
		res.set(key, m/base)
		res.note(key, fmt.Sprintf("median %s vs hello %.1f ms (%.1f + %.1f), %d starts",
			describe(fn), base/1e6, baseInit/1e6, (base-baseInit)/1e6, len(times[fn])))
		b := baselinePrefix + fn
		if _, ok := byRoute[fn]; !ok || len(times[b]) == 0 && failures[b] == "" {
			continue
		}
		bm, bmi := median(times[b]), median(inits[b])
		res.set("cold_start_ms."+b, bm/float64(time.Millisecond))
		res.set("cold_init_ms."+b, bmi/float64(time.Millisecond))
		vkey := "cold_start_vs_baseline." + fn
		res.set(vkey, m/bm)
		res.note(vkey, fmt.Sprintf("median %s vs baseline %s, %d starts each", describe(fn), describe(b), len(times[fn])))
	}
	return nil
}

// baselineEnv is the environment of rs's baseline: its plan on table, and
// the code key secret where the route's function reads it.
func baselineEnv(rs *routeSetup, table string) ([]string, error) {
	plan := rs.plan
	plan.Calls = nil
	for _, c := range rs.plan.Calls {
		// The table is named by TableName, and by the key of a
		// BatchGetItem's RequestItems.
		body := strings.ReplaceAll(string(c.Body), `"TableName":"`+rs.table+`"`, `"TableName":"`+table+`"`)
		c.Body = []byte(strings.ReplaceAll(body, `"RequestItems":{"`+rs.table+`":`, `"RequestItems":{"`+table+`":`))
		plan.Calls = append(plan.Calls, c)
	}
	raw, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	env := []string{benchbaseline.PlanEnv + "=" + string(raw)}
	if slices.Contains(rs.rt.Needs, httpapi.NeedCodeKeys) {
		env = append(env, "CODE_KEY_SECRET_ARN="+benchSecretARN)
	}
	return env, nil
}

// startEnv is the environment of every started binary: Lambda's, the
// table and engine, the code key secret's stub (the functions whose route
// issues or checks codes read it; the others ignore it), and a proxy on a
// closed loopback port, so that a call to anything but loopback (SNS,
// EventBridge from the stream function) fails at once on this machine.
func startEnv(env *engineEnv, name, apiAddr, table string) []string {
	return []string{
		"PATH=/usr/bin:/bin",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"AWS_LAMBDA_RUNTIME_API=" + apiAddr,
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"_HANDLER=bootstrap",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH0",
		"AWS_SECRET_ACCESS_KEY=bench/bench/bench/bench/bench/bench/bench0",
		"AWS_SESSION_TOKEN=bench",
		"TABLE_NAME=" + table,
		"DYNAMODB_ENDPOINT=" + env.endpoint,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + env.secrets,
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}
}

// sandbox is one started binary with its Runtime API.
type sandbox struct {
	api    *runtimeAPI
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	start  time.Time
	exited chan struct{} // closed when the process has exited
}

// bound is ctx ended also when the process exits: a binary that dies
// without telling the Runtime API (an init failure it only prints) fails
// at once, not at the timeout.
func (sb *sandbox) bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errors.New("no answer within "+timeout.String()))
	go func() {
		select {
		case <-sb.exited:
			// Let an answer posted just before the exit be read first.
			time.Sleep(20 * time.Millisecond)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// startSandbox starts the binary of cs with a fresh Runtime API whose first
// invocation is event.
func startSandbox(env *engineEnv, table string, cs coldStart, event []byte) (*sandbox, error) {
	api, err := startRuntimeAPI(fmt.Sprintf("bench-%d", time.Now().UnixNano()), event)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(cs.name, baselinePrefix)
	cmd := exec.Command(cs.path)
	cmd.Dir = filepath.Dir(cs.path)
	cmd.Env = append(startEnv(env, name, api.Addr, table), cs.env...)
	if !strings.HasPrefix(cs.name, baselinePrefix) {
		// Only the functions whose route needs codes read it.
		cmd.Env = append(cmd.Env, "CODE_KEY_SECRET_ARN="+benchSecretARN)
	}
	sb := &sandbox{api: api, cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = sb.stderr // stdout (the function's log lines) goes to /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sb.start = time.Now()
	if err := cmd.Start(); err != nil {
		api.Close()
		return nil, fmt.Errorf("start %s: %w", cs.name, err)
	}
	go func() {
		cmd.Wait()
		close(sb.exited)
	}()
	return sb, nil
}

// stop kills the process and closes its Runtime API.
func (sb *sandbox) stop() {
	sb.cmd.Process.Kill()
	<-sb.exited
	sb.api.Close()
}

// startOnce starts the binary with a fresh Runtime API and times its first
// response. A response that is not a success fails the start.
func startOnce(ctx context.Context, env *engineEnv, table string, cs coldStart) (startTimes, error) {
	sb, err := startSandbox(env, table, cs, cs.event())
	if err != nil {
		return startTimes{}, err
	}
	wctx, cancel := sb.bound(ctx, startTimeout)
	defer cancel()
	next, at, resp, err := sb.api.Wait(wctx)
	sb.stop()
	if err != nil {
		if ctx.Err() == nil {
			err = exitCause(sb, wctx, err)
		}
		return startTimes{}, fmt.Errorf("%s: %w; stderr: %s", cs.name, err, strings.TrimSpace(sb.stderr.String()))
	}
	if err := checkAnswer(cs.name, resp); err != nil {
		return startTimes{}, err
	}
	return startTimes{total: at.Sub(sb.start), init: next.Sub(sb.start)}, nil
}

// checkAnswer fails an API Gateway answer that is not a success (hello's
// and the other functions' answers are not checked).
func checkAnswer(name string, resp []byte) error {
	if name == helloName {
		return nil
	}
	var r events.APIGatewayV2HTTPResponse
	if json.Unmarshal(resp, &r) == nil && r.StatusCode >= 300 {
		return fmt.Errorf("%s answered %d: %s", name, r.StatusCode, r.Body)
	}
	return nil
}

// startTimes split a cold start: from the process start to its first
// request for an invocation (init), and to its response (total).
type startTimes struct{ total, init time.Duration }

// exitCause says why a wait on sb ended without an answer.
func exitCause(sb *sandbox, wctx context.Context, err error) error {
	select {
	case <-sb.exited:
		return fmt.Errorf("exited without answering (%s)", sb.cmd.ProcessState)
	default:
	}
	if c := context.Cause(wctx); c != nil {
		return c
	}
	return err
}
