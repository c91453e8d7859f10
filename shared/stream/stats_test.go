package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/stats"
	"github.com/idadmin/api/shared/sweep"
)

// refusing is a provider that refuses every message for good.
type refusing struct{}

func (refusing) Send(context.Context, identification.Message) (string, error) {
	return "", fmt.Errorf("%w: number not reachable", identification.ErrUndeliverable)
}

// TestStatisticsCountTheScriptedMix: after a scripted mix of outcomes (codes
// sent and delivered, a delivery the provider refuses, creates the guard
// refuses, processes completed, expired and cancelled) the statistics
// equal the counts the script made, per channel and per country and in
// total; every record handled a second time (a retried batch) counts
// nothing again, and each refusal is published once as
// identification.delivery.blocked.
func TestStatisticsCountTheScriptedMix(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newRig(t, e)
		svc := r.withGuard(t)
		r.proc.Stats, r.proc.Blocks, r.proc.Countries = r.store, r.store, numbers.CountryOf
		r.proc.Senders["WHATSAPP"] = refusing{}
		ctx := t.Context()
		if _, err := svc.Put(ctx, "acme", settings.Settings{Guard: settings.Guard{Mode: identification.GuardEnforce,
			AllowedCountries: []string{"ES", "FR"}}}, 0, ops); err != nil {
			t.Fatal(err)
		}
		create := func(channel, cc, phone string) (*identification.Identification, error) {
			out, err := r.svc.CreateOTP(ctx, "acme", identification.CreateOTP{
				Actor:   &identification.Actor{Name: "Ana", Email: "ana@example.com", MSISDN: &identification.MSISDN{CountryCode: cc, PhoneNumber: phone}},
				Channel: &identification.Channel{Type: channel}, ExpiresIn: "PT1H"}, admin)
			if err != nil {
				return nil, err
			}
			return out.Identification, nil
		}
		var sms []*identification.Identification
		for n := range 3 {
			i, err := create("SMS", "34", fmt.Sprintf("61234567%d", n))
			if err != nil {
				t.Fatal(err)
			}
			sms = append(sms, i)
		}
		if _, err := create("WHATSAPP", "34", "622222222"); err != nil {
			t.Fatal(err)
		}
		mail, err := create("EMAIL", "33", "612345678")
		if err != nil {
			t.Fatal(err)
		}
		for n := range 2 {
			if _, err := create("SMS", "44", fmt.Sprintf("771234567%d", n)); identification.KindOf(err) != identification.KindSendingBlocked {
				t.Fatalf("a create to the United Kingdom: %v, want refused by the guard", err)
			}
		}
		// Every record twice: the second time is a retried batch.
		replay := func() {
			t.Helper()
			for round := 0; round < 20; round++ {
				recs := r.poll(t)
				if len(recs) == 0 {
					return
				}
				for range 2 {
					if n, err := r.proc.Process(ctx, recs); err != nil {
						t.Fatalf("process: %d of %d: %v", n, len(recs), err)
					}
				}
			}
			t.Fatal("the stream did not run dry")
		}
		replay()
		codes := map[string]string{}
		for _, m := range r.box.messages() {
			codes[m.IdentificationID] = m.Code
		}
		for _, i := range sms[:2] {
			if err := r.svc.Validate(ctx, i.Ref(), identification.Validation{Code: codes[i.ID]}, actor); err != nil {
				t.Fatalf("validate %s: %v", i.ID, err)
			}
		}
		if _, err := r.svc.Cancel(ctx, mail.Ref(), "the customer asked", admin); err != nil {
			t.Fatal(err)
		}
		r.advance(2 * time.Hour) // the last SMS process and the WhatsApp one expire, an hour later
		if res := sweep.Run(ctx, r.store, r.store, r.now, sweep.Options{}, nil); res.Expired != 2 {
			t.Fatalf("sweep %v, want 2 expired", res)
		}
		replay()

		hours, err := r.store.Stats(ctx, "acme", start.Add(-time.Hour), start.Add(4*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		type counts = map[string]int64
		row := func(created, sent, delivered, deliveryFailed, blocked, completed, expired, cancelled int64) counts {
			return counts{stats.Created: created, stats.CodesSent: sent, stats.Delivered: delivered, stats.DeliveryFailed: deliveryFailed,
				stats.Blocked: blocked, stats.Flagged: 0, stats.Completed: completed, stats.Failed: 0, stats.Expired: expired, stats.Cancelled: cancelled}
		}
		for groupBy, want := range map[string]map[string]counts{
			stats.ByChannel: {"SMS": row(3, 3, 3, 0, 2, 2, 1, 0), "WHATSAPP": row(1, 1, 0, 1, 0, 0, 1, 0), "EMAIL": row(1, 1, 1, 0, 0, 0, 0, 1)},
			// The e-mail's actor has a French phone: an e-mail has no country.
			stats.ByCountry: {"ES": row(4, 4, 3, 1, 0, 2, 2, 0), stats.Unknown: row(1, 1, 1, 0, 0, 0, 0, 1), "GB": row(0, 0, 0, 0, 2, 0, 0, 0)},
			stats.ByType:    {"OTP": row(5, 5, 4, 1, 2, 2, 2, 1)},
			"":              {"": row(5, 5, 4, 1, 2, 2, 2, 1)},
		} {
			_, totals := stats.Report(hours, groupBy)
			got := map[string]counts{}
			for _, tot := range totals {
				got[tot.Group] = tot.Values
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("by %q:\n got %v\nwant %v", groupBy, got, want)
			}
			if groupBy == "" && (len(totals) != 1 || totals[0].Conversion == nil || *totals[0].Conversion != 0.4 || totals[0].P50 == nil) {
				t.Errorf("the total %+v: want conversion 0.4 (2 of 5) and a delivery time", totals)
			}
		}
		// The hours: created, sent and completed in the first; the
		// expiries two hours on.
		rows, _ := stats.Report(hours, "")
		if len(rows) != 2 || !rows[0].Hour.Equal(start.Truncate(time.Hour)) || rows[0].Values[stats.Expired] != 0 ||
			rows[1].Values[stats.Expired] != 2 || !rows[1].Hour.Equal(start.Add(2*time.Hour).Truncate(time.Hour)) {
			t.Errorf("hourly rows %+v, want the create's hour and the sweep's", rows)
		}
		blocked := 0
		r.log.mu.Lock()
		evs := append([]identification.Event(nil), r.log.events...)
		r.log.mu.Unlock()
		for _, ev := range evs {
			if ev.DetailType == "identification.delivery.blocked" {
				blocked++
				if ev.Rule != identification.RuleCountry || ev.Channel != "SMS" || ev.OrgID != "acme" || ev.Type != identification.TypeOTP {
					t.Errorf("blocked event %+v", ev)
				}
			}
		}
		if blocked != 2 {
			t.Errorf("%d identification.delivery.blocked events for 2 refused creates, each record handled twice", blocked)
		}
	})
}

// TestFlaggedSendsArePublishedAndCounted: in MONITOR mode a send the guard
// would have refused is created and sent, published once as
// identification.delivery.flagged with its rule, and counted as flagged
// (not blocked) in its country, next to its create.
func TestFlaggedSendsArePublishedAndCounted(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		r := newRig(t, e)
		svc := r.withGuard(t)
		r.proc.Stats, r.proc.Blocks, r.proc.Countries = r.store, r.store, numbers.CountryOf
		ctx := t.Context()
		if _, err := svc.Put(ctx, "acme", settings.Settings{Guard: settings.Guard{Mode: identification.GuardMonitor,
			AllowedCountries: []string{"ES"}}}, 0, ops); err != nil {
			t.Fatal(err)
		}
		out, err := r.svc.CreateOTP(ctx, "acme", identification.CreateOTP{
			Actor:   &identification.Actor{Name: "Ana", MSISDN: &identification.MSISDN{CountryCode: "44", PhoneNumber: "7712345670"}},
			Channel: &identification.Channel{Type: "SMS"}, ExpiresIn: "PT1H"}, admin)
		if err != nil {
			t.Fatalf("a monitored create: %v", err)
		}
		r.drain(t)
		var flagged []identification.Event
		for _, ev := range r.log.of(out.Identification.ID) {
			if ev.DetailType == "identification.delivery.flagged" {
				flagged = append(flagged, ev)
			}
		}
		if len(flagged) != 1 || flagged[0].Rule != identification.RuleCountry || flagged[0].Channel != "SMS" {
			t.Errorf("flagged events %+v, want one naming rule %s", flagged, identification.RuleCountry)
		}
		if len(r.box.messages()) != 1 {
			t.Errorf("%d messages sent, want the monitored one", len(r.box.messages()))
		}
		hours, err := r.store.Stats(ctx, "acme", start.Add(-time.Hour), start.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		_, totals := stats.Report(hours, stats.ByCountry)
		if len(totals) != 1 || totals[0].Group != "GB" || totals[0].Values[stats.Flagged] != 1 || totals[0].Values[stats.Blocked] != 0 ||
			totals[0].Values[stats.Created] != 1 || totals[0].Values[stats.Delivered] != 1 {
			t.Errorf("by country %+v, want GB: 1 created, delivered and flagged, none blocked", totals)
		}
	})
}
