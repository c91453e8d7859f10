package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Poster makes one delivery attempt: a POST of body with headers to url,
// through the one client that may reach an organisation's URL (egress:
// public addresses only, no redirects, AttemptTimeout, MaxResponseBytes).
// It returns the status answered, or an error whose Reason is ours to show
// (never the receiver's answer).
type Poster interface {
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (int, error)
}

// Reasoned is an error with a short reason in our words ("timeout",
// "tls", "private_address"), which a delivery's last_error shows.
type Reasoned interface {
	error
	Reason() string
}

// Sender delivers queued messages (Received) to their endpoints: one
// package, two entry points, as the stream processor has: the
// webhook-sender Lambda feeds it the batches of the SQS FIFO queue, the dev
// server those of its in-process queue.
type Sender struct {
	Store  Store
	Sealer Sealer
	Post   Poster
	// Now is the clock (time.Now when nil); Jitter draws a retry's jitter
	// (Jitter when nil).
	Now    func() time.Time
	Jitter func() float64
	Logger *slog.Logger
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Sender) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// storeRetry is how soon a message is taken again when the store failed
// while it was handled (the endpoint could not be read, or the attempt's
// outcome recorded), at its attempt-th receive: the delivery's own
// back-off (5 s, then 1 min, 10 min, 1 h, 3 h, every 6 h), never given up.
// Every receive counts towards the queue's redrive policy (50 receives,
// then the dead-letter queue, where a message reaches no endpoint): a
// fixed 5 s would dead-letter every message in flight in an outage of the
// store of four minutes, while this takes days.
func storeRetry(attempt int) time.Duration {
	return backoff[min(max(attempt, 1), len(backoff))-1]
}

// Handle handles a batch, in order, and returns each message's outcome.
// Within one group (an endpoint and a process) a message is attempted only
// if every one before it in the batch is done: otherwise it is handed back
// untouched (RetryAt now), and its queue gives it again after the one that
// holds it up, so order holds whatever the batch. The endpoint is read
// afresh for every message, never kept from one message to the next: a
// batch may hold many messages of one endpoint (the dev server's queue
// hands over every group's head at once) and last minutes, and a
// deletion, a disable (its organisation's, or the one an earlier message's
// failure made), a new URL or a rotation holds from the next message.
func (s *Sender) Handle(ctx context.Context, batch []Received) []Outcome {
	out := make([]Outcome, len(batch))
	held := map[string]bool{}
	for n, r := range batch {
		g := r.Message.Group()
		if held[g] {
			out[n] = Outcome{RetryAt: s.now()}
			continue
		}
		o, err := s.handle(ctx, r)
		if err != nil {
			s.log().ErrorContext(ctx, "webhook delivery not recorded", slog.String("org", r.Message.OrgID),
				slog.String("webhook_id", r.Message.EndpointID), slog.String("delivery_id", r.Message.ID()), slog.String("error", err.Error()))
			o = Outcome{RetryAt: s.now().Add(storeRetry(r.Attempt))}
		}
		if !o.Done {
			held[g] = true
		}
		out[n] = o
	}
	return out
}

// endpoint reads m's endpoint; nil when it was deleted.
func (s *Sender) endpoint(ctx context.Context, m Message) (*Stored, error) {
	st, err := s.Store.Endpoint(ctx, m.OrgID, m.EndpointID)
	if identification.KindOf(err) == identification.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func (s *Sender) handle(ctx context.Context, r Received) (Outcome, error) {
	m := r.Message
	st, err := s.endpoint(ctx, m)
	if err != nil {
		return Outcome{}, err
	}
	if st == nil {
		return Outcome{Done: true}, nil // deleted: nothing to deliver, nowhere to log
	}
	now := s.now()
	d := Delivery{ID: m.ID(), EndpointID: m.EndpointID, OrgID: m.OrgID, EventType: m.Event.DetailType,
		IdentificationID: m.Event.ID, Version: m.Event.Version, Attempts: r.Attempt, At: m.Event.At, Sandbox: m.Sandbox}
	if st.Endpoint.Status != StatusEnabled && m.Event.DetailType != TestEvent {
		// Not an attempt: the log keeps the attempts made and the last
		// answer, and says why no more are made.
		d.Attempts = 0
		if prev, _, err := s.Store.Delivery(ctx, m.OrgID, m.EndpointID, d.ID); err == nil {
			d.Attempts, d.LastStatusCode = prev.Attempts, prev.LastStatusCode
		} else if identification.KindOf(err) != identification.KindNotFound {
			return Outcome{}, err
		}
		d.Status, d.LastError = DeliveryFailed, "the endpoint is disabled"
		return Outcome{Done: true}, s.Store.SaveDelivery(ctx, d, m.Event)
	}
	code, reason := s.attempt(ctx, st, m, now)
	d.LastStatusCode = code
	if reason == "" {
		d.Status, d.DeliveredAt = DeliveryDelivered, &now
		if err := s.Store.SaveDelivery(ctx, d, m.Event); err != nil {
			return Outcome{}, err
		}
		if st.Endpoint.FailingSince != nil {
			if err := s.Store.Succeeded(ctx, m.OrgID, m.EndpointID, now); err != nil {
				return Outcome{}, err
			}
		}
		return Outcome{Done: true}, nil
	}
	d.LastError = reason
	e, err := s.Store.Failing(ctx, m.OrgID, m.EndpointID, now)
	if identification.KindOf(err) == identification.KindNotFound {
		return Outcome{Done: true}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	jitter := Jitter
	if s.Jitter != nil {
		jitter = s.Jitter
	}
	first := r.First
	if first.IsZero() {
		first = now
	}
	next, again := NextAttempt(r.Attempt, first, now, jitter())
	outcome := Outcome{Done: true}
	d.Status = DeliveryFailed
	if again {
		d.Status, d.NextAttemptAt, outcome = DeliveryPending, &next, Outcome{RetryAt: next}
	}
	if err := s.Store.SaveDelivery(ctx, d, m.Event); err != nil {
		return Outcome{}, err
	}
	if since := e.FailingSince; since != nil && now.Sub(*since) >= GiveUpAfter && e.Status == StatusEnabled {
		reason := "every delivery failed for " + strconv.Itoa(int(GiveUpAfter/time.Hour)) + " hours"
		if _, err := s.Store.Disable(ctx, m.OrgID, m.EndpointID, reason, *since, now); err != nil {
			return Outcome{}, err
		}
		s.log().WarnContext(ctx, "webhook endpoint disabled", slog.String("org", m.OrgID), slog.String("webhook_id", m.EndpointID))
	}
	return outcome, nil
}

// attempt posts m to the endpoint and returns the status answered and,
// when it failed, why in our words ("" on a 2xx).
func (s *Sender) attempt(ctx context.Context, st *Stored, m Message, now time.Time) (int, string) {
	secrets, err := s.secrets(st, now)
	if err != nil {
		s.log().ErrorContext(ctx, "webhook secret", slog.String("org", m.OrgID), slog.String("webhook_id", m.EndpointID), slog.String("error", err.Error()))
		return 0, "the endpoint's secret could not be read"
	}
	body, err := Body(m.Event, m.Sandbox)
	if err != nil {
		return 0, "the event could not be written"
	}
	ts := now.Unix()
	sig, err := SignatureHeader(secrets, m.ID(), ts, body)
	if err != nil {
		return 0, "the event could not be signed"
	}
	headers := map[string]string{"Content-Type": "application/json", "webhook-id": m.ID(),
		"webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
	code, err := s.Post.Post(ctx, st.Endpoint.URL, headers, body)
	host := hostOf(st.Endpoint.URL)
	if err != nil {
		reason := "the request failed"
		var r Reasoned
		if errors.As(err, &r) {
			reason = r.Reason()
		}
		s.log().InfoContext(ctx, "webhook attempt failed", slog.String("org", m.OrgID), slog.String("webhook_id", m.EndpointID),
			slog.String("host", host), slog.String("reason", reason))
		return code, reason
	}
	if code < 200 || code > 299 {
		return code, fmt.Sprintf("answered %d", code)
	}
	return code, ""
}

// secrets are the endpoint's secrets that sign at now, opened: the current
// one, and the previous one during its grace.
func (s *Sender) secrets(st *Stored, now time.Time) ([]string, error) {
	owner := SecretOwner(st.Endpoint.OrgID, st.Endpoint.ID)
	cur, err := s.Sealer.Open(SecretPurpose, owner, st.Secret)
	if err != nil {
		return nil, err
	}
	out := []string{string(cur)}
	if st.PreviousSecret != "" && now.Before(st.PreviousUntil) {
		prev, err := s.Sealer.Open(SecretPurpose, owner, st.PreviousSecret)
		if err != nil {
			return nil, err
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// hostOf is the host of a URL, the only part of it a log holds.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
