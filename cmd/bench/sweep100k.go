package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

// sweepBig records sweep_100k_vs_raw: one sweep pass (sweep.Run with the
// expire-sweep function's options, under the function's timeout from
// template.yaml) over o.sweepBigN due processes, against the engine's raw
// conditional expire UpdateItem by key from as many writers, measured in
// o.sweepBigRounds rounds around the pass (before it, then after it) on
// processes of the same table, the same shape and the same index that
// fall due later than the pass's now, so the pass does not list them.
// The figure is the pass's expirations per second over the median raw
// rate; sweep_100k_complete is 1 when the pass finished within its
// deadline, sweep_100k_clean 1 when it had no errors and every process it
// listed was expired or lost to a race (a pass that stops for its
// deadline must stop cleanly).
//
// The table is template.yaml's without its stream: dynoxide keeps a
// table's stream records in the table's database and each write costs
// time proportional to how many it holds (1,600 items/s into a fresh
// table, 160/s once it holds 10,000 records), which would put seeding
// 100,000 items out of reach; the pass and the raw updates never read the
// stream.
func sweepBig(ctx context.Context, env *engineEnv, o options, res *results) error {
	timeout, err := functionTimeout(env.root, app.SweepName)
	if err != nil {
		return err
	}
	table, drop, err := env.newTableNoStream(ctx, "sweepbig")
	if err != nil {
		return err
	}
	defer drop()
	now := time.Now()
	rounds := max(o.sweepBigRounds, 2)
	rawN := min(max(o.sweepBigN/20, 1000), 5000)
	start := time.Now()
	if _, err := seedItems(ctx, env, table, o.sweepBigN, dueProcess(now)); err != nil {
		return err
	}
	// The raw side's processes fall due a minute after the pass's now.
	rawKeys := make([][]map[string]types.AttributeValue, rounds)
	for r := range rounds {
		if rawKeys[r], err = seedItems(ctx, env, table, rawN, dueProcess(now.Add(time.Hour+time.Minute))); err != nil {
			return err
		}
	}
	seeded := o.sweepBigN + rounds*rawN
	seedRate := float64(seeded) / time.Since(start).Seconds()
	step("  seeded %d items in %.0f s (%.0f/s)", seeded, time.Since(start).Seconds(), seedRate)

	// CPU time per expiration of this process (the client) and the engine.
	cpuNow := func() [2]time.Duration { return [2]time.Duration{cpuTime(os.Getpid()), cpuTime(env.pid)} }
	perOp := func(before [2]time.Duration, n int) [2]float64 {
		after := cpuNow()
		return [2]float64{float64(after[0]-before[0]) / float64(time.Microsecond) / float64(n),
			float64(after[1]-before[1]) / float64(time.Microsecond) / float64(n)}
	}
	var rawRates, rawClient, rawEngine []float64
	rawRound := func(r int) error {
		before := cpuNow()
		rate, err := rawExpireKeys(ctx, env, table, rawKeys[r], defaultWriters, now.Add(2*time.Minute))
		if err != nil {
			return err
		}
		cpu := perOp(before, len(rawKeys[r]))
		rawClient, rawEngine = append(rawClient, cpu[0]), append(rawEngine, cpu[1])
		rawRates = append(rawRates, rate)
		step("  raw round %d: %d conditional updates by key, %.0f/s", r+1, len(rawKeys[r]), rate)
		return nil
	}
	for r := range rounds / 2 {
		if err := rawRound(r); err != nil {
			return err
		}
	}
	store := env.productStore(table)
	pass, cancel := context.WithTimeout(ctx, timeout)
	before := cpuNow()
	r := sweep.Run(pass, store, store, now, sweep.Options{}, env.logger)
	cancel()
	sweepCPU := perOp(before, max(int(r.Expired), 1))
	if r.Expired == 0 {
		return fmt.Errorf("sweep of %d processes expired none (%s)", o.sweepBigN, r)
	}
	sweepRate := float64(r.Expired) / r.Duration.Seconds()
	step("  sweep: %s, %.0f/s", r, sweepRate)
	for rr := rounds / 2; rr < rounds; rr++ {
		if err := rawRound(rr); err != nil {
			return err
		}
	}
	complete, clean := 0.0, 0.0
	if r.Complete && r.Expired == int64(o.sweepBigN) {
		complete = 1
	}
	if r.Errors == 0 && r.Found == r.Expired+r.LostRaces {
		clean = 1
	}
	raw := median(rawRates)
	res.set("sweep_100k_vs_raw", sweepRate/raw)
	res.set("sweep_100k_per_s", sweepRate)
	res.set("sweep_100k_raw_per_s", raw)
	res.set("sweep_100k_seconds", r.Duration.Seconds())
	res.set("sweep_100k_deadline_s", timeout.Seconds())
	res.set("sweep_100k_complete", complete)
	res.set("sweep_100k_clean", clean)
	res.set("sweep_100k_expired", float64(r.Expired))
	res.set("sweep_100k_seed_per_s", seedRate)
	res.set("sweep_100k_cpu_us.client", sweepCPU[0])
	res.set("sweep_100k_cpu_us.engine", sweepCPU[1])
	res.set("sweep_100k_raw_cpu_us.client", median(rawClient))
	res.set("sweep_100k_raw_cpu_us.engine", median(rawEngine))
	res.note("sweep_100k_vs_raw", fmt.Sprintf("one pass over %d due processes: %.0f/s, %.0f s of its %.0f s deadline (complete %v, clean %v: %s); "+
		"raw: the store's own expire UpdateItem by key, %.0f/s (%d writers, median of %d rounds of %d around the pass); "+
		"CPU µs per expiration: pass %.0f client + %.0f engine, raw %.0f client + %.0f engine; table without its stream, seeded at %.0f items/s",
		o.sweepBigN, sweepRate, r.Duration.Seconds(), timeout.Seconds(), complete == 1, clean == 1, r, raw, defaultWriters, rounds, rawN,
		sweepCPU[0], sweepCPU[1], median(rawClient), median(rawEngine), seedRate))
	return nil
}

// defaultWriters is the sweep's default writer count (sweep.Options).
const defaultWriters = 16

// seedItems writes n processes made by mk to table as the product's store
// writes them (spread over the index shards), with BatchWriteItem, a
// chunk at a time, and returns their keys.
func seedItems(ctx context.Context, env *engineEnv, table string, n int, mk func() *identification.Identification) ([]map[string]types.AttributeValue, error) {
	keyAttrs, err := env.keyAttrs(ctx, table)
	if err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, n)
	const chunk = 5000
	for from := 0; from < n; from += chunk {
		items, err := makeItems(ctx, table, min(chunk, n-from), mk)
		if err != nil {
			return nil, err
		}
		if err := env.writeItems(ctx, table, items); err != nil {
			return nil, err
		}
		for _, it := range items {
			k := make(map[string]types.AttributeValue, len(keyAttrs))
			for _, a := range keyAttrs {
				k[a] = it[a]
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// makeItems makes n items with the store (itemMaker), on every CPU.
func makeItems(ctx context.Context, table string, n int, mk func() *identification.Identification) ([]map[string]types.AttributeValue, error) {
	maker := newItemMaker(table)
	items := make([]map[string]types.AttributeValue, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.NumCPU())
	for w := range errs {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || errs[w] != nil {
					return
				}
				items[i], errs[w] = maker.item(ctx, mk(), nil)
			}
		})
	}
	wg.Wait()
	return items, errors.Join(errs...)
}

// keyAttrs are the names of table's key attributes.
func (e *engineEnv) keyAttrs(ctx context.Context, table string) ([]string, error) {
	desc, err := e.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range desc.Table.KeySchema {
		out = append(out, aws.ToString(k.AttributeName))
	}
	return out, nil
}

// rawExpireKeys expires the processes of keys with the store's own
// conditional UpdateItem at now (storeExpire: the same expression, values
// and return values) from writers goroutines and returns the rate.
func rawExpireKeys(ctx context.Context, env *engineEnv, table string, keys []map[string]types.AttributeValue, writers int, now time.Time) (float64, error) {
	tmpl, err := storeExpire(table, now)
	if err != nil {
		return 0, err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				in := *tmpl
				in.Key = keys[i]
				if _, err := env.client.UpdateItem(ctx, &in); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("raw expire: %w", err)
	}
	return float64(len(keys)) / elapsed.Seconds(), nil
}

// functionTimeout is the Timeout template.yaml gives the function whose
// code is functions/<name> (or the template's global one).
func functionTimeout(root, name string) (time.Duration, error) {
	tmpl, err := samtemplate.Template(filepath.Join(root, "template.yaml"))
	if err != nil {
		return 0, err
	}
	for _, fn := range tmpl.GetAllServerlessFunctionResources() {
		if fn.CodeUri != nil && fn.CodeUri.String != nil && strings.TrimSuffix(*fn.CodeUri.String, "/") == "functions/"+name && fn.Timeout != nil {
			return time.Duration(*fn.Timeout) * time.Second, nil
		}
	}
	if g, err := tmpl.GetServerlessGlobalFunction(); err == nil && g.Timeout != nil {
		return time.Duration(*g.Timeout) * time.Second, nil
	}
	return 0, fmt.Errorf("template.yaml gives functions/%s no Timeout", name)
}

// newTableNoStream is newTable without the table's stream (see sweepBig).
func (e *engineEnv) newTableNoStream(ctx context.Context, purpose string) (string, func(), error) {
	path := filepath.Join(e.root, "template.yaml")
	in, err := samtemplate.LoadTable(path, samtemplate.TableLogicalID)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("bench_%s_%08x", purpose, rand.Uint32())
	in.TableName, in.StreamSpecification = aws.String(name), nil
	if _, err := e.client.CreateTable(ctx, in); err != nil {
		return "", nil, err
	}
	// Now it exists, EnsureTable only checks it.
	if _, err := samtemplate.EnsureTable(ctx, e.client, path, name); err != nil {
		return "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	}
	return name, drop, nil
}

// storeExpire is the conditional UpdateItem the store sends to expire a
// process at now (its expression and values, from dynamostore itself:
// store.Apply of the sweep's expire effect on a client that stops the
// call before it is sent), for the raw side to send by key.
func storeExpire(table string, now time.Time) (*dynamodb.UpdateItemInput, error) {
	var got *dynamodb.UpdateItemInput
	client := localengine.NewClient("http://127.0.0.1:9", dynamodb.WithAPIOptions(func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("bench.captureExpire",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if u, ok := in.Parameters.(*dynamodb.UpdateItemInput); ok {
					got = u
				}
				return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("captured")
			}), middleware.Before)
	}))
	store := dynamostore.New(client, dynamostore.Options{Table: table, Shards: dynamostore.DefaultShards, Retention: dynamostore.DefaultRetention})
	expire, err := identification.Plan(identification.Command{Action: identification.ActionExpire, At: now,
		By: identification.Caller{Kind: identification.CallerSystem, Sub: "expire-sweep"}})
	if err != nil {
		return nil, err
	}
	ref := dueProcess(now)().Ref()
	store.Apply(context.Background(), ref, expire)
	if got == nil {
		return nil, errors.New("the store sent no UpdateItem for expire")
	}
	return got, nil
}
