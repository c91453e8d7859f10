// Command bench is `make bench`: it measures the API against the raw
// engine it runs on and the Lambda functions against a hello-world
// aws-lambda-go program, on this machine, in one run, and prints one
// markdown table with every figure, its goal and whether it is met.
//
// Every comparison is a ratio against a baseline measured in the same run,
// interleaved with it so that drift on a noisy machine cancels out:
//
//   - calls_per_op: DynamoDB calls one request of each route makes (the
//     function's own handler, an SDK middleware counting calls);
//   - handler_ns, handler_allocs, adapter_ns, store_overhead_ns: the Go
//     benchmarks of shared/httpapi, shared/app and shared/dynamostore (the
//     handler tree with an in-memory store; the API Gateway adapter; the
//     store's own cost over the SDK call it makes), run with `go test -bench`;
//   - api_vs_raw: requests per second through a real dev server process
//     and dynoxide, over the engine's rate for the equivalent raw SDK call
//     at the same concurrency, with p50 and p99 latencies;
//   - cold_start_ratio, binary_size_ratio: each function, built as for
//     Lambda for this machine's architecture, started against a Lambda
//     Runtime API this command serves, over the hello-world program;
//   - sweep_vs_raw: the expiry sweep's expirations per second over the
//     engine's raw conditional-update rate at the sweep's writer count.
//
// The figures go to .local/bench/results.json (flat keys, numbers only),
// the table to .local/bench/results.md and the chart of throughput and
// latency against concurrency to .local/bench/throughput.svg; the table and
// the chart are copied to docs/bench/, and the table replaces the one
// between the bench markers of README.md's Benchmarks section.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

// options are the knobs of a run; the defaults keep `make bench` under ten
// minutes on two cores.
type options struct {
	point      time.Duration // one api/raw measurement
	rounds     int           // interleaved rounds of api/raw and sweep/raw
	starts     int           // cold starts of each binary
	benchtime  string        // -benchtime of the Go benchmarks
	benchcount int           // -count of the Go benchmarks
	sweepN     int           // due processes per sweep measurement
	docs       bool          // copy the table and chart to docs/bench, update README.md's table
}

func main() {
	var o options
	flag.DurationVar(&o.point, "point", 3*time.Second, "duration of one api/raw measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of the api/raw and sweep/raw measurements (the median is reported)")
	flag.IntVar(&o.starts, "starts", 15, "cold starts of each function and of hello (at least 10 for the goal to be judged)")
	flag.StringVar(&o.benchtime, "benchtime", "300ms", "-benchtime of the Go benchmarks")
	flag.IntVar(&o.benchcount, "benchcount", 5, "-count of the Go benchmarks (the median is reported)")
	flag.IntVar(&o.sweepN, "sweep-n", 3000, "due processes seeded for each sweep and raw-update measurement")
	flag.BoolVar(&o.docs, "docs", true, "copy the table and the chart to docs/bench/ and replace the table in README.md")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	root, err := localengine.RepoRoot()
	if err != nil {
		return err
	}
	dir := filepath.Join(root, ".local", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := localengine.EnsureTools(root); err != nil {
		return err
	}
	res := newResults()
	res.set("run.loadavg1_start", loadAverage())

	step("building the dev server, the functions and hello (GOARCH=%s)", hostArch())
	bins, err := build(ctx, root, dir)
	if err != nil {
		return err
	}

	step("Go benchmarks: handler tree and adapter (-benchtime %s -count %d)", o.benchtime, o.benchcount)
	if err := goBenchmarks(ctx, root, o, res); err != nil {
		return err
	}

	step("starting dynoxide (in memory)")
	engine, err := localengine.StartDynoxide(ctx, localengine.Options{Root: root})
	if err != nil {
		return err
	}
	defer engine.Stop()
	env := newEngineEnv(root, engine.Endpoint)

	step("DynamoDB calls per request of each route")
	if err := callsPerOp(ctx, env, res); err != nil {
		return err
	}

	step("binary sizes and cold starts (%d starts each, interleaved)", o.starts)
	if err := coldStarts(ctx, env, bins, o, res); err != nil {
		return err
	}

	step("sweep against raw conditional updates (%d rounds of %d processes)", o.rounds, o.sweepN)
	if err := sweepVsRaw(ctx, env, o, res); err != nil {
		return err
	}

	step("API through the dev server against raw SDK calls (%d rounds, %s per point)", o.rounds, o.point)
	if err := apiVsRaw(ctx, env, bins, dir, o, res); err != nil {
		return err
	}

	res.set("run.loadavg1_end", loadAverage())
	res.set("run.seconds", time.Since(start).Seconds())
	res.set("run.cpus", float64(numCPU()))
	return report(root, dir, res, o)
}

// step announces a phase on stderr, so stdout holds only the table.
func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
