package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

// sweepWriters is the sweep's writer count, and the raw side's concurrency.
const sweepWriters = 16

// sweepVsRaw records sweep_vs_raw: in each round, one sweep.Run over
// o.sweepN due processes (spread over the index shards as the store spreads
// them) and the same number of raw conditional expire updates, by key, with
// sweepWriters goroutines; each side on its own fresh table, the order
// alternating between rounds. The figure is the median of the rounds'
// ratios of expirations per second.
func sweepVsRaw(ctx context.Context, env *engineEnv, o options, res *results) error {
	var ratios, sweepRates, rawRates []float64
	for round := range o.rounds {
		var sweepRate, rawRate float64
		sides := []func() error{
			func() (err error) { sweepRate, err = sweepOnce(ctx, env, o.sweepN); return err },
			func() (err error) { rawRate, err = rawExpireOnce(ctx, env, o.sweepN); return err },
		}
		if round%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			// Each side on a fresh engine (see engineEnv.restart).
			if err := env.restart(ctx); err != nil {
				return err
			}
			if err := side(); err != nil {
				return err
			}
		}
		ratios = append(ratios, sweepRate/rawRate)
		sweepRates = append(sweepRates, sweepRate)
		rawRates = append(rawRates, rawRate)
	}
	res.set("sweep_vs_raw", median(ratios))
	res.set("sweep_per_s", median(sweepRates))
	res.set("raw_expire_per_s", median(rawRates))
	res.note("sweep_vs_raw", fmt.Sprintf("sweep %.0f/s vs raw UpdateItem %.0f/s, %d writers, %d processes, %d rounds",
		median(sweepRates), median(rawRates), sweepWriters, o.sweepN, o.rounds))
	return nil
}

// dueProcess is an open process that expired an hour ago.
func dueProcess(now time.Time) func() *identification.Identification {
	return func() *identification.Identification {
		ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: uuid.Must(uuid.NewV7()).String()}
		return process(ref, identification.StatusCreated, now.Add(-2*time.Hour), now.Add(-time.Hour))
	}
}

// sweepOnce seeds n due processes and times one sweep pass over them, on
// the client the product builds (as the expire-sweep function does).
func sweepOnce(ctx context.Context, env *engineEnv, n int) (float64, error) {
	table, drop, err := env.newTable(ctx, "sweep")
	if err != nil {
		return 0, err
	}
	defer drop()
	now := time.Now()
	if _, err := seed(ctx, env.store(table), n, dueProcess(now)); err != nil {
		return 0, err
	}
	store := env.productStore(table)
	pass, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	r := sweep.Run(pass, store, store, now, sweep.Options{Writers: sweepWriters}, env.logger)
	if r.Expired != int64(n) || !r.Complete {
		return 0, fmt.Errorf("sweep expired %d of %d (%s)", r.Expired, n, r)
	}
	return float64(r.Expired) / r.Duration.Seconds(), nil
}

// rawExpireOnce seeds n due processes (copies of one the store wrote) and
// times expiring them with the store's own conditional UpdateItem
// (storeExpire), by key.
func rawExpireOnce(ctx context.Context, env *engineEnv, n int) (float64, error) {
	table, drop, err := env.newTable(ctx, "rawexpire")
	if err != nil {
		return 0, err
	}
	defer drop()
	now := time.Now()
	tmpl := dueProcess(now)()
	if err := env.store(table).Create(ctx, tmpl, nil); err != nil {
		return 0, err
	}
	item, err := env.readRaw(ctx, table, tmpl.ID)
	if err != nil {
		return 0, err
	}
	ids, err := env.seedRaw(ctx, item, n-1)
	if err != nil {
		return 0, err
	}
	ids = append(ids, tmpl.ID)
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = item.key(id)
	}
	return rawExpireKeys(ctx, env, table, keys, sweepWriters, now)
}
