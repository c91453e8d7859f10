// Package costflow runs the flow the cost model prices: one OTP
// verification delivered by SMS, end to end, as in AWS. An organisation's
// admin creates the process (POST, through the handler tree), the stream
// processor delivers its code (fed the engine's stream records that the
// stream function's filter in template.yaml lets through, as Lambda
// would), the actor sends one wrong code and then the right one (PUT
// .../validate), and the stream processor handles what those changes put
// on the stream (their events). Every DynamoDB call of the handler tree
// and of the processor goes through one client a costmodel.Recorder is
// installed on.
//
// The HTTP suite's cost test drives it through internal/apitest (every
// exchange held to the OpenAPI document); cmd/bench through Local.
package costflow

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/costmodel"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// CreateBody is the create's body: the documented example (docs/api.md,
// as internal/routefacts keeps it) with a code the system sends by SMS.
const CreateBody = `{"actor":{"name":"James","last_name":"Smith","identity_document":{"document_number":"12345678A","document_type":"NIF"},` +
	`"email":"example@email.com","msisdn":{"phone_number":6123456789,"country_code":"34"},"language":"ES"},` +
	`"expires_in":"P7D","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":false}}`

// SecondFactor is the example actor's document number, the second factor
// the create asks for.
const SecondFactor = "12345678A"

// Body is the create's body of an organisation's n-th verification and
// its second factor: CreateBody for n = 0, else the same actor with a
// document number, an e-mail address and a phone number of their own, of
// the same lengths (an organisation verifies different people: the
// listings by person must not look hotter than they are).
func Body(n int) (body, secondFactor string) {
	if n == 0 {
		return CreateBody, SecondFactor
	}
	doc := fmt.Sprintf("%08dA", 12345678+n%80000000)
	r := strings.NewReplacer(SecondFactor, doc, "example@email.com", fmt.Sprintf("exa%04d@email.com", n%10000),
		"6123456789", fmt.Sprint(6123456789+n%800000000))
	return r.Replace(CreateBody), doc
}

// Requests are the HTTP requests one verification makes, by route (in AWS
// each route is a function of its own): the create and the two attempts.
var Requests = map[string]int{"create-otp": 1, "validate-otp": 2}

// Device is the actor's device, sent with each attempt.
var Device = http.Header{"X-Installation_id": {"install-7f3a9c21"}, "X-Fingerprint": {"fp-9d8e7c6b5a"}}

// Flow is one handler tree, store and stream processor on one table.
type Flow struct {
	// Do sends one request through the handler tree.
	Do func(ctx context.Context, method, path, body, token string, h http.Header) (int, []byte, error)
	// Org is the organisation; AdminToken and ActorToken its callers.
	Org                    string
	AdminToken, ActorToken string
	// Processor is the stream processor; its senders must include
	// Outbox for SMS and its Publisher Events.
	Processor *stream.Processor
	Outbox    *Outbox
	Events    *Events
	// Stream reads the table's stream, unfiltered (localstream.Reader's
	// SetFilter(nil)): the flow applies the template's filters itself.
	Stream *localstream.Reader
	// Model is the table and the stream's event sources: records their
	// filters do not let through are not handed to the processor.
	Model costmodel.Model
	// verified counts the verifications run (Body's n).
	verified int
}

// Result is what one verification did, seen from outside DynamoDB.
type Result struct {
	ID string
	// Requests are the HTTP requests the verification made.
	Requests int
	// StreamRecords are the records the engine put on the stream for it,
	// Invocations those the event sources' filters let through to the
	// processor.
	StreamRecords, Invocations int
	// Events are the events published, Messages the codes sent.
	Events, Messages int
}

// Verify runs one verification: create, delivery, a wrong attempt, the
// right one, and the stream's work after them.
func (f *Flow) Verify(ctx context.Context) (Result, error) {
	var res Result
	eventsBefore, messagesBefore := f.Events.Count(), f.Outbox.Count()
	base := "/v1/orgs/" + f.Org + "/identifications/otp"
	create, secondFactor := Body(f.verified)
	f.verified++
	status, body, err := f.Do(ctx, http.MethodPost, base, create, f.AdminToken, nil)
	res.Requests++
	if err != nil {
		return res, err
	}
	if status != http.StatusCreated {
		return res, fmt.Errorf("create: %d %s", status, body)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		return res, fmt.Errorf("create: no id in %s (%v)", body, err)
	}
	res.ID = created.ID
	if err := f.drain(ctx, &res); err != nil {
		return res, err
	}
	code, ok := f.Outbox.CodeOf(res.ID)
	if !ok {
		return res, fmt.Errorf("the stream processor sent no code for %s", res.ID)
	}

	validate := base + "/" + res.ID + "/validate"
	attempt := func(code string) (int, []byte, error) {
		b, _ := json.Marshal(map[string]string{"code": code, "two_factor": secondFactor})
		res.Requests++
		return f.Do(ctx, http.MethodPut, validate, string(b), f.ActorToken, Device)
	}
	if status, body, err = attempt(Wrong(code)); err != nil {
		return res, err
	} else if status != http.StatusUnprocessableEntity {
		return res, fmt.Errorf("wrong code: %d %s, want 422", status, body)
	}
	if status, body, err = attempt(code); err != nil {
		return res, err
	} else if status != http.StatusNoContent {
		return res, fmt.Errorf("right code: %d %s, want 204", status, body)
	}
	if err := f.drain(ctx, &res); err != nil {
		return res, err
	}
	res.Events = f.Events.Count() - eventsBefore
	res.Messages = f.Outbox.Count() - messagesBefore
	return res, nil
}

// drain hands the processor what the stream holds, as the stream function
// would get it, until the stream runs dry.
func (f *Flow) drain(ctx context.Context, res *Result) error {
	for range 50 {
		recs, err := f.Stream.Poll(ctx)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		var pass []stream.Record
		for _, r := range recs {
			res.StreamRecords++
			n, err := f.Invocations(r)
			if err != nil {
				return err
			}
			res.Invocations += n
			if n > 0 {
				pass = append(pass, r)
			}
		}
		// One record at a time: at a verification's pace each record is
		// an invocation of its own.
		for _, r := range pass {
			if _, err := f.Processor.Process(ctx, []stream.Record{r}); err != nil {
				return fmt.Errorf("stream processor: %w", err)
			}
		}
	}
	return fmt.Errorf("the stream did not run dry")
}

// Invocations are the invocations the template's event sources make for
// r: one for each function whose source's filter lets r through (the
// stream processor stands for every function the stream feeds).
func (f *Flow) Invocations(r stream.Record) (int, error) {
	img := r.New
	if img == nil {
		img = r.Old
	}
	invoked, err := f.Model.Invoked(f.Model.Table.StreamRecord(f.Model.Table.KeyOf(img), r.Old, r.New))
	return len(invoked), err
}

// Wrong is a code that is not code.
func Wrong(code string) string {
	if strings.HasPrefix(code, "z") {
		return "y" + code[1:]
	}
	return "z" + code[1:]
}

// Outbox is the SMS (and e-mail, WhatsApp) sender: it keeps the codes.
type Outbox struct {
	mu    sync.Mutex
	codes map[string]string
	n     int
}

// Send implements identification.Sender.
func (o *Outbox) Send(_ context.Context, m identification.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.codes == nil {
		o.codes = map[string]string{}
	}
	o.codes[m.IdentificationID] = m.Code
	o.n++
	return fmt.Sprintf("msg-%d", o.n), nil
}

// CodeOf is the last code sent for the process id.
func (o *Outbox) CodeOf(id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.codes[id]
	return c, ok
}

// Count is how many messages were sent.
func (o *Outbox) Count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// Events is the publisher: it counts the events (EventBridge entries).
type Events struct {
	mu sync.Mutex
	n  int
}

// Publish implements identification.Publisher.
func (e *Events) Publish(_ context.Context, evs []identification.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n += len(evs)
	return nil
}

// Count is how many events were published.
func (e *Events) Count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// NewProcessor is the stream processor on store, sending through outbox
// and publishing to events, with no waits between tries.
func NewProcessor(store *dynamostore.Store, outbox *Outbox, events *Events, now func() time.Time) *stream.Processor {
	return &stream.Processor{Store: store, Decoder: store, Keys: fixture.CodeKeys(), Publisher: events, Now: now,
		Blocks: store, Stats: store, Countries: numbers.CountryOf,
		Senders: map[string]identification.Sender{"SMS": outbox, "EMAIL": outbox, "WHATSAPP": outbox},
		Sleep:   func(context.Context, time.Duration) {}}
}

// Local builds a Flow for organisation org on table of the local engine
// at endpoint, outside a test (cmd/bench): the handler tree the dev
// server builds (app.Deps.DevHandler, HS256 tokens) with the routes of
// Requests, its DynamoDB client recorded by rec.
func Local(ctx context.Context, endpoint, table, org string, model costmodel.Model, rec *costmodel.Recorder) (*Flow, error) {
	client := localengine.NewClient(endpoint, rec.Install)
	cfg := app.Config{TableName: table, Region: localengine.Region, DocsURL: httpapi.DefaultDocsURL,
		Shards: dynamostore.DefaultShards, Retention: dynamostore.DefaultRetention}
	deps := app.NewDeps(cfg, client, slog.New(slog.DiscardHandler), identification.WithCodeKeys(fixture.CodeKeys()))
	verifier := &auth.Verifier{Secret: []byte("costflow-secret-0123456789abcdef"), Issuer: app.DevIssuer, Audience: app.DevAudience}
	// The routes a verification calls, as each of their functions serves
	// only its own.
	var routes []httpapi.Route
	for _, rt := range httpapi.Routes() {
		if Requests[rt.Name] > 0 {
			routes = append(routes, rt)
		}
	}
	if len(routes) != len(Requests) {
		return nil, fmt.Errorf("costflow: the routes %v are not all httpapi's", Requests)
	}
	h, err := deps.DevHandler(verifier, routes...)
	if err != nil {
		return nil, err
	}
	mint := func(scope string) (string, error) {
		return verifier.Mint("costflow", []string{org}, []string{scope}, time.Hour)
	}
	f := &Flow{Org: org, Outbox: &Outbox{}, Events: &Events{}, Model: model}
	if f.AdminToken, err = mint(auth.ScopeAdmin); err != nil {
		return nil, err
	}
	if f.ActorToken, err = mint(auth.ScopeActor); err != nil {
		return nil, err
	}
	f.Do = func(ctx context.Context, method, path, body, token string, hdr http.Header) (int, []byte, error) {
		req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("User-Agent", "costflow/1.0")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, err := io.ReadAll(rec.Result().Body)
		return rec.Code, b, err
	}
	f.Processor = NewProcessor(deps.Dynamo, f.Outbox, f.Events, time.Now)
	unrecorded := localengine.NewClient(endpoint, func(*dynamodb.Options) {})
	if f.Stream, err = localstream.New(ctx, unrecorded, localengine.NewStreamsClient(endpoint), table, nil); err != nil {
		return nil, err
	}
	// Every record the stream holds: the flow counts them and applies the
	// template's filters itself (Invocations).
	f.Stream.SetFilter(nil)
	return f, nil
}

// The scale targets, per SMS-delivered OTP verification of the flow
// above (docs/deployment.md, "Limits"). TestVerificationCost holds the
// layout to them (checkTargets) and cmd/bench reports against them.
const (
	// TargetWCU bounds the write units of one verification, table and
	// indexes together. The way down from 126: the stream processor's
	// claim and published marks on items of their own (1 unit each, not
	// 2 on the process and its indexes: 37 → 32), no status on the
	// find-by indexes (32 → 26), the claim of a version's code carrying
	// its published mark (26 → 25), no index holding the status at all:
	// a listing by status filters the processes it reads (25 → 20).
	// The statistics' writes are apart (StatsWCU, TargetStatsWCU): the
	// stream processor makes them once per batch, not per verification.
	TargetWCU = 20
	// TargetStatsWCU bounds the statistics' write units of a verification
	// whose records each come alone (the create's record and the end's
	// each write one small item); in a batch they are shared by every
	// verification of the organisation and hour in it.
	TargetStatsWCU = 2
	// TargetHottestKeyWCU bounds the write units the hottest partition
	// key value (the table's or any index's) takes per verification of
	// one organisation.
	TargetHottestKeyWCU = 1
)

// StatsWCU are the write units of c that went to the organisation's
// statistics (items ORG#<org>#STATS#<shard>): one write per record that
// counted something, since at a verification's pace each record is a batch
// of its own; in a batch of many verifications' records, one per
// organisation and hour (docs/api.md#statistics).
func StatsWCU(c costmodel.Cost) float64 {
	units := 0.0
	for k, u := range c.ByKey {
		if k.Index == "" && strings.Contains(k.Value, "#STATS#") {
			units += u
		}
	}
	return units
}

// Measurement is what n verifications of one organisation cost.
type Measurement struct {
	// Each is each verification's cost, Calls its recorded calls and
	// Results what it did; Total is their sum.
	Each    []costmodel.Cost
	Calls   [][]costmodel.Call
	Results []Result
	Total   costmodel.Cost
}

// N is the number of verifications measured.
func (m Measurement) N() int { return len(m.Each) }

// Per is x per verification.
func (m Measurement) Per(x float64) float64 { return x / float64(m.N()) }

// MaxWCU is the most write units one verification took, the statistics'
// apart (StatsWCU).
func (m Measurement) MaxWCU() float64 {
	most := 0.0
	for _, c := range m.Each {
		most = max(most, c.WCU-StatsWCU(c))
	}
	return most
}

// WCU are the write units per verification, the statistics' apart.
func (m Measurement) WCU() float64 { return m.Per(m.Total.WCU - StatsWCU(m.Total)) }

// Hottest are the partition key values that took the most write units
// over all the verifications, and their units per verification.
func (m Measurement) Hottest() ([]costmodel.PartitionKey, float64) {
	keys, units := m.Total.Hottest()
	return keys, m.Per(units)
}

// Measure runs n verifications on f, whose DynamoDB client rec records,
// and prices each with f.Model.
func Measure(ctx context.Context, f *Flow, rec *costmodel.Recorder, n int) (Measurement, error) {
	var m Measurement
	for i := range n {
		from := rec.Len()
		res, err := f.Verify(ctx)
		if err != nil {
			return m, fmt.Errorf("verification %d: %w", i+1, err)
		}
		if err := rec.Err(); err != nil {
			return m, err
		}
		calls := rec.Calls()[from:]
		cost, err := f.Model.Cost(calls)
		if err != nil {
			return m, err
		}
		m.Each = append(m.Each, cost)
		m.Calls = append(m.Calls, calls)
		m.Results = append(m.Results, res)
		m.Total.Add(cost)
	}
	return m, nil
}
