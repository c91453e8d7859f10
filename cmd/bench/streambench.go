package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// streamVsRaw records stream_vs_raw: in each of o.rounds rounds, on a
// fresh table, o.streamN processes whose code the system delivers (SMS)
// are written as the product's store writes them, with as many stream
// records again of processes delivered by their callers, and the stream
// processor (package stream, as the stream function and the dev server
// run it) handles every record the table's stream holds, read with
// internal/localstream as the dev server reads it, until it is drained:
// the codes sent to an outbox stand-in (the dev server's: the message
// rendered and kept), the events to an event-log stand-in. Only the time
// inside Processor.Process counts, not reading the stream (the Lambda
// service's poller in AWS). The baseline is the engine's raw conditional
// UpdateItem by key at the processor's concurrency, one, measured on the
// same table before the processor runs and after it, so that the raw
// writes see the same engine state (dynoxide's writes slow down as a
// table's stream grows). The figure is the median over the rounds of
// records handled per second over the raw updates per second.
func streamVsRaw(ctx context.Context, env *engineEnv, o options, res *results) error {
	var ratios, recRates, rawRates, perRecord, perCreate []float64
	for round := range o.rounds {
		if err := env.restart(ctx); err != nil {
			return err
		}
		r, err := streamOnce(ctx, env, o.streamN)
		if err != nil {
			return err
		}
		ratios = append(ratios, r.recordsPerS/r.rawPerS)
		recRates, rawRates = append(recRates, r.recordsPerS), append(rawRates, r.rawPerS)
		perRecord = append(perRecord, r.callsPerRecord)
		perCreate = append(perCreate, float64(r.records)/float64(r.creates))
		step("  round %d: %d records (%d codes sent, %d events) in %.1f s of processing, %.0f/s; raw UpdateItem %.0f/s; %.2f",
			round+1, r.records, r.sent, r.events, r.busy.Seconds(), r.recordsPerS, r.rawPerS, r.recordsPerS/r.rawPerS)
	}
	res.set("stream_vs_raw", median(ratios))
	res.set("stream_records_per_s", median(recRates))
	res.set("stream_raw_per_s", median(rawRates))
	res.set("stream_calls_per_record", median(perRecord))
	res.note("stream_vs_raw", fmt.Sprintf("%.0f records/s vs raw conditional UpdateItem %.0f/s at concurrency 1; %.2f DynamoDB calls per record, "+
		"%.1f records per process created; %d creates with a code to send per round, %d rounds",
		median(recRates), median(rawRates), median(perRecord), median(perCreate), o.streamN, o.rounds))
	return nil
}

// streamRound is what one round measured.
type streamRound struct {
	creates, records, sent, events int
	busy                           time.Duration
	recordsPerS, rawPerS           float64
	callsPerRecord                 float64
}

func streamOnce(ctx context.Context, env *engineEnv, n int) (streamRound, error) {
	var r streamRound
	table, drop, err := env.newTable(ctx, "stream")
	if err != nil {
		return r, err
	}
	defer drop()
	keys := fixture.CodeKeys()
	now := time.Now()
	// n processes the system sends a code for, and 2*rawN caller-delivered
	// ones: half cancelled raw before the processor runs, half after.
	rawN := max(n/4, 100)
	send := func() (*identification.Identification, *identification.CodeMaterial) {
		ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: uuid.Must(uuid.NewV7()).String()}
		i := process(ref, identification.StatusCreated, now, now.Add(24*time.Hour))
		i.Channel.External = false
		code, nonce, err := keys.NewCode(ref, 0)
		if err != nil {
			panic(err)
		}
		hash, keyID := keys.Hash(ref, code)
		i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: now.Add(10 * time.Minute), LastCodeAt: now,
			Delivery: identification.Delivery{Status: identification.DeliveryPending}}
		return i, &identification.CodeMaterial{Hash: hash, KeyID: keyID, Nonce: nonce}
	}
	open := func() (*identification.Identification, *identification.CodeMaterial) {
		ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: uuid.Must(uuid.NewV7()).String()}
		return process(ref, identification.StatusCreated, now, now.Add(24*time.Hour)), nil
	}
	if _, err := seedItemsWith(ctx, env, table, n, send); err != nil {
		return r, err
	}
	rawKeys, err := seedItemsWith(ctx, env, table, 2*rawN, open)
	if err != nil {
		return r, err
	}
	r.creates = n + 2*rawN
	cancel, err := cancelExpr(now)
	if err != nil {
		return r, err
	}
	rawRound := func(keys []map[string]types.AttributeValue) (float64, error) {
		start := time.Now()
		for _, k := range keys {
			if _, err := env.client.UpdateItem(ctx, update(table, k, cancel)); err != nil {
				return 0, fmt.Errorf("raw cancel: %w", err)
			}
		}
		return float64(len(keys)) / time.Since(start).Seconds(), nil
	}
	raw1, err := rawRound(rawKeys[:rawN])
	if err != nil {
		return r, err
	}

	counter := &enginetest.CallCounter{}
	cfg := benchConfig(table, env.endpoint)
	store := dynamostore.New(app.NewDynamoDB(cfg, dynamodb.WithAPIOptions(counter.AddTo)),
		dynamostore.Options{Table: table, Shards: cfg.Shards, Retention: cfg.Retention})
	box, log := &outboxStandIn{}, &eventLogStandIn{}
	proc := &stream.Processor{Store: store, Decoder: store, Keys: keys, Publisher: log, Logger: env.logger,
		Senders: map[string]identification.Sender{"SMS": box, "EMAIL": box, "WHATSAPP": box}}
	reader, err := localstream.New(ctx, env.client, localengine.NewStreamsClient(env.endpoint), table, env.logger)
	if err != nil {
		return r, err
	}
	idle := 0
	deadline := time.Now().Add(5 * time.Minute)
	for idle < 3 {
		if time.Now().After(deadline) {
			return r, fmt.Errorf("stream: not drained after 5 minutes: %d records, %d codes sent", r.records, box.count())
		}
		recs, err := reader.Poll(ctx)
		if err != nil {
			return r, err
		}
		if len(recs) == 0 {
			idle++
			time.Sleep(20 * time.Millisecond)
			continue
		}
		idle = 0
		for len(recs) > 0 {
			start := time.Now()
			done, err := proc.Process(ctx, recs)
			r.busy += time.Since(start)
			r.records += done
			recs = recs[done:]
			if err != nil {
				return r, fmt.Errorf("stream: %w", err)
			}
		}
	}
	raw2, err := rawRound(rawKeys[rawN:])
	if err != nil {
		return r, err
	}
	r.sent, r.events = box.count(), log.count()
	if r.sent != n {
		return r, fmt.Errorf("stream: %d codes sent, want %d", r.sent, n)
	}
	r.recordsPerS = float64(r.records) / r.busy.Seconds()
	r.rawPerS = (raw1 + raw2) / 2
	r.callsPerRecord = float64(counter.Total()) / float64(r.records)
	return r, nil
}

// seedItemsWith is seedItems for processes with code material.
func seedItemsWith(ctx context.Context, env *engineEnv, table string, n int, mk func() (*identification.Identification, *identification.CodeMaterial)) ([]map[string]types.AttributeValue, error) {
	keyAttrs, err := env.keyAttrs(ctx, table)
	if err != nil {
		return nil, err
	}
	maker := newItemMaker(table)
	items := make([]map[string]types.AttributeValue, n)
	for i := range items {
		p, code := mk()
		if items[i], err = maker.item(ctx, p, code); err != nil {
			return nil, err
		}
	}
	if err := env.writeItems(ctx, table, items); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, n)
	for i, it := range items {
		keys[i] = map[string]types.AttributeValue{}
		for _, a := range keyAttrs {
			keys[i][a] = it[a]
		}
	}
	return keys, nil
}

// outboxStandIn is the dev server's outbox (cmd/devserver): each message
// rendered and kept.
type outboxStandIn struct {
	mu   sync.Mutex
	sent []string
	n    atomic.Int64
}

func (o *outboxStandIn) Send(_ context.Context, m identification.Message) (string, error) {
	_, text := identification.RenderMessage(m)
	o.mu.Lock()
	o.sent = append(o.sent, text)
	o.mu.Unlock()
	o.n.Add(1)
	return "bench-" + m.IdentificationID, nil
}

func (o *outboxStandIn) count() int { return int(o.n.Load()) }

// eventLogStandIn is the dev server's event log.
type eventLogStandIn struct {
	mu  sync.Mutex
	evs []identification.Event
}

func (l *eventLogStandIn) Publish(_ context.Context, evs []identification.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, evs...)
	return nil
}

func (l *eventLogStandIn) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.evs)
}
