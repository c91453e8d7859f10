package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var start = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// outbox records what the senders were asked to send.
type outbox struct {
	mu   sync.Mutex
	sent []identification.Message
	// fail, when set, answers every send.
	fail error
}

func (o *outbox) Send(_ context.Context, m identification.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return "", o.fail
	}
	o.sent = append(o.sent, m)
	return fmt.Sprintf("msg-%d", len(o.sent)), nil
}

func (o *outbox) messages() []identification.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]identification.Message(nil), o.sent...)
}

// eventLog records what was published.
type eventLog struct {
	mu     sync.Mutex
	events []identification.Event
}

func (l *eventLog) Publish(_ context.Context, evs []identification.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, evs...)
	return nil
}

func (l *eventLog) of(id string) []identification.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []identification.Event
	for _, e := range l.events {
		if e.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// rig is a table, its store and service, the processor and the reader of
// the table's stream on one engine.
type rig struct {
	client *dynamodb.Client
	table  string
	store  *dynamostore.Store
	svc    *identification.Service
	proc   *stream.Processor
	reader *localstream.Reader
	box    *outbox
	log    *eventLog
	waits  []time.Duration
	now    time.Time
	mu     sync.Mutex
}

func newRig(t *testing.T, e enginetest.Engine) *rig {
	t.Helper()
	client, table, _ := enginetest.NewTable(t, e)
	r := &rig{client: client, table: table, store: dynamostore.New(client, dynamostore.Options{Table: table}), box: &outbox{}, log: &eventLog{}, now: start}
	clock := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	r.svc = identification.NewService(r.store, identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()))
	r.proc = &stream.Processor{Store: r.store, Decoder: r.store, Keys: fixture.CodeKeys(), Publisher: r.log, Now: clock,
		Senders: map[string]identification.Sender{"SMS": r.box, "EMAIL": r.box, "WHATSAPP": r.box},
		Sleep:   func(_ context.Context, d time.Duration) { r.waits = append(r.waits, d) }}
	reader, err := localstream.New(t.Context(), client, localengine.NewStreamsClient(e.Endpoint), table, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.reader = reader
	return r
}

func (r *rig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

// poll reads what the stream holds now.
func (r *rig) poll(t *testing.T) []stream.Record {
	t.Helper()
	recs, err := r.reader.Poll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// drain processes the stream until it is empty.
func (r *rig) drain(t *testing.T) {
	t.Helper()
	for round := 0; round < 20; round++ {
		recs := r.poll(t)
		if len(recs) == 0 {
			return
		}
		if n, err := r.proc.Process(t.Context(), recs); err != nil {
			t.Fatalf("process: %d of %d: %v", n, len(recs), err)
		}
	}
	t.Fatal("the stream did not run dry")
}

var admin = identification.Caller{Kind: identification.CallerAdmin, Sub: "admin-1"}
var actor = identification.Caller{Kind: identification.CallerActor, Sub: "actor-1", Device: &identification.Device{InstallationID: "i", Fingerprint: "f"}}

func (r *rig) createOTP(t *testing.T, channel, language string, external bool) *identification.Identification {
	t.Helper()
	in := identification.CreateOTP{
		Actor: &identification.Actor{Name: "Zacarías Distinctname", Email: "zacarias@example.com", Language: language,
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "98765432Z", DocumentType: "NIF"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
		Channel: &identification.Channel{Type: channel, External: external}, ExpiresIn: "P1D",
	}
	created, err := r.svc.CreateOTP(t.Context(), "acme", in, admin)
	if err != nil {
		t.Fatal(err)
	}
	return created.Identification
}

func TestCodesReachTheActorAndValidate(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		sms := r.createOTP(t, "SMS", "ES", false)
		mail := r.createOTP(t, "EMAIL", "DE", false)
		r.drain(t)
		msgs := r.box.messages()
		if len(msgs) != 2 {
			t.Fatalf("%d messages, want 2: %+v", len(msgs), msgs)
		}
		byID := map[string]identification.Message{}
		for _, m := range msgs {
			byID[m.IdentificationID] = m
		}
		for _, c := range []struct {
			i                 *identification.Identification
			channel, to, lang string
		}{{sms, "SMS", "+34612345678", "ES"}, {mail, "EMAIL", "zacarias@example.com", "DE"}} {
			m := byID[c.i.ID]
			if m.Channel != c.channel || m.To != c.to || m.Language != c.lang || m.Org != "acme" || !identification.ValidCodeShape(m.Code) {
				t.Errorf("%s message: %+v", c.channel, m)
			}
			if !m.ValidUntil.Equal(start.Add(identification.DefaultCodeTTL)) {
				t.Errorf("%s valid until %v", c.channel, m.ValidUntil)
			}
			got, err := r.svc.Get(t.Context(), c.i.Ref())
			if err != nil {
				t.Fatal(err)
			}
			if d := got.OTP.Delivery; d.Status != identification.DeliverySent || d.Attempts != 1 || d.MessageID == "" {
				t.Errorf("%s delivery %+v, want SENT after one attempt", c.channel, d)
			}
			if err := r.svc.Validate(t.Context(), c.i.Ref(), identification.Validation{Code: m.Code}, actor); err != nil {
				t.Errorf("%s: the delivered code does not validate: %v", c.channel, err)
			}
		}
	})
}

func TestAReplayedBatchSendsOnceAndPublishesOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		i := r.createOTP(t, "SMS", "EN", false)
		batch := r.poll(t)
		for range 2 {
			if _, err := r.proc.Process(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
		}
		r.drain(t) // the write-back's own record (the claim's is filtered out)
		if n := len(r.box.messages()); n != 1 {
			t.Errorf("%d messages after a replay, want 1", n)
		}
		evs := r.log.of(i.ID)
		if got := detailTypes(evs); got != "identification.created@1 identification.code.sent@2" {
			t.Errorf("events %s", got)
		}
		// Replaying the whole stream once more changes nothing.
		again := append(batch, r.poll(t)...)
		if _, err := r.proc.Process(t.Context(), again); err != nil {
			t.Fatal(err)
		}
		if n, m := len(r.box.messages()), len(r.log.of(i.ID)); n != 1 || m != 2 {
			t.Errorf("after a second replay: %d messages, %d events; want 1 and 2", n, m)
		}
	})
}

// crashingStore fails FinishDelivery once, after the send: the crash
// between the send and the write-back.
type crashingStore struct {
	*dynamostore.Store
	crashed bool
}

func (s *crashingStore) FinishDelivery(ctx context.Context, ref identification.Ref, nonce string, outcome identification.Delivery, at time.Time) (*identification.Identification, error) {
	if !s.crashed {
		s.crashed = true
		return nil, errors.New("crash")
	}
	return s.Store.FinishDelivery(ctx, ref, nonce, outcome, at)
}

func TestACrashBetweenSendAndWriteBackSendsOnce(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		r.proc.Store = &crashingStore{Store: r.store}
		i := r.createOTP(t, "SMS", "EN", false)
		batch := r.poll(t)
		n, err := r.proc.Process(t.Context(), batch)
		if err == nil {
			t.Fatal("the injected crash was not reported")
		}
		// The platform hands the batch again from the failed record.
		if _, err := r.proc.Process(t.Context(), batch[n:]); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		if got := len(r.box.messages()); got != 1 {
			t.Errorf("%d messages, want 1", got)
		}
		if got := detailTypes(r.log.of(i.ID)); got != "identification.created@1" {
			t.Errorf("events %s, want the create's once", got)
		}
		// The claim stands until it goes stale: the read says PENDING, and
		// an admin's resend delivers a new code.
		r.advance(time.Minute)
		if _, err := r.svc.Resend(t.Context(), i.Ref(), admin); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		if got := len(r.box.messages()); got != 2 {
			t.Errorf("%d messages after the resend, want 2", got)
		}
	})
}

func TestAFailingProviderIsRetriedThenRecordedAsFailed(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		r.box.fail = errors.New("provider throttled")
		i := r.createOTP(t, "SMS", "EN", false)
		r.drain(t)
		if fmt.Sprint(r.waits) != "[200ms 400ms]" {
			t.Errorf("back-off %v, want [200ms 400ms] between three attempts", r.waits)
		}
		got, _ := r.svc.Get(t.Context(), i.Ref())
		if got.OTP.Delivery.Status != identification.DeliveryFailed {
			t.Errorf("delivery %+v, want FAILED", got.OTP.Delivery)
		}
		if evs := detailTypes(r.log.of(i.ID)); evs != "identification.created@1 identification.delivery.failed@2" {
			t.Errorf("events %s", evs)
		}
		// A refusal for good is not retried.
		r.waits = nil
		r.box.fail = fmt.Errorf("bad number: %w", identification.ErrUndeliverable)
		r.createOTP(t, "SMS", "EN", false)
		r.drain(t)
		if len(r.waits) != 0 {
			t.Errorf("an undeliverable message was retried: %v", r.waits)
		}
		// Once the provider is back, an admin's resend delivers.
		r.box.fail = nil
		r.advance(31 * time.Second)
		if _, err := r.svc.Resend(t.Context(), i.Ref(), admin); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		if msgs := r.box.messages(); len(msgs) != 1 || msgs[0].IdentificationID != i.ID {
			t.Errorf("after the resend: %+v", msgs)
		}
	})
}

func TestEventsOfAFlowComeInVersionOrderWithoutActorData(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		i := r.createOTP(t, "SMS", "ES", true)
		// An external code: the organisation has it from the create.
		created, _ := r.store.Get(t.Context(), i.Ref())
		_ = created
		wrong := identification.Validation{Code: "zzzzzz"}
		_ = r.svc.Validate(t.Context(), i.Ref(), wrong, actor)
		if _, err := r.svc.Cancel(t.Context(), i.Ref(), "done", admin); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		evs := r.log.of(i.ID)
		if got := detailTypes(evs); got != "identification.created@1 identification.in_progress@2 identification.cancelled@3" {
			t.Errorf("events %s", got)
		}
		if len(r.box.messages()) != 0 {
			t.Error("an external code was sent by the system")
		}
		for _, ev := range evs {
			b, _ := json.Marshal(ev)
			for _, pii := range []string{"Zacar", "Distinctname", "98765432Z", "612345678", "zacarias@"} {
				if strings.Contains(string(b), pii) {
					t.Errorf("event %s carries actor data", b)
				}
			}
		}

		// 200 processes changed concurrently: each one's events in order.
		var wg sync.WaitGroup
		ids := make([]*identification.Identification, 200)
		for n := range ids {
			wg.Go(func() {
				ids[n] = r.createOTP(t, "SMS", "EN", true)
				r.svc.Close(context.Background(), ids[n].Ref(), admin)
			})
		}
		wg.Wait()
		r.drain(t)
		for _, p := range ids {
			if got := detailTypes(r.log.of(p.ID)); got != "identification.created@1 identification.closed@2" {
				t.Fatalf("%s: events %s", p.ID, got)
			}
		}
	})
}

func TestChainStepsArePublished(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		in := identification.CreateChain{Actor: &identification.Actor{Name: "Ana", Email: "ana@example.com"}, ExpiresIn: "PT1H", Sequence: []identification.Step{
			{IdentificationType: "AGENT"},
			{IdentificationType: "OTP", OTPStep: &identification.OTPStep{Channel: &identification.Channel{Type: "EMAIL"}}}}}
		c, err := r.svc.CreateChain(t.Context(), "acme", in, admin)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.svc.StartChain(t.Context(), c.Ref(), actor); err != nil {
			t.Fatal(err)
		}
		agent := identification.Caller{Kind: identification.CallerAgent, Sub: "agent-1"}
		if err := r.svc.CompleteAgent(t.Context(), c.Ref(), identification.AgentResult{Agent: "Agent Smith"}, agent); err != nil {
			t.Fatal(err)
		}
		r.drain(t)
		got := detailTypes(r.log.of(c.ID))
		want := "identification.created@1 identification.in_progress@2 identification.step.current@2 " +
			"identification.step.completed@3 identification.step.current@3 identification.code.sent@4"
		if got != want {
			t.Errorf("events\n got %s\nwant %s", got, want)
		}
		if msgs := r.box.messages(); len(msgs) != 1 || msgs[0].Channel != "EMAIL" {
			t.Errorf("the OTP step's code: %+v", msgs)
		}
	})
}

func detailTypes(evs []identification.Event) string {
	var parts []string
	for _, e := range evs {
		parts = append(parts, fmt.Sprintf("%s@%d", e.DetailType, e.Version))
	}
	return strings.Join(parts, " ")
}

// TestAnExtendPublishesExtended: a change that moves an open process's
// expiry, and nothing else, publishes identification.extended, once; a
// change of status that also dates the end publishes only the status.
func TestAnExtendPublishesExtended(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	old := &identification.Identification{ID: "x", OrgID: "acme", Type: identification.TypeOTP, Status: identification.StatusInProgress, ExpiresAt: at, Version: 2}
	extended := identification.Clone(old)
	extended.ExpiresAt, extended.Version = at.Add(time.Hour), 3
	if got := detailTypes(stream.Events(old, extended)); got != "identification.extended@3" {
		t.Errorf("extend: events %s", got)
	}
	if got := detailTypes(stream.Events(extended, extended)); got != "" {
		t.Errorf("no change: events %s", got)
	}
	cancelled := identification.Clone(extended)
	cancelled.Status, cancelled.Version = identification.StatusCancelled, 4
	if got := detailTypes(stream.Events(extended, cancelled)); got != "identification.cancelled@4" {
		t.Errorf("cancel: events %s", got)
	}
}
