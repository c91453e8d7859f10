package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/idadmin/api/internal/costmodel"
	"github.com/idadmin/api/internal/costmodel/costflow"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
)

// Prices in US East (N. Virginia), as the pages below gave them when
// looked up on 2026-12-06 (stored copies of the pages, through the
// project's search tool). Messages (SNS, SES, WhatsApp) are left out: they
// cost what the channel costs, whatever the layout.
const (
	// AWS Lambda, Arm (arm64, as template.yaml builds every function):
	// https://aws.amazon.com/lambda/pricing/, duration $0.0000133334 per
	// GB-second for the first 7.5 billion GB-seconds a month, requests
	// $0.20 per million (the same figures on
	// https://cloudchipr.com/blog/aws-lambda-pricing, 2024). Duration is
	// billed per started millisecond.
	lambdaArmUSDPerGBSecond     = 0.0000133334
	lambdaUSDPerMillionRequests = 0.20
	// Amazon API Gateway, HTTP APIs:
	// https://aws.amazon.com/api-gateway/pricing/, $1.00 per million
	// requests for the first 300 million a month, metered per 512 KB
	// (https://www.learnaws.org/2021/01/10/api-gateway-pricing/;
	// https://awsforengineers.com/blog/aws-api-gateway-pricing-explained,
	// 2025-05-19).
	httpAPIUSDPerMillionRequests = 1.00
	// Amazon DynamoDB on-demand, Standard table class:
	// https://aws.amazon.com/dynamodb/pricing/on-demand/, $0.625 per
	// million write request units and $0.125 per million read request
	// units since 2024-11-01
	// (https://airbyte.com/data-engineering-resources/dynamodb-pricing,
	// 2025-07-21). A request unit is charged as a capacity unit is
	// counted (internal/costmodel); the stream's reads by a Lambda event
	// source mapping are free.
	dynamoDBUSDPerMillionWRU = 0.625
	dynamoDBUSDPerMillionRRU = 0.125
	// Amazon EventBridge, custom events:
	// https://aws.amazon.com/eventbridge/pricing/, $1.00 per million
	// events published, each 64 KB chunk an event
	// (https://cloudburn.io/blog/amazon-eventbridge-pricing, 2026-03-13).
	eventBridgeUSDPerMillionEvents = 1.00
)

// Durations assumed for a warm invocation when this run did not measure
// one (the warm and stream phases measure them against a local engine):
// an API function makes one or two DynamoDB calls of a few milliseconds
// each in the region; the stream function a read, one or two writes and,
// for a code, the provider's call.
const (
	assumedAPIMs    = 20
	assumedStreamMs = 40
)

// costVerifications is how many verifications of one organisation the
// cost phase runs (the hottest key's units are their total over them).
const costVerifications = 20

// verificationCost records the cost figures: costVerifications SMS-delivered
// OTP verifications of one organisation, end to end through the dev
// server's handler tree and the stream processor (internal/costmodel/costflow,
// as the cost test runs them), every DynamoDB call recorded with its items
// before and after and priced by internal/costmodel on template.yaml's
// table, indexes and stream filter; then priced in dollars with the
// constants above, each function's MemorySize from template.yaml and the
// warm durations this run measured (or those assumed).
func verificationCost(ctx context.Context, env *engineEnv, res *results) error {
	tmpl, err := costmodel.LoadTemplate(filepath.Join(env.root, "template.yaml"), samtemplate.TableLogicalID)
	if err != nil {
		return err
	}
	table, drop, err := env.newTable(ctx, "cost")
	if err != nil {
		return err
	}
	defer drop()
	rec := costmodel.NewRecorder(tmpl.Table, localengine.NewClient(env.endpoint))
	flow, err := costflow.Local(ctx, env.endpoint, table, "acme", tmpl.Model(), rec)
	if err != nil {
		return err
	}
	m, err := costflow.Measure(ctx, flow, rec, costVerifications)
	if err != nil {
		return err
	}
	hottest, hot := m.Hottest()
	events, requests := 0, 0
	for _, r := range m.Results {
		events += r.Events
		requests += r.Requests
	}
	in := costInputs{
		wcu: m.Per(m.Total.WCU), rcu: m.Per(m.Total.RCU), events: m.Per(float64(events)),
		requests: costflow.Requests, invocations: map[string]float64{}, memoryMB: tmpl.MemoryMB, ms: map[string]float64{},
	}
	var durations []string
	for _, fn := range slices.Sorted(maps.Keys(costflow.Requests)) {
		ms, how := assumedAPIMs*1.0, "assumed"
		if us, ok := res.get("warm_us." + fn); ok && !math.IsNaN(us) {
			ms, how = us/1e3, "measured warm"
		}
		in.ms[fn] = ms
		durations = append(durations, fmt.Sprintf("%s %.1f ms (%s) × %d at %d MB", fn, ms, how, costflow.Requests[fn], tmpl.MemoryMB[fn]))
	}
	for _, fn := range slices.Sorted(maps.Keys(m.Total.Invocations)) {
		in.invocations[fn] = m.Per(float64(m.Total.Invocations[fn]))
		ms, how := assumedStreamMs*1.0, "assumed"
		// The stream processor's time per record, at concurrency 1.
		if rate, ok := res.get("stream_records_per_s"); ok && rate > 0 && fn == "stream" {
			ms, how = 1e3/rate, "measured, per record"
		}
		in.ms[fn] = ms
		durations = append(durations, fmt.Sprintf("%s %.1f ms (%s) × %.1f at %d MB", fn, ms, how, in.invocations[fn], tmpl.MemoryMB[fn]))
	}
	invocations := m.Per(float64(m.Total.StreamInvocations))
	p := price(in)

	var indexes []string
	for _, name := range slices.Sorted(maps.Keys(m.Total.IndexWCU)) {
		indexes = append(indexes, fmt.Sprintf("%s %.1f", name, m.Per(m.Total.IndexWCU[name])))
	}
	stats := m.Per(costflow.StatsWCU(m.Total))
	res.set("wcu_per_verification", m.WCU())
	res.note("wcu_per_verification", fmt.Sprintf("table %.1f; %s; the most costly of %d verifications %.0f; create, the code delivered by the stream processor, a wrong and a right attempt, and the stream's work after them; the statistics' writes apart (below)",
		m.Per(m.Total.TableWCU)-stats, strings.Join(indexes, ", "), m.N(), m.MaxWCU()))
	res.set("stats_wcu_per_verification", stats)
	res.note("stats_wcu_per_verification", fmt.Sprintf("each record a batch of its own, as at a verification's pace: a write per record that counts (the create's, the end's); in a batch of the stream's records, one write per organisation and hour, shared by its verifications (%.2f at 20 verifications a batch). Priced in usd_per_million_verifications",
		stats/20))
	res.set("hottest_key_wcu_per_verification", hot)
	res.note("hottest_key_wcu_per_verification", fmt.Sprintf("%s, over %d verifications of one organisation", costmodel.Describe(hottest), m.N()))
	res.set("rcu_per_verification", in.rcu)
	res.set("stream_invocations_per_verification", invocations)
	var batches []string
	for _, src := range tmpl.StreamSources {
		batches = append(batches, fmt.Sprintf("%s: batch size %d, %d filter(s)", src.Name, src.BatchSize, len(src.Filters)))
	}
	res.note("stream_invocations_per_verification", fmt.Sprintf("of %.1f stream records; the records the event sources' filters in template.yaml let through, one invocation each at a verification's pace (%s)",
		m.Per(float64(m.Total.StreamRecords)), strings.Join(batches, "; ")))
	res.set("usd_per_million_verifications", p.total)
	for k, v := range p.parts {
		res.set("usd_per_million_verifications."+k, v)
	}
	res.set("events_per_verification", in.events)
	res.note("usd_per_million_verifications", fmt.Sprintf("DynamoDB $%.2f (%.1f WRU at $%.3f/M, %.1f RRU at $%.3f/M), Lambda $%.2f (%.1f requests at $%.2f/M; %s; $%.10f/GB-s arm64), "+
		"API Gateway $%.2f (%d HTTP API requests at $%.2f/M), EventBridge $%.2f (%.1f events at $%.2f/M); messages excluded; us-east-1 prices of 2026-12-06 (cmd/bench/cost.go)",
		p.parts["dynamodb"], in.wcu, dynamoDBUSDPerMillionWRU, in.rcu, dynamoDBUSDPerMillionRRU,
		p.parts["lambda"], float64(requests)/float64(m.N())+invocations, lambdaUSDPerMillionRequests, strings.Join(durations, ", "), lambdaArmUSDPerGBSecond,
		p.parts["apigateway"], requests/m.N(), httpAPIUSDPerMillionRequests, p.parts["eventbridge"], in.events, eventBridgeUSDPerMillionEvents))
	step("  %.1f WCU, %.1f RCU, hottest key %.2f WCU (%s), %.1f stream invocations, $%.2f per million verifications",
		in.wcu, in.rcu, hot, costmodel.Describe(hottest), invocations, p.total)
	return nil
}

// costInputs are what one verification uses.
type costInputs struct {
	wcu, rcu, events float64
	// requests are the HTTP requests by route (function), invocations
	// the stream-fed functions' invocations by name, memoryMB each
	// function's memory by name, ms each one's duration per invocation.
	requests    map[string]int
	invocations map[string]float64
	memoryMB    map[string]int
	ms          map[string]float64
}

// priced is what a million verifications cost, in all and by service.
type priced struct {
	total float64
	parts map[string]float64
}

// price prices a million verifications.
func price(in costInputs) priced {
	const million = 1e6
	gbSeconds := func(fn string, invocations float64) float64 {
		return invocations * math.Ceil(in.ms[fn]) / 1e3 * float64(in.memoryMB[fn]) / 1024
	}
	requests, gbs, apiRequests := 0.0, 0.0, 0.0
	for fn, n := range in.requests {
		requests += float64(n)
		apiRequests += float64(n)
		gbs += gbSeconds(fn, float64(n))
	}
	for fn, n := range in.invocations {
		requests += n
		gbs += gbSeconds(fn, n)
	}
	p := priced{parts: map[string]float64{
		"dynamodb":    in.wcu*dynamoDBUSDPerMillionWRU + in.rcu*dynamoDBUSDPerMillionRRU,
		"lambda":      requests*lambdaUSDPerMillionRequests + gbs*lambdaArmUSDPerGBSecond*million,
		"apigateway":  apiRequests * httpAPIUSDPerMillionRequests,
		"eventbridge": in.events * eventBridgeUSDPerMillionEvents,
	}}
	for _, v := range p.parts {
		p.total += v
	}
	return p
}
