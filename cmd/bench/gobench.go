package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// benchPackages hold the Go benchmarks the run reports.
var benchPackages = []string{"./shared/httpapi", "./shared/app", "./shared/dynamostore"}

// benchPattern selects them.
const benchPattern = "^(BenchmarkRoutes|BenchmarkHandlerHS256|BenchmarkAdapter|BenchmarkStore|BenchmarkStoreFlow)$"

// goBenchmarks runs the Go benchmarks and records the median of each:
// handler_ns.<route> and handler_allocs.<route> from BenchmarkRoutes
// (every route of the table, each in the state it needs, with the caller
// it admits), handler_once_ns.<route> and
// handler_replay_ns.<route> from its Idempotency-Key variants,
// handler_hs256_ns.<route> from BenchmarkHandlerHS256, adapter_ns, the
// lambda variant of BenchmarkAdapter minus the direct one, and
// store_overhead_ns.<op>, the store's own client-side cost per call over the
// SDK call it makes (BenchmarkStore: store minus raw), and for the flows of
// BenchmarkStoreFlow (validations, resends, history, the Idempotency-Key
// transactions) the service's and store's cost over the SDK calls, with
// store_calls.<flow>, the DynamoDB calls each makes.
func goBenchmarks(ctx context.Context, root string, o options, res *results) error {
	args := []string{"test", "-run", "^$", "-bench", benchPattern, "-benchmem",
		"-benchtime", o.benchtime, "-count", strconv.Itoa(o.benchcount)}
	cmd := exec.CommandContext(ctx, goTool(), append(args, benchPackages...)...)
	cmd.Dir = root
	cmd.Env = withoutProxy(os.Environ())
	var out strings.Builder
	cmd.Stdout = io.MultiWriter(&out, os.Stderr)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	runs, err := parseBenchmarks(strings.NewReader(out.String()))
	if err != nil {
		return err
	}
	med := func(name string, metric func(benchRun) float64) (float64, bool) {
		var xs []float64
		for _, r := range runs[name] {
			xs = append(xs, metric(r))
		}
		return median(xs), len(xs) > 0
	}
	ns := func(r benchRun) float64 { return r.nsPerOp }
	allocs := func(r benchRun) float64 { return r.allocsPerOp }
	bytes := func(r benchRun) float64 { return r.bytesPerOp }
	for name := range runs {
		if sub, ok := strings.CutPrefix(name, "BenchmarkRoutes/"); ok {
			route, mode, _ := strings.Cut(sub, "/")
			prefix := "handler"
			if mode != "" {
				prefix += "_" + mode
			}
			v, _ := med(name, ns)
			res.set(prefix+"_ns."+route, v)
			v, _ = med(name, allocs)
			res.set(prefix+"_allocs."+route, v)
			v, _ = med(name, bytes)
			res.set(prefix+"_bytes."+route, v)
		}
		if route, ok := strings.CutPrefix(name, "BenchmarkHandlerHS256/"); ok {
			v, _ := med(name, ns)
			res.set("handler_hs256_ns."+route, v)
		}
		if sub, ok := strings.CutPrefix(name, "BenchmarkStoreFlow/"); ok {
			flow, side, _ := strings.Cut(sub, "/")
			if side != "flow" {
				continue
			}
			store, _ := med(name, ns)
			raw, ok := med("BenchmarkStoreFlow/"+flow+"/raw", ns)
			if !ok {
				return fmt.Errorf("BenchmarkStoreFlow/%s/raw missing from the output", flow)
			}
			sa, _ := med(name, allocs)
			ra, _ := med("BenchmarkStoreFlow/"+flow+"/raw", allocs)
			calls, _ := med(name, func(r benchRun) float64 { return r.callsPerOp })
			res.set("store_ns."+flow, store)
			res.set("store_raw_ns."+flow, raw)
			res.set("store_overhead_ns."+flow, store-raw)
			res.set("store_overhead_allocs."+flow, sa-ra)
			res.set("store_calls."+flow, calls)
		}
	}
	// The sending guard: a create whose code the service delivers, with
	// every rule of the guard set, against the same create without it.
	guarded, ok1 := med("BenchmarkStoreFlow/create-otp-sms-guarded/flow", ns)
	plain, ok2 := med("BenchmarkStoreFlow/create-otp-sms/flow", ns)
	if !ok1 || !ok2 {
		return fmt.Errorf("BenchmarkStoreFlow/create-otp-sms(-guarded)/flow missing from the output")
	}
	gc, _ := med("BenchmarkStoreFlow/create-otp-sms-guarded/flow", func(r benchRun) float64 { return r.callsPerOp })
	pc, _ := med("BenchmarkStoreFlow/create-otp-sms/flow", func(r benchRun) float64 { return r.callsPerOp })
	res.set("guard_us", (guarded-plain)/1e3)
	res.set("guard_calls", gc-pc)
	res.set("guard_create_ns", guarded)
	res.set("guard_plain_create_ns", plain)
	lambda, ok1 := med("BenchmarkAdapter/lambda", ns)
	direct, ok2 := med("BenchmarkAdapter/direct", ns)
	if !ok1 || !ok2 {
		return fmt.Errorf("BenchmarkAdapter/lambda or /direct missing from the output")
	}
	res.set("adapter_ns", lambda-direct)
	res.set("adapter_lambda_ns", lambda)
	res.set("adapter_direct_ns", direct)
	la, _ := med("BenchmarkAdapter/lambda", allocs)
	da, _ := med("BenchmarkAdapter/direct", allocs)
	res.set("adapter_allocs", la-da)
	for _, op := range []string{"create", "get", "cancel"} {
		store, ok1 := med("BenchmarkStore/"+op+"/store", ns)
		raw, ok2 := med("BenchmarkStore/"+op+"/raw", ns)
		if !ok1 || !ok2 {
			return fmt.Errorf("BenchmarkStore/%s missing from the output", op)
		}
		sa, _ := med("BenchmarkStore/"+op+"/store", allocs)
		ra, _ := med("BenchmarkStore/"+op+"/raw", allocs)
		res.set("store_ns."+op, store)
		res.set("store_raw_ns."+op, raw)
		res.set("store_overhead_ns."+op, store-raw)
		res.set("store_overhead_allocs."+op, sa-ra)
	}
	return nil
}

// benchRun is one result line of `go test -bench`.
type benchRun struct {
	nsPerOp, bytesPerOp, allocsPerOp float64
	// callsPerOp is the calls/op a benchmark reports (b.ReportMetric).
	callsPerOp float64
}

// benchLine matches "BenchmarkX/y-2   1000   1234 ns/op   56 B/op   7 allocs/op".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op(.*)$`)

// parseBenchmarks reads `go test -bench -benchmem` output into runs by
// benchmark name (without the -GOMAXPROCS suffix).
func parseBenchmarks(r io.Reader) (map[string][]benchRun, error) {
	runs := map[string][]benchRun{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		run := benchRun{}
		run.nsPerOp, _ = strconv.ParseFloat(m[2], 64)
		fields := strings.Fields(m[3])
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "B/op":
				run.bytesPerOp = v
			case "allocs/op":
				run.allocsPerOp = v
			case "calls/op":
				run.callsPerOp = v
			}
		}
		runs[m[1]] = append(runs[m[1]], run)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no benchmark results in the output")
	}
	return runs, nil
}

// storeOps lists the operations and flows with a store_overhead_ns figure:
// create, get and cancel first, then the flows in name order.
func storeOps(res *results) []string {
	res.mu.Lock()
	defer res.mu.Unlock()
	out := []string{"create", "get", "cancel"}
	var flows []string
	for k := range res.values {
		if op, ok := strings.CutPrefix(k, "store_overhead_ns."); ok && !slices.Contains(out, op) {
			flows = append(flows, op)
		}
	}
	slices.Sort(flows)
	return append(out, flows...)
}
