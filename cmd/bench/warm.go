package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// warmUp is how many warm invocations of each side are not counted.
const warmUp = 10

// warmInvocations records lambda_warm_ratio.<route>: each route's function
// and its baseline are started side by side, each behind its own Runtime
// API, and invoked alternately (the order alternating between rounds),
// o.warmN times each after warmUp uncounted ones, each invocation on a
// fresh process of its own, on a fresh table each round; an invocation is
// timed from the moment its event is handed out to the arrival of its
// response, Lambda's own loop.
// The figure is the median over o.rounds rounds of the ratio of the
// medians.
func warmInvocations(ctx context.Context, env *engineEnv, bins binaries, setups []*routeSetup, o options, res *results) error {
	for n, rs := range setups {
		if n > 0 {
			if err := env.restart(ctx); err != nil {
				return err
			}
		}
		name := rs.rt.Name
		fnPath, base := bins.lambdas[name], bins.baselines[name]
		if fnPath == "" || base == "" || !o.measures(name) {
			continue
		}
		key := "lambda_warm_ratio." + name
		var ratios, fnMeds, baseMeds, fnP90s, baseP90s []float64
		var failure string
		for round := range o.rounds {
			// A fresh table each round: dynoxide's writes slow down as a
			// table's stream grows, which would blur the two sides.
			table, drop, err := env.newTable(ctx, "warm")
			if err != nil {
				return err
			}
			benv, err := baselineEnv(rs, table)
			if err != nil {
				drop()
				return err
			}
			p, err := rs.newPools(ctx, env, table, o.warmN+warmUp+1)
			if err != nil {
				drop()
				return fmt.Errorf("%s: %w", name, err)
			}
			fnTimes, baseTimes, err := warmRound(ctx, env, table, rs,
				coldStart{name: name, path: fnPath}, coldStart{name: baselinePrefix + name, path: base, env: benv}, p, round%2 == 1)
			drop()
			if err != nil {
				failure = err.Error()
				continue
			}
			slices.Sort(fnTimes)
			slices.Sort(baseTimes)
			fm, bm := median(fnTimes), median(baseTimes)
			ratios = append(ratios, fm/bm)
			fnMeds, baseMeds = append(fnMeds, fm), append(baseMeds, bm)
			fnP90s = append(fnP90s, fnTimes[len(fnTimes)*9/10])
			baseP90s = append(baseP90s, baseTimes[len(baseTimes)*9/10])
		}
		if len(ratios) == 0 {
			res.note(key, "not measured: "+failure)
			continue
		}
		res.set(key, median(ratios))
		res.set("warm_us."+name, median(fnMeds)/1e3)
		res.set("warm_us."+baselinePrefix+name, median(baseMeds)/1e3)
		note := fmt.Sprintf("median %.0f µs (p90 %.0f) vs baseline %.0f µs (p90 %.0f); %s; %d×%d invocations each",
			median(fnMeds)/1e3, median(fnP90s)/1e3, median(baseMeds)/1e3, median(baseP90s)/1e3, rs.opSet(), len(ratios), o.warmN)
		if failure != "" {
			note += "; a round failed: " + failure
		}
		res.note(key, note)
		step("  %-22s warm %6.0f µs vs baseline %6.0f µs: %.2f", name, median(fnMeds)/1e3, median(baseMeds)/1e3, median(ratios))
	}
	return nil
}

// warmRound starts fn and base, lets each answer its cold first invocation,
// then invokes them alternately; it returns the counted invocation times
// in nanoseconds.
func warmRound(ctx context.Context, env *engineEnv, table string, rs *routeSetup, fn, base coldStart, p pools, baseFirst bool) ([]float64, []float64, error) {
	type side struct {
		cs  coldStart
		ids []string
		sb  *sandbox
		ns  []float64
	}
	sides := []*side{{cs: fn, ids: p.fn}, {cs: base, ids: p.base}}
	for _, s := range sides {
		sb, err := startSandbox(env, table, s.cs, rs.eventFor(s.ids[0]))
		if err != nil {
			return nil, nil, err
		}
		defer sb.stop()
		s.sb = sb
		wctx, cancel := sb.bound(ctx, startTimeout)
		_, _, resp, err := sb.api.Wait(wctx)
		if err != nil && ctx.Err() == nil {
			err = exitCause(sb, wctx, err)
		}
		cancel()
		if err == nil {
			err = checkAnswer(s.cs.name, resp)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w; stderr: %s", s.cs.name, err, strings.TrimSpace(sb.stderr.String()))
		}
	}
	order := sides
	if baseFirst {
		order = []*side{sides[1], sides[0]}
	}
	for i := 1; i < len(p.fn); i++ {
		for _, s := range order {
			ictx, cancel := s.sb.bound(ctx, startTimeout)
			d, resp, err := s.sb.api.Invoke(ictx, rs.eventFor(s.ids[i]))
			if err != nil && ctx.Err() == nil {
				err = exitCause(s.sb, ictx, err)
			}
			cancel()
			if err == nil {
				err = checkAnswer(s.cs.name, resp)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s invocation %d: %w; stderr: %s", s.cs.name, i, err, strings.TrimSpace(s.sb.stderr.String()))
			}
			if i > warmUp {
				s.ns = append(s.ns, float64(d))
			}
		}
	}
	return sides[0].ns, sides[1].ns, nil
}
