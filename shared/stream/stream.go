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
	Logger   *slog.Logger
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
func (p *Processor) Process(ctx context.Context, records []Record) (int, error) {
	for n, r := range records {
		if err := p.handle(ctx, r); err != nil {
			return n, err
		}
	}
	return len(records), nil
}

func (p *Processor) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
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

func (p *Processor) handle(ctx context.Context, r Record) error {
	newer, err := p.decode(r.New)
	if err != nil {
		return fmt.Errorf("stream: new image: %w", err)
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
	owed, err := p.publish(ctx, newer, old)
	if err != nil {
		return err
	}
	// The version's events are out: the mark is owed, written by the
	// delivery's claim when there is one, else on its own, before anything
	// that may fail the record (a retry must not publish them again).
	marked, err := p.deliver(ctx, newer, owed)
	if owed && !marked {
		if _, merr := p.Store.MarkPublished(ctx, newer.Process); merr != nil {
			return fmt.Errorf("stream: mark %s v%d published: %w", newer.Process.ID, newer.Process.Version, merr)
		}
	}
	return err
}

// publish publishes the events of the change old → d, once: a version
// whose events were published already is skipped, so a replayed record
// publishes nothing twice. It reports whether it published, so that the
// version's published mark is owed (handle writes it).
func (p *Processor) publish(ctx context.Context, d *identification.StoredItem, old *identification.Identification) (bool, error) {
	i := d.Process
	evs := Events(old, i)
	if len(evs) == 0 || p.Publisher == nil {
		return false, nil
	}
	done, err := p.Store.Published(ctx, d.Ref)
	if err != nil {
		return false, fmt.Errorf("stream: published version of %s: %w", i.ID, err)
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

// deliver sends the code just issued, when the system delivers it: once,
// by the processor that claims it. With mark, the claim also marks the
// version published; it reports whether it did (the claim landed).
func (p *Processor) deliver(ctx context.Context, d *identification.StoredItem, mark bool) (bool, error) {
	i, code := d.Process, d.Code
	if code == nil || code.Nonce == "" || i.OTP == nil || i.OTP.Delivery.Status != identification.DeliveryPending || d.Sending {
		return false, nil
	}
	ch := identification.OTPChannel(i)
	if ch == nil || ch.External {
		return false, nil
	}
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
	claim, claimed, err := p.Store.ClaimDelivery(ctx, i, code.Nonce, at, mark)
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
	if _, err := p.Store.FinishDelivery(ctx, d.Ref, code.Nonce, outcome, p.now()); err != nil && identification.KindOf(err) != identification.KindConflict {
		return mark, fmt.Errorf("stream: record the delivery of %s: %w", i.ID, err)
	}
	return mark, nil
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
