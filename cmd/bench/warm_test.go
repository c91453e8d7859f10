package main

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/idadmin/api/internal/benchbaseline"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/identification"
)

// warmEnv is the engine and the routes' setups BenchmarkWarm shares.
var warmEnv struct {
	once   sync.Once
	env    *engineEnv
	setups []*routeSetup
	err    error
	stop   func()
}

// BenchmarkWarm is lambda_warm_ratio in process, for profiling: each
// route's handler as its function builds it (app.NewLambdaHandler on
// app.NewDynamoDB) and the route's baseline handler (benchbaseline.New on
// the route's recorded calls), invoked with the route's event on a fresh
// process each, against a dynoxide this benchmark starts. What the
// Runtime API loop adds (the event's and answer's JSON, two loopback HTTP
// requests) is left out, alike for both. Run with, for example,
//
//	go test -run '^$' -bench 'BenchmarkWarm/get-otp/' -cpuprofile cpu.out ./cmd/bench
//	go tool pprof -top -focus 'shared/|httpadapter' cmd/bench.test cpu.out
func BenchmarkWarm(b *testing.B) {
	warmEnv.once.Do(func() {
		root, err := localengine.RepoRoot()
		if err != nil {
			warmEnv.err = err
			return
		}
		engine, err := localengine.StartDynoxide(context.Background(), localengine.Options{Root: root})
		if err != nil {
			warmEnv.err = err
			return
		}
		warmEnv.stop = func() { engine.Stop() }
		warmEnv.env = newEngineEnv(root, engine.Endpoint)
		warmEnv.setups, warmEnv.err = setupRoutes(context.Background(), warmEnv.env, newResults())
	})
	if warmEnv.err != nil {
		b.Fatal(warmEnv.err)
	}
	env := warmEnv.env
	ctx := context.Background()
	for _, rs := range warmEnv.setups {
		b.Run(rs.rt.Name, func(b *testing.B) {
			table, drop, err := env.newTable(ctx, "warmbench")
			if err != nil {
				b.Fatal(err)
			}
			defer drop()
			cfg := benchConfig(table, env.endpoint)
			deps := app.NewDeps(cfg, app.NewDynamoDB(cfg), env.logger, identification.WithCodeKeys(fixture.CodeKeys()))
			// The webhook and settings routes' services, as their functions wire
			// them (test events and replays queued in memory).
			deps = deps.WithSettings(deps.Dynamo, deps.Dynamo, nil).
				WithWebhooks(fixture.CodeKeys(), egress.New(egress.Options{Resolver: benchResolver{}}), memqueue.New(time.Now))
			fn, err := app.NewLambdaHandler(rs.rt.Name, deps)
			if err != nil {
				b.Fatal(err)
			}
			benv, err := baselineEnv(rs, table)
			if err != nil {
				b.Fatal(err)
			}
			var plan string
			for _, kv := range benv {
				if v, ok := cutEnv(kv, benchbaseline.PlanEnv); ok {
					plan = v
				}
			}
			b.Setenv("DYNAMODB_ENDPOINT", env.endpoint)
			b.Setenv("AWS_REGION", localengine.Region)
			b.Setenv("CODE_KEY_SECRET_ARN", "")
			base, err := benchbaseline.New(plan, benchbaseline.GetItem(), benchbaseline.PutItem(), benchbaseline.UpdateItem(),
				benchbaseline.DeleteItem(), benchbaseline.TransactWriteItems(), benchbaseline.Query(), benchbaseline.BatchGetItem())
			if err != nil {
				b.Fatal(err)
			}
			for _, side := range []string{"function", "baseline"} {
				b.Run(side, func(b *testing.B) {
					b.StopTimer()
					p, err := rs.newPools(ctx, env, table, b.N)
					if err != nil {
						b.Fatal(err)
					}
					ids := p.fn
					if side == "baseline" {
						ids = p.base
					}
					evs := make([]events.APIGatewayV2HTTPRequest, b.N)
					for i := range evs {
						if err := json.Unmarshal(rs.eventFor(ids[i]), &evs[i]); err != nil {
							b.Fatal(err)
						}
					}
					ictx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench"})
					b.ReportAllocs()
					b.StartTimer()
					for i := range b.N {
						h := fn
						if side == "baseline" {
							h = base
						}
						resp, err := h(ictx, evs[i])
						if err != nil || resp.StatusCode >= 300 {
							b.Fatalf("%s %s: %d %v %s", rs.rt.Name, side, resp.StatusCode, err, resp.Body)
						}
					}
				})
			}
		})
	}
}

func cutEnv(kv, name string) (string, bool) {
	if len(kv) > len(name) && kv[:len(name)] == name && kv[len(name)] == '=' {
		return kv[len(name)+1:], true
	}
	return "", false
}

func TestMain(m *testing.M) {
	code := m.Run()
	if warmEnv.stop != nil {
		warmEnv.stop()
	}
	os.Exit(code)
}
