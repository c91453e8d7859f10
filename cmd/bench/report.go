package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/idadmin/api/internal/costmodel/costflow"
	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/httpapi"
)

// goal is a target a figure is held to.
type goal struct {
	text string
	met  func(v float64) bool
}

func atMost(limit float64, text string) *goal {
	return &goal{text: text, met: func(v float64) bool { return v <= limit }}
}

func atLeast(limit float64, text string) *goal {
	return &goal{text: text, met: func(v float64) bool { return v >= limit }}
}

// row is one line of the table.
type row struct {
	key    string
	format func(float64) string
	goal   *goal
	detail string
}

func plain(v float64) string { return fmt.Sprintf("%.0f", v) }
func ratio(v float64) string { return fmt.Sprintf("%.2f", v) }
func micros(v float64) string {
	return fmt.Sprintf("%.1f µs", v/1e3)
}

func millis(v float64) string { return fmt.Sprintf("%.0f ms", v) }

func oneDecimal(v float64) string  { return fmt.Sprintf("%.1f", v) }
func twoDecimals(v float64) string { return fmt.Sprintf("%.2f", v) }
func dollars(v float64) string     { return fmt.Sprintf("$%.2f", v) }

// rows lists the table in its order: first the figures against fair
// baselines with their goals, then the earlier figures, kept with
// their goals where the new figures do not replace them and as
// information where they do (cold starts and sizes against hello, the
// API through the dev server against the raw engine).
func rows(res *results, functions []string) []row {
	var out []row
	routes := httpapi.Routes()
	for _, rt := range routes {
		limit := float64(routefacts.MaxSuccessCalls(rt))
		text := "= 1"
		if limit > 1 {
			text = fmt.Sprintf("≤ %.0f", limit)
		}
		out = append(out, row{key: "calls_per_op." + rt.Name, format: plain,
			goal: &goal{text, func(v float64) bool { return v >= 1 && v <= limit }}})
	}
	for _, rt := range routes {
		out = append(out, row{key: "lambda_warm_ratio." + rt.Name, format: ratio, goal: atMost(1.10, "≤ 1.10")})
	}
	for _, rt := range routes {
		out = append(out, row{key: "cold_start_vs_baseline." + rt.Name, format: ratio, goal: atMost(1.20, "≤ 1.20")})
	}
	for _, rt := range routes {
		out = append(out, row{key: "binary_size_vs_baseline." + rt.Name, format: ratio, goal: atMost(1.15, "≤ 1.15")})
	}
	out = append(out,
		row{key: "delivery_ms.p50", format: millis},
		row{key: "delivery_ms.p99", format: millis, goal: atMost(1000, "≤ 1000 ms")},
		row{key: "webhook_ms.p50", format: millis},
		row{key: "webhook_ms.p99", format: millis, goal: atMost(1000, "≤ 1000 ms")},
		row{key: "webhook_vs_raw", format: ratio, goal: atLeast(0.8, "≥ 0.8")},
		row{key: "webhook_vs_posts.instant", format: ratio},
		row{key: "webhook_vs_posts.10ms", format: ratio},
		row{key: "stream_vs_raw", format: ratio, goal: atLeast(0.7, "≥ 0.7")},
		row{key: "sweep_100k_vs_raw", format: ratio, goal: atLeast(0.85, "≥ 0.85")},
		row{key: "sweep_100k_clean", format: plain, goal: &goal{"= 1", func(v float64) bool { return v == 1 }},
			detail: "1: the pass finished within its deadline, or stopped for it with no errors and nothing listed left unaccounted"},
		row{key: "wcu_per_verification", format: oneDecimal, goal: atMost(costflow.TargetWCU, fmt.Sprintf("≤ %d", costflow.TargetWCU))},
		row{key: "stats_wcu_per_verification", format: oneDecimal, goal: atMost(costflow.TargetStatsWCU, fmt.Sprintf("≤ %d", costflow.TargetStatsWCU))},
		row{key: "hottest_key_wcu_per_verification", format: twoDecimals,
			goal: atMost(costflow.TargetHottestKeyWCU, fmt.Sprintf("≤ %d", costflow.TargetHottestKeyWCU))},
		row{key: "rcu_per_verification", format: oneDecimal},
		row{key: "stream_invocations_per_verification", format: oneDecimal},
		row{key: "usd_per_million_verifications", format: dollars},
	)
	for _, rt := range routes {
		g := atMost(10e3, "≤ 10 µs")
		if strings.HasPrefix(rt.Name, "create-") {
			g = atMost(25e3, "≤ 25 µs")
		}
		allocs, _ := res.get("handler_allocs." + rt.Name)
		bytes, _ := res.get("handler_bytes." + rt.Name)
		out = append(out, row{key: "handler_ns." + rt.Name, format: micros, goal: g,
			detail: fmt.Sprintf("%.0f allocs, %.1f KiB per request", allocs, bytes/1024)})
	}
	for _, rt := range routes {
		if !rt.Idempotent {
			continue
		}
		allocs, _ := res.get("handler_once_allocs." + rt.Name)
		replay, _ := res.get("handler_replay_ns." + rt.Name)
		out = append(out, row{key: "handler_once_ns." + rt.Name, format: micros,
			detail: fmt.Sprintf("with a new Idempotency-Key (the transaction path); %.0f allocs per request; a replay of the same request %.1f µs", allocs, replay/1e3)})
	}
	out = append(out, row{key: "handler_hs256_ns.get-otp", format: micros,
		detail: "for reference: get-otp with the dev server's HS256 verification (API Gateway's job in AWS)"})
	gcreate, _ := res.get("guard_create_ns")
	pcreate, _ := res.get("guard_plain_create_ns")
	out = append(out, row{key: "guard_us", format: twoDecimals,
		detail: fmt.Sprintf("client CPU the sending guard adds to a create (every rule set: allowed countries, both budgets, the destination's and the prefix's limits): %.1f µs guarded vs %.1f µs without (BenchmarkStoreFlow, stub HTTP)", gcreate/1e3, pcreate/1e3)},
		row{key: "guard_calls", format: oneDecimal,
			detail: "DynamoDB calls the guard adds to that create: one conditional UpdateItem per counter (the destination's, the prefix's, the organisation's budgets); none with the default settings"})
	lambda, _ := res.get("adapter_lambda_ns")
	direct, _ := res.get("adapter_direct_ns")
	allocs, _ := res.get("adapter_allocs")
	out = append(out, row{key: "adapter_ns", format: micros,
		detail: fmt.Sprintf("get-otp: %.1f µs through app.NewLambdaHandler vs %.1f µs ServeHTTP; +%.0f allocs", lambda/1e3, direct/1e3, allocs)})
	for _, op := range storeOps(res) {
		v := func(k string) float64 { x, _ := res.get(k); return x }
		what := "client CPU per call: store %.1f µs vs the same SDK call replayed %.1f µs (stub HTTP); +%.0f allocs"
		if calls, ok := res.get("store_calls." + op); ok {
			what = fmt.Sprintf("client CPU per request, %.0f DynamoDB calls: service and store %%.1f µs vs the same SDK calls replayed %%.1f µs (stub HTTP); +%%.0f allocs", calls)
		}
		out = append(out, row{key: "store_overhead_ns." + op, format: micros,
			detail: fmt.Sprintf(what, v("store_ns."+op)/1e3, v("store_raw_ns."+op)/1e3, v("store_overhead_allocs."+op))})
	}
	for _, op := range []string{"create", "get", "cancel"} {
		for _, c := range concurrencies {
			s := fmt.Sprintf("%s.c%d", op, c)
			v := func(k string) float64 { x, _ := res.get(k); return x }
			cpu := func(side, proc string) float64 { return v("cpu_us_per_req." + side + "." + s + "." + proc) }
			out = append(out, row{key: "api_vs_raw." + s, format: ratio,
				detail: fmt.Sprintf("API %.0f/s, p50 %.2f ms, p99 %.2f ms; raw %.0f/s, p50 %.2f ms, p99 %.2f ms; "+
					"CPU µs/req API %.0f client + %.0f server + %.0f engine, raw %.0f client + %.0f engine",
					v("api_rps."+s), v("api_p50_ms."+s), v("api_p99_ms."+s), v("raw_rps."+s), v("raw_p50_ms."+s), v("raw_p99_ms."+s),
					cpu("api", "client"), cpu("api", "server"), cpu("api", "engine"), cpu("raw", "client"), cpu("raw", "engine"))})
		}
	}
	for _, fn := range functions {
		out = append(out, row{key: "cold_start_ratio." + fn, format: ratio})
	}
	for _, fn := range functions {
		out = append(out, row{key: "binary_size_ratio." + fn, format: ratio})
	}
	out = append(out, row{key: "sweep_vs_raw", format: ratio})
	for i := range out {
		if n := res.noteOf(out[i].key); n != "" {
			if out[i].detail != "" {
				out[i].detail += "; "
			}
			out[i].detail += n
		}
	}
	return out
}

// table renders the rows as one markdown table.
func table(res *results, functions []string) string {
	var b strings.Builder
	b.WriteString("| metric | value | goal | status | detail |\n|---|---:|---|---|---|\n")
	for _, r := range rows(res, functions) {
		v, ok := res.get(r.key)
		value, goalText, status := "n/a", "—", "info"
		if ok && !math.IsNaN(v) {
			value = r.format(v)
		}
		if r.goal != nil {
			goalText = r.goal.text
			switch {
			case !ok || math.IsNaN(v):
				status = "**not measured**"
			case r.goal.met(v):
				status = "met"
			default:
				status = "**missed**"
			}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.key, value, goalText, status, strings.ReplaceAll(r.detail, "|", `\|`))
	}
	return b.String()
}

// report prints the table and writes results.json, results.md and, with
// o.docs, copies of the table and the chart under docs/bench.
func report(root, dir string, res *results, o options) error {
	functions := functionsOf(res)
	tbl := table(res, functions)
	fmt.Print(tbl)

	values := map[string]float64{}
	for k, v := range res.values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			values[k] = v
		}
	}
	js, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	secs, _ := res.get("run.seconds")
	l1, _ := res.get("run.loadavg1_start")
	l2, _ := res.get("run.loadavg1_end")
	by := "`make bench`"
	if len(os.Args) > 1 {
		by = "`make bench BENCH_FLAGS='" + strings.Join(os.Args[1:], " ") + "'`"
	}
	md := fmt.Sprintf("Measured %s on %d CPUs (%s/%s, %s; load average %.1f at the start, %.1f at the end) by %s in %.0f s: "+
		"%d rounds (of %d warm invocations per side, of %s per api/raw point), %d cold starts per binary, a sweep pass over %d processes, "+
		"Go benchmarks -benchtime %s -count %d (medians).\n\n%s",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), l1, l2, by, secs,
		o.rounds, o.warmN, o.point, o.starts, o.sweepBigN, o.benchtime, o.benchcount, tbl)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	var routes []string
	for _, rt := range httpapi.Routes() {
		routes = append(routes, rt.Name)
	}
	if err := writeBaselineChart(filepath.Join(dir, "baselines.svg"), res, routes); err != nil {
		return err
	}
	step("wrote %s, results.md, throughput.svg and baselines.svg", filepath.Join(dir, "results.json"))
	if !o.docs {
		return nil
	}
	docs := filepath.Join(root, "docs", "bench")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"throughput.svg", "baselines.svg", "results.md", "results.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			continue // a chart of a phase this run left out
		}
		if err := copyFile(filepath.Join(dir, name), filepath.Join(docs, name)); err != nil {
			return err
		}
	}
	step("copied the table and the chart to %s", docs)
	readme := filepath.Join(root, "README.md")
	switch updated, err := replaceBetween(readme, readmeBegin, readmeEnd, md); {
	case err != nil:
		return err
	case updated:
		step("updated the table in %s", readme)
	default:
		step("%s has no %s ... %s markers; its table is unchanged", readme, readmeBegin, readmeEnd)
	}
	return nil
}

// The markers around the table in README.md's Benchmarks section.
const (
	readmeBegin = "<!-- bench:begin (written by make bench) -->"
	readmeEnd   = "<!-- bench:end -->"
)

// replaceBetween replaces what lies between the lines begin and end of the
// file at path with text, and reports whether it found both markers.
func replaceBetween(path, begin, end, text string) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	s := string(raw)
	i := strings.Index(s, begin+"\n")
	j := strings.Index(s, "\n"+end)
	if i < 0 || j < i {
		return false, nil
	}
	out := s[:i+len(begin)+1] + strings.TrimRight(text, "\n") + s[j:]
	if out == s {
		return true, nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return true, os.WriteFile(path, []byte(out), info.Mode())
}

// functionsOf lists the functions measured, in name order.
func functionsOf(res *results) []string {
	var out []string
	for k := range res.values {
		if fn, ok := strings.CutPrefix(k, "binary_size_ratio."); ok {
			out = append(out, fn)
		}
	}
	slices.Sort(out)
	return out
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
