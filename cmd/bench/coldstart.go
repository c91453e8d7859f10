package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
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
	name  string
	path  string
	event []byte
	ref   *identification.Ref // the process the event acts on, reset before each start
}

// coldStarts records binary_size_ratio.<function> and cold_start_ratio.<function>:
// each function and hello are started o.starts times, interleaved (the
// order rotates every round), each start timed from just before the
// process is started to the arrival of its first invocation's response at
// the Runtime API this command serves. Every start is a new process with a
// new Runtime API; the functions reach dynoxide. One uncounted start of
// each comes first, so the binaries are in the page cache.
func coldStarts(ctx context.Context, env *engineEnv, bins binaries, o options, res *results) error {
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

	table, drop, err := env.newTable(ctx, "cold")
	if err != nil {
		return err
	}
	defer drop()
	store := env.store(table)
	routes := map[string]httpapi.Route{}
	for _, rt := range httpapi.Routes() {
		routes[rt.Name] = rt
	}
	starts := []coldStart{{name: helloName, path: bins.lambdas[helloName], event: []byte(helloEvent)}}
	for _, fn := range bins.functions {
		cs := coldStart{name: fn, path: bins.lambdas[fn], event: []byte(scheduledEvent)}
		if raw, err := os.ReadFile(filepath.Join(env.root, "events", fn+".json")); err == nil {
			cs.event = raw
			if rt, ok := routes[fn]; ok {
				var ev events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(raw, &ev); err != nil {
					return fmt.Errorf("events/%s.json: %w", fn, err)
				}
				if ref, ok := eventRef(rt, ev); ok {
					cs.ref = &ref
				}
			}
		}
		starts = append(starts, cs)
	}

	times := map[string][]float64{}
	inits := map[string][]float64{}
	failures := map[string]string{}
	failed := map[string]int{}
	for round := -1; round < o.starts; round++ {
		for k := range starts {
			cs := starts[(k+max(round, 0))%len(starts)]
			d, err := startOnce(ctx, env, table, store, cs)
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
	for _, fn := range bins.functions {
		key := "cold_start_ratio." + fn
		m, mi := median(times[fn]), median(inits[fn])
		res.set("cold_start_ms."+fn, m/float64(time.Millisecond))
		res.set("cold_init_ms."+fn, mi/float64(time.Millisecond))
		res.set(key, m/base)
		note := fmt.Sprintf("median %.1f ms (init %.1f + first invocation %.1f) vs hello %.1f ms (%.1f + %.1f), %d starts",
			m/1e6, mi/1e6, (m-mi)/1e6, base/1e6, baseInit/1e6, (base-baseInit)/1e6, len(times[fn]))
		if f, ok := failures[fn]; ok {
			note += fmt.Sprintf("; %d starts failed, the last: %s", failed[fn], f)
		}
		res.note(key, note)
	}
	return nil
}

// startOnce resets the process the event acts on, then starts the binary
// with a fresh Runtime API and times its first response. A response that
// is not a success fails the start.
func startOnce(ctx context.Context, env *engineEnv, table string, store *dynamostore.Store, cs coldStart) (startTimes, error) {
	if cs.ref != nil {
		if err := reset(ctx, store, *cs.ref); err != nil {
			return startTimes{}, fmt.Errorf("reset %s: %w", cs.ref.ID, err)
		}
	}
	api, err := startRuntimeAPI(fmt.Sprintf("bench-%d", time.Now().UnixNano()), cs.event)
	if err != nil {
		return startTimes{}, err
	}
	defer api.Close()

	cmd := exec.Command(cs.path)
	cmd.Dir = filepath.Dir(cs.path)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"AWS_LAMBDA_RUNTIME_API=" + api.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + cs.name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + cs.name,
		"AWS_LAMBDA_LOG_STREAM_NAME=bench",
		"_HANDLER=bootstrap",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIABENCHBENCHBENCH0",
		"AWS_SECRET_ACCESS_KEY=bench/bench/bench/bench/bench/bench/bench0",
		"AWS_SESSION_TOKEN=bench",
		"TABLE_NAME=" + table,
		"DYNAMODB_ENDPOINT=" + env.endpoint,
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // stdout (the function's log lines) goes to /dev/null
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	wctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return startTimes{}, fmt.Errorf("start %s: %w", cs.name, err)
	}
	next, at, resp, err := api.Wait(wctx)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		return startTimes{}, fmt.Errorf("%s: %w; stderr: %s", cs.name, err, strings.TrimSpace(stderr.String()))
	}
	if cs.name != helloName {
		var r events.APIGatewayV2HTTPResponse
		if json.Unmarshal(resp, &r) == nil && r.StatusCode >= 300 {
			return startTimes{}, fmt.Errorf("%s answered %d: %s", cs.name, r.StatusCode, r.Body)
		}
	}
	return startTimes{total: at.Sub(t0), init: next.Sub(t0)}, nil
}

// startTimes split a cold start: from the process start to its first
// request for an invocation (init), and to its response (total).
type startTimes struct{ total, init time.Duration }
