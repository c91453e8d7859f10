package stream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// withSettings wires the rig's service and processor to the
// organisations' settings in the rig's table, through one cache, as the
// functions are, and returns the settings service.
func (r *rig) withSettings(t *testing.T) *settings.Service {
	t.Helper()
	clock := func() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }
	cache := settings.NewCache(r.store, clock)
	r.svc = identification.NewService(r.store, identification.WithClock(clock), identification.WithCodeKeys(fixture.CodeKeys()),
		identification.WithPolicies(cache))
	r.proc.Texts = cache
	return settings.NewService(r.store, r.store, clock)
}

var ops = identification.Caller{Kind: identification.CallerAdmin, Sub: "ops-7", RequestID: "req-7"}

// TestSettingsShapeCodesAndMessages: an organisation's code length and
// lifetime shape the codes issued for it, its channels bound what it may
// ask the service to deliver, and its name, default language and own
// texts are what its actors receive; a code keeps the length it was issued
// with when the settings change after.
func TestSettingsShapeCodesAndMessages(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		svc := r.withSettings(t)
		ctx := t.Context()
		if _, err := svc.Put(ctx, "acme", settings.Settings{DisplayName: "Acme Bank", DefaultLanguage: "DE", CodeLength: 8, CodeTTLMinutes: 3,
			Channels: []string{"SMS", "EMAIL"},
			Messages: map[string]map[string]string{"SMS": {"ES": "{org}: tu clave es {code}. Caduca en {minutes} min."}}}, 0, ops); err != nil {
			t.Fatal(err)
		}
		sms := r.createOTP(t, "SMS", "ES", false)
		mail := r.createOTP(t, "EMAIL", "", false)
		if got := sms.OTP.CodeExpiresAt; !got.Equal(start.Add(3 * time.Minute)) {
			t.Errorf("the code expires at %v, want 3 minutes after %v", got, start)
		}
		r.drain(t)
		byID := map[string]identification.Message{}
		for _, m := range r.box.messages() {
			byID[m.IdentificationID] = m
		}
		m := byID[sms.ID]
		_, text := identification.RenderMessage(m)
		if len(m.Code) != 8 || text != "Acme Bank: tu clave es "+m.Code+". Caduca en 3 min." {
			t.Errorf("the SMS: code %q, text %q", m.Code, text)
		}
		if err := r.svc.Validate(ctx, sms.Ref(), identification.Validation{Code: m.Code}, actor); err != nil {
			t.Errorf("the 8-character code does not validate: %v", err)
		}
		m = byID[mail.ID]
		subject, text := identification.RenderMessage(m)
		if m.Language != "DE" || !strings.Contains(subject, "Acme Bank") || !strings.Contains(text, "Acme Bank: Ihr Identifizierungscode lautet "+m.Code) || len(m.Code) != 8 {
			t.Errorf("the e-mail to an actor without a language: %+v\n%s\n%s", m, subject, text)
		}

		// A channel the organisation does not deliver on is refused, by
		// name; the same channel delivered by the organisation is not.
		in := identification.CreateOTP{Actor: &identification.Actor{Name: "A", Email: "a@example.com",
			MSISDN: &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
			Channel: &identification.Channel{Type: "WHATSAPP"}, ExpiresIn: "P1D"}
		_, err := r.svc.CreateOTP(ctx, "acme", in, admin)
		var de *identification.Error
		if !errors.As(err, &de) || de.Kind != identification.KindInvalid || len(de.Fields) != 1 || de.Fields[0].Path != "channel.type" ||
			!strings.Contains(de.Fields[0].Message, "SMS, EMAIL") {
			t.Errorf("a create by WhatsApp: %v", err)
		}
		in.Channel.External = true
		if _, err := r.svc.CreateOTP(ctx, "acme", in, admin); err != nil {
			t.Errorf("a create by WhatsApp delivered by the organisation: %v", err)
		}
		chain := identification.CreateChain{Actor: in.Actor, ExpiresIn: "P1D", Sequence: []identification.Step{
			{IdentificationType: identification.StepAgent},
			{IdentificationType: identification.StepOTP, OTPStep: &identification.OTPStep{TwoFactorType: "EMAIL", Channel: &identification.Channel{Type: "WHATSAPP"}}}}}
		if _, err := r.svc.CreateChain(ctx, "acme", chain, admin); !errors.As(err, &de) || len(de.Fields) != 1 || de.Fields[0].Path != "sequence[1].otp_step.channel.type" {
			t.Errorf("a chain whose OTP step goes by WhatsApp: %v", err)
		}

		// The settings change: a code issued before keeps its length; a
		// new one has the new length. Another organisation has the
		// defaults.
		before := r.createOTP(t, "SMS", "EN", false)
		cur, _ := svc.Get(ctx, "acme")
		next := cur.Settings.Clone()
		next.CodeLength = 10
		if _, err := svc.Put(ctx, "acme", next, cur.Version, ops); err != nil {
			t.Fatal(err)
		}
		r.advance(settings.CacheTTL)
		after := r.createOTP(t, "SMS", "EN", false)
		r.drain(t)
		for _, m := range r.box.messages() {
			want := map[string]int{before.ID: 8, after.ID: 10}[m.IdentificationID]
			if want != 0 && len(m.Code) != want {
				t.Errorf("process %s: a code of %d characters, want %d", m.IdentificationID, len(m.Code), want)
			}
		}
		globex, err := r.svc.CreateOTP(ctx, "globex", identification.CreateOTP{Actor: in.Actor, Channel: &identification.Channel{Type: "SMS", External: true}}, admin)
		if err != nil || len(globex.Code) != identification.CodeLength || !globex.OTP.CodeExpiresAt.Equal(r.now.Add(identification.DefaultCodeTTL)) {
			t.Errorf("another organisation's code: %v, %+v", err, globex)
		}
	})
}

// failingTexts fails until it is told to answer.
type failingTexts struct{ fail error }

func (f *failingTexts) MessageTexts(context.Context, string) (identification.MessageTexts, error) {
	return identification.MessageTexts{Name: "Acme Bank"}, f.fail
}

// TestAFailedSettingsReadClaimsNothing: the processor reads the
// organisation's texts before it claims the delivery, so that a record
// that fails for them is handed over again and sends its code then, once.
func TestAFailedSettingsReadClaimsNothing(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		r := newRig(t, e)
		texts := &failingTexts{fail: identification.Errorf(identification.KindUnavailable, "throttled")}
		r.proc.Texts = texts
		i := r.createOTP(t, "SMS", "EN", false)
		recs := r.poll(t)
		if n, err := r.proc.Process(t.Context(), recs); err == nil || n != 0 {
			t.Fatalf("with the settings unreadable: %d handled, %v", n, err)
		}
		if got := len(r.box.messages()); got != 0 {
			t.Fatalf("%d messages sent with the settings unreadable", got)
		}
		texts.fail = nil
		if n, err := r.proc.Process(t.Context(), recs); err != nil || n != len(recs) {
			t.Fatalf("the same records again: %d of %d, %v", n, len(recs), err)
		}
		r.drain(t)
		msgs := r.box.messages()
		if len(msgs) != 1 || msgs[0].IdentificationID != i.ID || msgs[0].Name != "Acme Bank" {
			t.Errorf("after the settings could be read: %+v", msgs)
		}
	})
}
