// Package stream is the processor of the table's stream: it delivers the
// codes the system sends and publishes every change to the organisation.
// One processor, two entry points: the stream Lambda feeds it the records
// of a batch, the dev server the records it reads from the local engine's
// stream (docs/delivery-and-events.md).
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stats"
)

// Record is one stream record: its name (INSERT, MODIFY, REMOVE) and the
// item's images before and after.
type Record struct {
	EventName string
	Old, New  map[string]types.AttributeValue
}

// Decoder reads a record's image of an item of the table into the domain's
// terms (dynamostore.Store implements it): the processor depends on no
// store's layout of the table.
type Decoder interface {
	DecodeItem(image map[string]types.AttributeValue) (identification.StoredItem, error)
}

// Store is what the processor needs of the table (dynamostore.Store). Its
// bookkeeping (a claim, a published mark) is no change of the process: a
// store keeps it apart from the process, so that writing it makes no
// record the processor is fed (docs/delivery-and-events.md).
type Store interface {
	// ClaimDelivery claims the delivery of i's current code (nonce) at at,
	// i as the record shows it: true for the one caller that may send it.
	// It returns the delivery as claimed (its tries, this one included,
	// and when it was tried). With markPublished, a claim that succeeds
	// also marks i's version published (as MarkPublished would), in the
	// same write.
	ClaimDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time, markPublished bool) (identification.Delivery, bool, error)
	// FinishDelivery writes the claimed delivery's outcome (SENT or
	// FAILED, with the claim's tries): a change of the process.
	FinishDelivery(ctx context.Context, ref identification.Ref, nonce string, outcome identification.Delivery, at time.Time) (*identification.Identification, error)
	// MarkPublished records that i's events up to its version were
	// published (false when that version or a later one already was).
	MarkPublished(ctx context.Context, i *identification.Identification) (bool, error)
	// Published is the last version whose events were published.
	Published(ctx context.Context, ref identification.Ref) (int64, error)
}

// DeliveryStore is a Store that reads, for a record that issued a code, the
// process's published mark and whether it still owes the code's delivery
// in one call, then claims without reading again (dynamostore.Store):
// one read where Published and ClaimDelivery make two.
type DeliveryStore interface {
	DeliveryState(ctx context.Context, i *identification.Identification, nonce string, at time.Time) (published int64, owed bool, err error)
	ClaimOwedDelivery(ctx context.Context, i *identification.Identification, nonce string, at time.Time, markPublished bool) (identification.Delivery, bool, error)
}

// state is what DeliveryState read for a record.
type state struct {
	published int64
	owed      bool
}

// BlockMarks are the published marks of the sending guard's records
// (dynamostore.Store): a block's events go out once, and it is counted
// once, by the processor whose mark lands.
type BlockMarks interface {
	BlockPublished(ctx context.Context, b *identification.GuardBlock) (bool, error)
	MarkBlockPublished(ctx context.Context, b *identification.GuardBlock, at time.Time) (bool, error)
}

// Processor handles records in order.
type Processor struct {
	Store Store
	// Decoder reads the records' images (required; usually the Store).
	Decoder   Decoder
	Keys      *identification.CodeKeys
	Senders   map[string]identification.Sender // by channel type
	Publisher identification.Publisher
	// Texts give each organisation's name, default language and own texts
	// for its messages (nil: the built-in texts under its id).
	Texts identification.TextsSource
	// Evidence is the evidence bucket: a tombstone's record deletes the
	// images the process held (nil: the bucket is not this processor's).
	Evidence identification.EvidenceObjects
	// Blocks marks the guard's records published (nil: a guard record
	// publishes and counts nothing).
	Blocks BlockMarks
	// Stats receives the organisations' statistics, one write per
	// organisation and hour a batch touched (nil: nothing is counted).
	Stats stats.Adder
	// Countries maps a phone number to its country for the statistics
	// (nil: every country is stats.Unknown).
	Countries func(e164 string) string
	Logger    *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Attempts is how many times a send is tried (3 when 0), Backoff the
	// wait before the second (doubling after; 200 ms when 0), Sleep how it
	// waits (time.Sleep when nil, or a fake in tests).
	Attempts int
	Backoff  time.Duration
	Sleep    func(context.Context, time.Duration)
}

// Process handles records in order and returns how many it handled: all of
// them, or up to the first that failed, with its error. The caller retries
// from that one (the stream Lambda reports it as the batch's first
// failure), so per process everything happens in version order.
//
// What the handled records count goes to Stats in one write per
// organisation and hour, after the last record, whether or not one
// failed: a count is owed only once its record's mark (or its code's
// claim) has landed, so a retried record counts nothing again, and a
// count whose write fails is lost, never written twice
// (docs/api.md#statistics).
func (p *Processor) Process(ctx context.Context, records []Record) (int, error) {
	var tally stats.Tally
	defer p.flush(ctx, &tally)
	for n, r := range records {
		if err := p.handle(ctx, r, &tally); err != nil {
			return n, err
		}
	}
	return len(records), nil
}

// FlushTimeout bounds the writing of a batch's statistics.
const FlushTimeout = 5 * time.Second

// flush writes the batch's counts. A failure loses them (each was owed
// once and is not owed again): it is logged, and fails no record.
func (p *Processor) flush(ctx context.Context, tally *stats.Tally) {
	if p.Stats == nil || tally.Len() == 0 {
		return
	}
	// Past the batch's own deadline if need be (its records are handled),
	// but bounded: a throttled table must not hold the invocation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
	defer cancel()
	if err := tally.Flush(ctx, p.Stats); err != nil {
		p.log().ErrorContext(ctx, "statistics lost", slog.String("error", err.Error()))
	}
}

func (p *Processor) now() time.Time { return p.clock().Truncate(time.Second) }

// clock is the processor's clock to the nanosecond: what a delivery's time
// is measured by.
func (p *Processor) clock() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Processor) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Processor) decode(av map[string]types.AttributeValue) (*identification.StoredItem, error) {
	if len(av) == 0 {
		return nil, nil
	}
	if p.Decoder == nil {
		return nil, errors.New("no decoder configured")
	}
	d, err := p.Decoder.DecodeItem(av)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (p *Processor) handle(ctx context.Context, r Record, tally *stats.Tally) error {
	newer, err := p.decode(r.New)
	if err != nil {
		return fmt.Errorf("stream: new image: %w", err)
	}
	if newer != nil && newer.Block != nil {
		if len(r.Old) > 0 {
			return nil // the block's published mark: no new block
		}
		return p.block(ctx, newer.Block, tally)
	}
	older, err := p.decode(r.Old)
	if err != nil {
		return fmt.Errorf("stream: old image: %w", err)
	}
	var old *identification.Identification
	if older != nil {
		old = older.Process
	}
	if newer == nil || newer.Process == nil {
		// A removal or a tombstone: nothing to deliver or publish. A
		// process that became a tombstone was deleted: its images go too.
		if newer != nil && old != nil && p.Evidence != nil && len(old.Evidence) > 0 {
			if err := identification.RemoveEvidence(ctx, p.Evidence, old.Evidence); err != nil {
				return fmt.Errorf("stream: delete the images of deleted %s: %w", old.ID, err)
			}
		}
		return nil
	}
	if old != nil && old.Version == newer.Process.Version {
		// A write that changed no version: a claim or a published mark as
		// an earlier version of the store wrote them on the process item.
		return nil
	}
	deliverable := p.deliverable(newer)
	var pre *state
	if ds, ok := p.Store.(DeliveryStore); ok && deliverable {
		published, owes, err := ds.DeliveryState(ctx, newer.Process, newer.Code.Nonce, p.now())
		if err != nil {
			return fmt.Errorf("stream: delivery state of %s: %w", newer.Process.ID, err)
		}
		pre = &state{published: published, owed: owes}
	}
	owed, err := p.publish(ctx, newer, old, pre)
	if err != nil {
		return err
	}
	// The version's events are out: the mark is owed, written by the
	// delivery's claim when there is one, else on its own, before anything
	// that may fail the record (a retry must not publish them again). The
	// version's counts go with the mark: counted by whoever's mark lands.
	var marked bool
	if deliverable {
		marked, err = p.deliver(ctx, newer, owed, tally, pre)
	}
	if owed && !marked {
		landed, merr := p.Store.MarkPublished(ctx, newer.Process)
		if merr != nil {
			return fmt.Errorf("stream: mark %s v%d published: %w", newer.Process.ID, newer.Process.Version, merr)
		}
		marked = landed
	}
	if owed && marked {
		p.count(tally, old, newer.Process)
	}
	return err
}

// ended are the statuses the statistics count a process's end by.
var ended = map[identification.Status]string{identification.StatusCompleted: stats.Completed, identification.StatusFailed: stats.Failed,
	identification.StatusExpired: stats.Expired, identification.StatusCancelled: stats.Cancelled}

// count counts the change old → i: a new process, or its end. Every
// change it counts publishes an event, so its version's mark is owed.
func (p *Processor) count(tally *stats.Tally, old, i *identification.Identification) {
	if p.Stats == nil {
		return
	}
	if old == nil {
		tally.Count(i.OrgID, i.CreatedAt, p.dims(i), stats.Created)
	}
	if m, ok := ended[i.Status]; ok && (old == nil || old.Status != i.Status) {
		tally.Count(i.OrgID, i.UpdatedAt, p.dims(i), m)
	}
}

// dims are i's values in the statistics' dimensions: the channel of its
// code, the country of that code's destination (as the sending guard
// counts it: a phone number's, none for an e-mail), its type.
func (p *Processor) dims(i *identification.Identification) stats.Dims {
	d := stats.Dims{Channel: stats.Unknown, Country: stats.Unknown, Type: string(i.Type)}
	ch := identification.OTPChannel(i)
	if ch != nil {
		d.Channel = ch.Type
	}
	if p.Countries != nil && ch != nil && ch.Type != "EMAIL" && i.Actor.MSISDN != nil {
		if c := p.Countries(identification.E164(i.Actor.MSISDN)); c != "" {
			d.Country = c
		}
	}
	return d
}

// block publishes a guard block (identification.delivery.blocked, or
// .flagged for a send MONITOR let through) and counts it, once: a block
// whose mark is down already is skipped; its events go out before the
// mark, and it is counted by whoever's mark lands.
func (p *Processor) block(ctx context.Context, b *identification.GuardBlock, tally *stats.Tally) error {
	if p.Blocks == nil {
		return nil
	}
	done, err := p.Blocks.BlockPublished(ctx, b)
	if err != nil {
		return fmt.Errorf("stream: read the guard block of %s: %w", b.ID, err)
	}
	if done {
		return nil
	}
	metric, detail := stats.Blocked, "identification.delivery.blocked"
	if b.Mode == identification.GuardMonitor {
		metric, detail = stats.Flagged, "identification.delivery.flagged"
	}
	if p.Publisher != nil {
		e := identification.Event{DetailType: detail, OrgID: b.Org, ID: b.ID, Type: b.Type, Rule: b.Rule, Channel: b.Channel, At: b.At}
		if err := p.Publisher.Publish(ctx, []identification.Event{e}); err != nil {
			return fmt.Errorf("stream: publish the guard block of %s: %w", b.ID, err)
		}
	}
	landed, err := p.Blocks.MarkBlockPublished(ctx, b, p.now())
	if err != nil {
		return fmt.Errorf("stream: mark the guard block of %s published: %w", b.ID, err)
	}
	if landed && p.Stats != nil {
		country := b.Country
		if country == "" {
			country = stats.Unknown
		}
		tally.Count(b.Org, b.At, stats.Dims{Channel: b.Channel, Country: country, Type: string(b.Type)}, metric)
	}
	return nil
}

// publish publishes the events of the change old → d, once: a version
// whose events were published already is skipped, so a replayed record
// publishes nothing twice. It reports whether it published, so that the
// version's published mark is owed (handle writes it).
//
// pre, when not nil, is the published version read already.
func (p *Processor) publish(ctx context.Context, d *identification.StoredItem, old *identification.Identification, pre *state) (bool, error) {
	i := d.Process
	evs := Events(old, i)
	if len(evs) == 0 || p.Publisher == nil {
		return false, nil
	}
	var done int64
	if pre != nil {
		done = pre.published
	} else {
		var err error
		if done, err = p.Store.Published(ctx, d.Ref); err != nil {
			return false, fmt.Errorf("stream: published version of %s: %w", i.ID, err)
		}
	}
	if done >= i.Version {
		return false, nil
	}
	if err := p.Publisher.Publish(ctx, evs); err != nil {
		return false, fmt.Errorf("stream: publish events of %s v%d: %w", i.ID, i.Version, err)
	}
	return true, nil
}

// Events are what the change old → i publishes, in order: the status (or
// an extend's new expiry), then each step, then the code's delivery. old is nil for a new process.
func Events(old, i *identification.Identification) []identification.Event {
	base := identification.Event{OrgID: i.OrgID, ID: i.ID, Type: i.Type, Status: i.Status, Version: i.Version, At: i.UpdatedAt}
	var out []identification.Event
	if old == nil || old.Status != i.Status {
		e := base
		e.DetailType = "identification." + strings.ToLower(string(i.Status))
		if old != nil {
			e.Previous = old.Status
		}
		out = append(out, e)
	}
	if old != nil && old.Status == i.Status && !old.ExpiresAt.Equal(i.ExpiresAt) {
		e := base
		e.DetailType = "identification.extended"
		out = append(out, e)
	}
	for n, st := range i.Sequence {
		was := identification.StepPending
		if old != nil && n < len(old.Sequence) {
			was = old.Sequence[n].Status
		}
		if st.Status == was || (old == nil && st.Status == identification.StepPending) {
			continue
		}
		e := base
		e.DetailType = "identification.step." + strings.ToLower(st.Status)
		e.Step = &identification.StepRef{Position: n + 1, Type: st.IdentificationType, Status: st.Status}
		out = append(out, e)
	}
	for _, ev := range i.Evidence {
		if prev := evidenceOf(old, ev.Kind); prev != nil && prev.Key == ev.Key {
			continue
		}
		e := base
		e.DetailType = "identification.evidence.received"
		e.Evidence = ev.Kind
		out = append(out, e)
	}
	if d := i.Decision; d != nil && (old == nil || old.Decision == nil) {
		e := base
		e.DetailType = "identification.document.rejected"
		if d.Approved {
			e.DetailType = "identification.document.approved"
		}
		out = append(out, e)
	}
	var was, now string
	if old != nil && old.OTP != nil {
		was = old.OTP.Delivery.Status
	}
	if i.OTP != nil {
		now = i.OTP.Delivery.Status
	}
	if now != was {
		switch now {
		case identification.DeliverySent:
			e := base
			e.DetailType = "identification.code.sent"
			out = append(out, e)
		case identification.DeliveryFailed:
			e := base
			e.DetailType = "identification.delivery.failed"
			out = append(out, e)
		}
	}
	return out
}

// messageOf is the message of i's code on channel: in the actor's
// language, or the organisation's default, with the organisation's name
// and its own text for that channel and language when it has one.
func messageOf(i *identification.Identification, channel, code string, texts identification.MessageTexts, at time.Time) identification.Message {
	lang := i.Actor.Language
	if lang == "" {
		lang = texts.DefaultLanguage
	}
	until := identification.CodeExpiry(i)
	minutes := int(math.Ceil(until.Sub(at).Minutes()))
	return identification.Message{Channel: channel, To: destination(i, channel), Language: lang, Org: i.OrgID, Name: texts.Name,
		Text: texts.Texts[channel][strings.ToUpper(lang)], Minutes: max(minutes, 0), Code: code, ValidUntil: until, IdentificationID: i.ID}
}

// deliver sends the code just issued (d is deliverable): once,
// by the processor that claims it. With mark, the claim also marks the
// version published; it reports whether it did (the claim landed).
//
// A code whose claim lands is counted as sent, and its outcome as
// delivered (with the time from the code's issue to the provider's
// acceptance) or failed: the claim is won once per code.
//
// pre, when not nil, is what DeliveryState read: a code no longer owed is
// not claimed, one owed is claimed without reading again.
func (p *Processor) deliver(ctx context.Context, d *identification.StoredItem, mark bool, tally *stats.Tally, pre *state) (bool, error) {
	if pre != nil && !pre.owed {
		return false, nil // delivered already, replaced or ended
	}
	i, code := d.Process, d.Code
	ch := identification.OTPChannel(i)
	sender, ok := p.Senders[ch.Type]
	if !ok {
		return false, fmt.Errorf("stream: no sender for channel %s", ch.Type)
	}
	if p.Keys == nil {
		return false, errors.New("stream: no code keys configured")
	}
	// The organisation's texts are read before the claim: a failure to
	// read them fails the record before anything is claimed, and the
	// stream hands it over again.
	var texts identification.MessageTexts
	if p.Texts != nil {
		var err error
		if texts, err = p.Texts.MessageTexts(ctx, i.OrgID); err != nil {
			return false, fmt.Errorf("stream: the message settings of %s: %w", i.OrgID, err)
		}
	}
	at := p.now()
	claimDelivery := p.Store.ClaimDelivery
	if ds, ok := p.Store.(DeliveryStore); ok && pre != nil {
		claimDelivery = ds.ClaimOwedDelivery
	}
	claim, claimed, err := claimDelivery(ctx, i, code.Nonce, at, mark)
	if err != nil {
		return false, fmt.Errorf("stream: claim the delivery of %s: %w", i.ID, err)
	}
	if !claimed {
		return false, nil // delivered already, replaced, ended, or another processor's
	}
	text, err := p.Keys.Derive(d.Ref, code.KeyID, code.Nonce)
	if err != nil {
		return mark, fmt.Errorf("stream: code of %s: %w", i.ID, err)
	}
	var dims stats.Dims
	if p.Stats != nil {
		dims = p.dims(i)
		tally.Count(i.OrgID, at, dims, stats.CodesSent)
	}
	msg := messageOf(i, ch.Type, text, texts, at)
	id, sendErr := p.send(ctx, sender, msg)
	if sendErr != nil {
		// Logged without the destination or the code.
		p.log().WarnContext(ctx, "delivery failed", slog.String("org", i.OrgID), slog.String("identification_id", i.ID),
			slog.String("channel", ch.Type), slog.String("error", sendErr.Error()))
	}
	outcome := claim
	outcome.Status, outcome.MessageID = identification.DeliveryFailed, ""
	if sendErr == nil {
		outcome.Status, outcome.MessageID = identification.DeliverySent, id
	}
	if p.Stats != nil {
		if sendErr != nil {
			tally.Count(i.OrgID, at, dims, stats.DeliveryFailed)
		} else {
			tally.Count(i.OrgID, at, dims, stats.Delivered)
			if !i.OTP.LastCodeAt.IsZero() {
				tally.Latency(i.OrgID, at, dims, max(p.clock().Sub(i.OTP.LastCodeAt).Milliseconds(), 0))
			}
		}
	}
	if _, err := p.Store.FinishDelivery(ctx, d.Ref, code.Nonce, outcome, p.now()); err != nil && identification.KindOf(err) != identification.KindConflict {
		return mark, fmt.Errorf("stream: record the delivery of %s: %w", i.ID, err)
	}
	return mark, nil
}

// deliverable reports whether d's record issued a code the system
// delivers and has not claimed yet.
func (p *Processor) deliverable(d *identification.StoredItem) bool {
	i, code := d.Process, d.Code
	if i == nil || code == nil || code.Nonce == "" || i.OTP == nil || i.OTP.Delivery.Status != identification.DeliveryPending || d.Sending {
		return false
	}
	ch := identification.OTPChannel(i)
	return ch != nil && !ch.External
}

// send tries the provider up to Attempts times, with a doubling back-off,
// unless it refuses the message for good.
func (p *Processor) send(ctx context.Context, s identification.Sender, m identification.Message) (string, error) {
	attempts, wait := p.Attempts, p.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if wait <= 0 {
		wait = 200 * time.Millisecond
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}
	var err error
	for n := 0; n < attempts; n++ {
		if n > 0 {
			sleep(ctx, wait)
			wait *= 2
		}
		var id string
		id, err = s.Send(ctx, m)
		if err == nil {
			return id, nil
		}
		if errors.Is(err, identification.ErrUndeliverable) || ctx.Err() != nil {
			break
		}
	}
	return "", err
}

// destination is where channel sends to for i's actor.
func destination(i *identification.Identification, channel string) string {
	if channel == "EMAIL" {
		return i.Actor.Email
	}
	return identification.E164(i.Actor.MSISDN)
}

func evidenceOf(i *identification.Identification, kind identification.EvidenceKind) *identification.Evidence {
	if i == nil {
		return nil
	}
	return i.EvidenceOf(kind)
}
