package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/idadmin/api/shared/sweep"
)

// SweepFunc is what the expire-sweep function hands to lambda.Start: the
// EventBridge scheduled event in, the pass's summary out.
type SweepFunc = func(context.Context, events.EventBridgeEvent) (sweep.Result, error)

// SweepName is the expire-sweep function's name (its directory under
// functions/); it has no HTTP route.
const SweepName = "expire-sweep"

// NewSweepHandler returns the expire-sweep handler: one pass per scheduled
// invocation at now(), stopping opts.Margin before the invocation's
// deadline so the rest is left for the next run. It fails the invocation
// only when nothing could be done at all (every query failed), so that
// Lambda's error metrics show a broken sweep but not a few lost writes,
// which the next run retries.
func NewSweepHandler(deps Deps, now func() time.Time, opts sweep.Options) SweepFunc {
	return func(ctx context.Context, _ events.EventBridgeEvent) (sweep.Result, error) {
		res := deps.Sweep(ctx, now(), opts)
		if res.Errors > 0 && res.Expired == 0 && res.LostRaces == 0 {
			return res, fmt.Errorf("expire-sweep: %d errors and no progress", res.Errors)
		}
		return res, nil
	}
}

// SweepLambda is the whole main of the expire-sweep function, like Lambda is
// for the HTTP functions: it refuses to run outside Lambda, builds the
// clients once and serves scheduled invocations.
func SweepLambda() {
	h, err := sweepFromEnv(os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", SweepName, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

func sweepFromEnv(logs io.Writer) (SweepFunc, error) {
	if os.Getenv(RuntimeAPIEnv) == "" {
		return nil, notInLambda(SweepName)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	deps := NewDeps(cfg, NewDynamoDB(cfg), NewLambdaLogger(logs, cfg.LogLevel))
	return NewSweepHandler(deps, time.Now, sweep.Options{}), nil
}
