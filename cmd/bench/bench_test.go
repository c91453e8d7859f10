package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/benchbaseline"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/identification"
)

func TestParseBenchmarks(t *testing.T) {
	out := `goos: linux
BenchmarkHandler/create-otp-2         	   54234	     26974 ns/op	    9024 B/op	     133 allocs/op
BenchmarkHandler/create-otp-2         	   50000	     27000.5 ns/op	    9024 B/op	     133 allocs/op
BenchmarkAdapter/lambda-8         	   42626	     26465 ns/op
BenchmarkNoProcs 	 10	 5 ns/op	 1 B/op	 0 allocs/op
BenchmarkStoreFlow/validate-otp/flow-2 	 200	 282086 ns/op	 2.000 calls/op	 2839 req-B/op	 119061 B/op	 1111 allocs/op
PASS
ok  	github.com/idadmin/api/shared/httpapi	24.751s
`
	runs, err := parseBenchmarks(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		i    int
		want benchRun
	}{
		{"BenchmarkHandler/create-otp", 0, benchRun{26974, 9024, 133, 0}},
		{"BenchmarkHandler/create-otp", 1, benchRun{27000.5, 9024, 133, 0}},
		{"BenchmarkAdapter/lambda", 0, benchRun{26465, 0, 0, 0}},
		{"BenchmarkNoProcs", 0, benchRun{5, 1, 0, 0}},
		{"BenchmarkStoreFlow/validate-otp/flow", 0, benchRun{282086, 119061, 1111, 2}},
	}
	for _, tt := range tests {
		if got := runs[tt.name]; len(got) <= tt.i || got[tt.i] != tt.want {
			t.Errorf("runs[%q][%d] = %v, want %v", tt.name, tt.i, got, tt.want)
		}
	}
	if len(runs) != 4 {
		t.Errorf("got %d benchmarks, want 4: %v", len(runs), runs)
	}
	if _, err := parseBenchmarks(strings.NewReader("PASS\n")); err == nil {
		t.Error("parseBenchmarks of output without results: error = nil, want one")
	}
}

func TestMedianAndPercentile(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i))
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(ds, tt.p); got != tt.want {
			t.Errorf("percentile(1..100, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

// TestRuntimeAPI plays a function against the emulated Runtime API: it gets
// the event with the invocation headers, posts its response, and a second
// request for an invocation waits until the API is closed.
func TestRuntimeAPI(t *testing.T) {
	api, err := startRuntimeAPI("req-1", []byte(`{"name":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + api.Addr + "/2018-06-01/runtime/invocation/"
	resp, err := http.Get(base + "next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"name":"x"}` || resp.Header.Get("Lambda-Runtime-Aws-Request-Id") != "req-1" || resp.Header.Get("Lambda-Runtime-Deadline-Ms") == "" {
		t.Fatalf("next: %s %v, want the event with the request id and deadline headers", body, resp.Header)
	}

	second := make(chan error, 1)
	go func() {
		resp, err := http.Get(base + "next")
		if err == nil {
			resp.Body.Close()
		}
		second <- err
	}()

	if resp, err := http.Post(base+"other/response", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("response for another request id: %v %v, want 400", resp.StatusCode, err)
	}
	if resp, err := http.Post(base+"req-1/response", "application/json", strings.NewReader(`{"message":"hi"}`)); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response: %v %v, want 202", resp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	next, at, got, err := api.Wait(ctx)
	if err != nil || string(got) != `{"message":"hi"}` || next.IsZero() || at.Before(next) {
		t.Errorf("Wait = %v, %v, %s, %v; want the response after the first next", next, at, got, err)
	}
	select {
	case err := <-second:
		t.Fatalf("second next returned before Close: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	api.Close()
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("second next still waiting after Close")
	}
}

func TestRuntimeAPIReportsErrors(t *testing.T) {
	api, err := startRuntimeAPI("req-2", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	http.Post("http://"+api.Addr+"/2018-06-01/runtime/init/error", "application/json", strings.NewReader(`{"errorMessage":"boom"}`))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, _, err := api.Wait(ctx); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Wait after an init error = %v, want an error quoting it", err)
	}
}

func TestWriteChart(t *testing.T) {
	var all []series
	for _, op := range []string{"create", "get"} {
		for i, side := range []string{"api", "raw"} {
			f := float64(i + 1)
			all = append(all, series{op: op, side: side, c: concurrencies,
				rps: []float64{100 * f, 400 * f, 500 * f}, p50: []float64{0.5, 2, 8}, p99: []float64{2, 9, 30}})
		}
	}
	path := filepath.Join(t.TempDir(), "chart.svg")
	if err := writeChart(path, all); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "create: throughput", "get: latency", "API (dev server) p99", "raw SDK call"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestReplaceBetween(t *testing.T) {
	path := filepath.Join(t.TempDir(), "README.md")
	const before = "# T\n\n## Benchmarks\n\n<!-- b -->\nold\ntable\n<!-- e -->\n\nafter\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := replaceBetween(path, "<!-- b -->", "<!-- e -->", "new table\n")
	if err != nil || !found {
		t.Fatalf("replaceBetween = %v, %v; want true, nil", found, err)
	}
	got, _ := os.ReadFile(path)
	if want := "# T\n\n## Benchmarks\n\n<!-- b -->\nnew table\n<!-- e -->\n\nafter\n"; string(got) != want {
		t.Errorf("README after replaceBetween:\n%s\nwant:\n%s", got, want)
	}
	found, err = replaceBetween(path, "<!-- x -->", "<!-- e -->", "other")
	if err != nil || found {
		t.Errorf("replaceBetween without the markers = %v, %v; want false, nil", found, err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(got) {
		t.Errorf("replaceBetween without the markers changed the file")
	}
}

// TestBenchSecretIsTheFixture: the code key secret the started functions
// read holds internal/fixture's keys, which the run seeds codes with.
func TestBenchSecretIsTheFixture(t *testing.T) {
	keys, err := codekey.Parse([]byte(benchSecret))
	if err != nil {
		t.Fatal(err)
	}
	ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: "0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81"}
	h1, k1 := keys.Hash(ref, "k4khb9")
	h2, k2 := fixture.CodeKeys().Hash(ref, "k4khb9")
	if h1 != h2 || k1 != k2 {
		t.Errorf("the bench secret hashes k4khb9 as %s/%s, the fixture as %s/%s", h1, k1, h2, k2)
	}
}

func TestBaselineMain(t *testing.T) {
	got := baselineMain([]string{"GetItem", "UpdateItem"})
	if !strings.Contains(got, "benchbaseline.Main(benchbaseline.GetItem(), benchbaseline.UpdateItem())") {
		t.Errorf("baselineMain = %s", got)
	}
	if n := baselineName("GetItem+UpdateItem"); n != "baseline-getitem-updateitem" {
		t.Errorf("baselineName = %s", n)
	}
}

func TestWriteBaselineChart(t *testing.T) {
	res := newResults()
	for i, r := range []string{"get-otp", "validate-otp"} {
		f := float64(i + 1)
		res.set("warm_us."+r, 1100*f)
		res.set("warm_us."+baselinePrefix+r, 1000*f)
		res.set("cold_start_ms."+r, 9*f)
		res.set("cold_start_ms."+baselinePrefix+r, 8*f)
	}
	path := filepath.Join(t.TempDir(), "baselines.svg")
	if err := writeBaselineChart(path, res, []string{"get-otp", "validate-otp", "unmeasured"}); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "warm invocation", "cold start", "validate-otp", "baseline (same DynamoDB calls)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestStoreExpire(t *testing.T) {
	in, err := storeExpire("t", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if in.ConditionExpression == nil || in.UpdateExpression == nil || len(in.ExpressionAttributeValues) == 0 || *in.TableName != "t" {
		t.Errorf("storeExpire = %+v, want the store's conditional update", in)
	}
	t.Logf("update %s; condition %s; return %s", *in.UpdateExpression, *in.ConditionExpression, in.ReturnValues)
}

// TestBaselineEnvMovesEveryCallToTheTable: a baseline's plan is recorded
// on one table and replayed on another; a BatchGetItem names its table as
// the key of RequestItems, not in TableName, and moves too.
func TestBaselineEnvMovesEveryCallToTheTable(t *testing.T) {
	rs := &routeSetup{table: "bench_calls_1", plan: benchbaseline.Plan{Status: 200, Calls: []benchbaseline.Call{
		{Op: "Query", Body: []byte(`{"IndexName":"list-by-org","TableName":"bench_calls_1"}`)},
		{Op: "BatchGetItem", Body: []byte(`{"RequestItems":{"bench_calls_1":{"ConsistentRead":true,"Keys":[]}}}`)},
	}}}
	env, err := baselineEnv(rs, "bench_warm_2")
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := cutEnv(env[0], benchbaseline.PlanEnv)
	if strings.Contains(plan, "bench_calls_1") || strings.Count(plan, "bench_warm_2") != 2 {
		t.Errorf("plan %s: want both calls on bench_warm_2", plan)
	}
}
