// Command bench is `make bench`: it measures each Lambda function against
// a baseline that makes the same DynamoDB calls, the delivery, stream and
// sweep paths against the raw engine, and (as information) the API
// through the dev server against the raw engine and the functions against
// a hello-world program, on this machine, in one run, and prints one
// markdown table with every figure, its goal and whether it is met.
//
// Every comparison is a ratio against a baseline measured in the same run,
// interleaved with it so that drift on a noisy machine cancels out, and
// every phase starts on a fresh dynoxide (engineEnv.restart):
//
//   - calls_per_op: DynamoDB calls one request of each route makes (the
//     function's own handler, an SDK middleware counting calls); the same
//     pass records the calls, which the route's baseline replays
//     (internal/benchbaseline, built per set of operations; baselines.go);
//   - lambda_warm_ratio, cold_start_vs_baseline, binary_size_vs_baseline:
//     each route's function and its baseline, built as for Lambda for this
//     machine's architecture and served by a Lambda Runtime API this
//     command implements, warm (warm.go) and cold (coldstart.go);
//   - delivery_ms: from a create's answer to its message in a dev server's
//     outbox, under a steady load (delivery.go);
//   - webhook_ms: from a create's answer to its identification.created
//     webhook at a receiver, through a dev server under the same load;
//     webhook_vs_raw: the webhook sender's deliveries a second over a raw
//     loop posting the same bodies (webhookbench.go);
//   - stream_vs_raw: the stream processor's records per second over the
//     engine's raw conditional UpdateItem rate (streambench.go);
//   - sweep_100k_vs_raw: one sweep pass over 100,000 due processes over the
//     store's own expire UpdateItem by key (sweep100k.go);
//   - wcu_per_verification, rcu_per_verification,
//     hottest_key_wcu_per_verification, stream_invocations_per_verification,
//     usd_per_million_verifications: what an SMS-delivered OTP verification
//     costs in AWS, its DynamoDB calls recorded and priced by
//     internal/costmodel on template.yaml's layout (cost.go);
//   - handler_ns, handler_once_ns, adapter_ns, store_overhead_ns: the Go
//     benchmarks of shared/httpapi, shared/app and shared/dynamostore, run
//     with `go test -bench` (gobench.go);
//   - api_vs_raw, cold_start_ratio, binary_size_ratio, sweep_vs_raw: the
//     earlier figures, kept as information.
//
// The figures go to .local/bench/results.json (flat keys, numbers only),
// the table to .local/bench/results.md, the charts to baselines.svg and
// throughput.svg there; all four are copied to docs/bench/, and the table
// replaces the one between the bench markers of README.md's Benchmarks
// section.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

// options are the knobs of a run; the defaults keep `make bench` under ten
// minutes on two cores.
type options struct {
	point          time.Duration // one api/raw measurement
	rounds         int           // interleaved rounds of api/raw and sweep/raw
	starts         int           // cold starts of each binary
	benchtime      string        // -benchtime of the Go benchmarks
	benchcount     int           // -count of the Go benchmarks
	sweepN         int           // due processes per sweep measurement
	warmN          int           // counted warm invocations of each side per round
	sweepBigN      int           // due processes of the sweep_100k pass
	sweepBigRounds int           // rounds of the sweep_100k pass and its raw baseline
	streamN        int           // creates whose stream records one stream round handles
	webhookN       int           // events each webhook_vs_raw round delivers
	deliveryRate   float64       // creates per second of the delivery load
	deliveryFor    time.Duration // how long the delivery load lasts
	docs           bool          // copy the table and chart to docs/bench, update README.md's table
	only           string        // the phases to run, comma-separated ("" for all)
	routes         string        // the routes the cold and warm phases measure, comma-separated ("" for all)
}

func main() {
	var o options
	flag.DurationVar(&o.point, "point", time.Second, "duration of one api/raw measurement")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of the api/raw and sweep/raw measurements (the median is reported)")
	flag.IntVar(&o.starts, "starts", 10, "cold starts of each function and of hello (at least 10 for the goal to be judged)")
	flag.StringVar(&o.benchtime, "benchtime", "100ms", "-benchtime of the Go benchmarks")
	flag.IntVar(&o.benchcount, "benchcount", 3, "-count of the Go benchmarks (the median is reported)")
	flag.IntVar(&o.sweepN, "sweep-n", 1000, "due processes seeded for each sweep and raw-update measurement")
	flag.IntVar(&o.warmN, "warm-n", 150, "counted warm invocations of each function and of its baseline per round")
	flag.IntVar(&o.sweepBigN, "sweep-big-n", 100000, "due processes of the one-pass sweep measurement (sweep_100k_vs_raw)")
	flag.IntVar(&o.sweepBigRounds, "sweep-big-rounds", 2, "rounds of the one-pass sweep over -sweep-big-n processes and its raw baseline")
	flag.IntVar(&o.streamN, "stream-n", 300, "creates whose stream records each stream_vs_raw round handles")
	flag.IntVar(&o.webhookN, "webhook-n", 400, "events each webhook_vs_raw round delivers by the sender and by the raw loop")
	flag.Float64Var(&o.deliveryRate, "delivery-rate", 40, "creates per second of the steady load delivery_ms is measured under")
	flag.DurationVar(&o.deliveryFor, "delivery-for", 10*time.Second, "how long the delivery load lasts")
	flag.BoolVar(&o.docs, "docs", true, "copy the table and the chart to docs/bench/ and replace the table in README.md")
	flag.StringVar(&o.only, "only", "", "run only these phases, comma-separated, of: "+strings.Join(phases, ",")+" (for development; implies -docs=false)")
	flag.StringVar(&o.routes, "routes", "", "measure only these routes in the cold and warm phases, comma-separated (for development; implies -docs=false)")
	flag.Parse()
	if o.only != "" || o.routes != "" {
		o.docs = false
	}

	// Nothing this run does may leave the machine: a client that would
	// call AWS (a function's S3, SNS or EventBridge client, in process or
	// started) goes through a proxy on a closed loopback port and fails at
	// once. Loopback is never proxied.
	for k, v := range map[string]string{"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"} {
		os.Setenv(k, v)
	}
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

	if o.runs("gobench") {
		step("Go benchmarks: handler tree and adapter (-benchtime %s -count %d)", o.benchtime, o.benchcount)
		if err := goBenchmarks(ctx, root, o, res); err != nil {
			return err
		}
	}

	step("starting dynoxide (in memory)")
	env, err := startEngine(ctx, root)
	if err != nil {
		return err
	}
	defer env.stop()

	secrets, err := startSecretsStub()
	if err != nil {
		return err
	}
	defer secrets.Close()
	env.secrets = secrets.endpoint

	var setups []*routeSetup
	if o.runs("calls") || o.runs("cold") || o.runs("warm") {
		step("DynamoDB calls per request of each route, recorded for the baselines")
		if setups, err = setupRoutes(ctx, env, res); err != nil {
			return err
		}
		step("building the baselines (one per set of DynamoDB operations)")
		if err := buildBaselines(ctx, root, dir, setups, &bins); err != nil {
			return err
		}
	}

	if o.runs("cold") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("binary sizes and cold starts (%d starts each, interleaved)", o.starts)
		if err := coldStarts(ctx, env, bins, setups, o, res); err != nil {
			return err
		}
	}

	if o.runs("warm") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("warm invocations against the baselines (%d rounds of %d each)", o.rounds, o.warmN)
		if err := warmInvocations(ctx, env, bins, setups, o, res); err != nil {
			return err
		}
	}

	if o.runs("sweep") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("sweep against raw conditional updates (%d rounds of %d processes)", o.rounds, o.sweepN)
		if err := sweepVsRaw(ctx, env, o, res); err != nil {
			return err
		}
	}

	if o.runs("sweep100k") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("one sweep pass over %d due processes against raw conditional updates (%d rounds)", o.sweepBigN, o.sweepBigRounds)
		if err := sweepBig(ctx, env, o, res); err != nil {
			return err
		}
	}

	if o.runs("stream") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("stream processor against raw conditional updates (%d rounds of %d creates)", o.rounds, o.streamN)
		if err := streamVsRaw(ctx, env, o, res); err != nil {
			return err
		}
	}

	if o.runs("delivery") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("delivery from a create's answer to the dev server's outbox (%.0f creates/s for %s)", o.deliveryRate, o.deliveryFor)
		if err := deliveryLatency(ctx, env, bins, dir, o, res); err != nil {
			return err
		}
	}

	if o.runs("webhook") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("webhooks from a create's answer to a receiver (%.0f creates/s for %s)", o.deliveryRate, o.deliveryFor)
		if err := webhookLatency(ctx, env, bins, dir, o, res); err != nil {
			return err
		}
		step("the webhook sender against a raw loop posting the same bodies (%d rounds of %d events)", o.rounds, o.webhookN)
		if err := webhookVsRaw(ctx, env, o, res); err != nil {
			return err
		}
	}

	if o.runs("cost") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("what a verification costs in AWS: %d SMS-delivered OTP verifications of one organisation, their DynamoDB calls priced", costVerifications)
		if err := verificationCost(ctx, env, res); err != nil {
			return err
		}
	}

	if o.runs("api") {
		if err := env.restart(ctx); err != nil {
			return err
		}
		step("API through the dev server against raw SDK calls (%d rounds, %s per point)", o.rounds, o.point)
		if err := apiVsRaw(ctx, env, bins, dir, o, res); err != nil {
			return err
		}
	}

	res.set("run.loadavg1_end", loadAverage())
	res.set("run.seconds", time.Since(start).Seconds())
	res.set("run.cpus", float64(numCPU()))
	return report(root, dir, res, o)
}

// phases are the parts of a run -only can select.
var phases = []string{"gobench", "calls", "cold", "warm", "sweep", "sweep100k", "stream", "delivery", "webhook", "cost", "api"}

// measures reports whether the cold and warm phases measure route.
func (o options) measures(route string) bool {
	return o.routes == "" || slices.Contains(strings.Split(o.routes, ","), route)
}

// runs reports whether phase is part of this run.
func (o options) runs(phase string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), phase)
}

// step announces a phase on stderr, so stdout holds only the table.
func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
