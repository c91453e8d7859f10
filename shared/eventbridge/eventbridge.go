// Package eventbridge publishes the API's events (identification.Event) to an
// Amazon EventBridge bus with PutEvents.
package eventbridge

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	eb "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/idadmin/api/shared/identification"
)

// MaxBatch is the most entries one PutEvents call takes.
const MaxBatch = 10

// NewClient creates an EventBridge client for region, signing with creds
// (the function's own, which the composition root, shared/app, read once).
// Like the DynamoDB client it builds aws.Config by hand instead of loading
// the shared config files. With endpoint set (a local emulator) it calls
// that endpoint; nil creds are placeholder ones, for such an emulator.
func NewClient(region, endpoint string, creds aws.CredentialsProvider) *eb.Client {
	if creds == nil {
		creds = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	cfg := aws.Config{Region: region, Credentials: creds}
	return eb.NewFromConfig(cfg, func(o *eb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Publisher puts events on one bus (identification.Publisher). Each event is
// an entry with Source identification.EventSource, DetailType the event's
// DetailType, Detail the event as JSON (its json tags: ids, type, statuses,
// version and time, never actor data) and Time the event's At.
//
// Events go in calls of at most MaxBatch entries, in the order given, one
// call after the other. Publish stops at the first call that fails or that
// EventBridge accepts only in part (FailedEntryCount > 0), and returns an
// error naming how many entries failed; the events after that call are not
// sent. It does not retry entries itself: retrying is the caller's job, and
// it retries the whole call, so that events before the failure may be
// published twice. Consumers de-duplicate by the detail's id and version
// (an identification's version grows with each change), which also orders
// them: EventBridge does not promise to deliver entries in the order they
// were put.
type Publisher struct {
	client *eb.Client
	bus    string
}

var _ identification.Publisher = (*Publisher)(nil)

// New returns a publisher to the bus named bus (a name or an ARN) through
// client.
func New(client *eb.Client, bus string) *Publisher {
	return &Publisher{client: client, bus: bus}
}

// Publish puts events on the bus, in order.
func (p *Publisher) Publish(ctx context.Context, events []identification.Event) error {
	entries := make([]types.PutEventsRequestEntry, 0, len(events))
	for i := range events {
		e, err := p.entry(&events[i])
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	for start := 0; start < len(entries); start += MaxBatch {
		end := min(start+MaxBatch, len(entries))
		out, err := p.client.PutEvents(ctx, &eb.PutEventsInput{Entries: entries[start:end]})
		if err != nil {
			return fmt.Errorf("eventbridge: put events %d to %d of %d: %w", start+1, end, len(entries), err)
		}
		if n := out.FailedEntryCount; n > 0 {
			return fmt.Errorf("eventbridge: %d of the %d events %d to %d of %d were not published (%s)",
				n, end-start, start+1, end, len(entries), failureCodes(out.Entries))
		}
	}
	return nil
}

func (p *Publisher) entry(e *identification.Event) (types.PutEventsRequestEntry, error) {
	if e.DetailType == "" {
		return types.PutEventsRequestEntry{}, fmt.Errorf("eventbridge: event %s version %d has no detail type", e.ID, e.Version)
	}
	detail, err := json.Marshal(e)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("eventbridge: encode event %s version %d: %w", e.ID, e.Version, err)
	}
	entry := types.PutEventsRequestEntry{
		EventBusName: aws.String(p.bus),
		Source:       aws.String(identification.EventSource),
		DetailType:   aws.String(e.DetailType),
		Detail:       aws.String(string(detail)),
	}
	if !e.At.IsZero() {
		entry.Time = aws.Time(e.At)
	}
	return entry, nil
}

// failureCodes lists the error codes of the failed entries, each once
// (their messages are left out).
func failureCodes(results []types.PutEventsResultEntry) string {
	seen := map[string]bool{}
	for _, r := range results {
		if code := aws.ToString(r.ErrorCode); code != "" {
			seen[code] = true
		}
	}
	if len(seen) == 0 {
		return "no error code"
	}
	codes := make([]string, 0, len(seen))
	for c := range seen {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}
