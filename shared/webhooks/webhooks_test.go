package webhooks_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// verify is a receiver's check, written from the Standard Webhooks
// specification rather than from the package's signer: the secret's bytes
// are the base64 after "whsec_"; the signed content is
// "{id}.{timestamp}.{body}"; the header holds space-separated "v1,<base64>"
// signatures, any one of which may match.
func verify(secret, id, timestamp string, body []byte, header string) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "." + string(body)))
	want := m.Sum(nil)
	for _, sig := range strings.Fields(header) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// TestSignatureOfTheSpecificationsExample: the example of the Standard
// Webhooks specification signs to its published signature.
func TestSignatureOfTheSpecificationsExample(t *testing.T) {
	got, err := webhooks.Signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Errorf("Signature = %q, %v; want %q", got, err, want)
	}
}

// TestARotationSignsWithBothSecrets: during a rotation the header carries
// a signature under each secret, and a receiver holding either verifies
// it; one holding neither does not; and a changed body, id or timestamp
// verifies under none.
func TestARotationSignsWithBothSecrets(t *testing.T) {
	oldSecret, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	newSecret, _ := webhooks.NewSecret()
	other, _ := webhooks.NewSecret()
	body := []byte(`{"type":"identification.completed"}`)
	header, err := webhooks.SignatureHeader([]string{newSecret, oldSecret}, "msg_1", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(header)); n != 2 {
		t.Fatalf("header %q: %d signatures, want 2", header, n)
	}
	for _, s := range []string{oldSecret, newSecret} {
		if !verify(s, "msg_1", "1700000000", body, header) {
			t.Errorf("a receiver holding one of the secrets does not verify %q", header)
		}
	}
	if verify(other, "msg_1", "1700000000", body, header) {
		t.Error("another secret verifies")
	}
	if verify(newSecret, "msg_2", "1700000000", body, header) || verify(newSecret, "msg_1", "1700000001", body, header) ||
		verify(newSecret, "msg_1", "1700000000", []byte(`{"type":"identification.failed"}`), header) {
		t.Error("a changed id, timestamp or body verifies")
	}
	if _, err := webhooks.SignatureHeader(nil, "msg_1", 1, body); err == nil {
		t.Error("signed with no secret")
	}
	if _, err := webhooks.Signature("not-a-secret", "msg_1", 1, body); err == nil {
		t.Error("signed with a secret without its prefix")
	}
}

func TestNewSecretsAreRandom32Bytes(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		s, err := webhooks.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(raw) != 32 {
			t.Fatalf("secret %q: want whsec_ and the base64 of 32 bytes", s)
		}
		if seen[s] {
			t.Fatal("the same secret twice")
		}
		seen[s] = true
	}
}

// TestRetriesBackOffForThreeDays: the waits follow 5 s, 1 min, 10 min,
// 1 h, 3 h, then 6 h, each within a fifth either side; a receiver that
// always fails is tried for three days and no longer.
func TestRetriesBackOffForThreeDays(t *testing.T) {
	first := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for n, want := range []time.Duration{5 * time.Second, time.Minute, 10 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour, 6 * time.Hour} {
		for _, j := range []float64{0, 0.5, 0.999} {
			next, ok := webhooks.NextAttempt(n+1, first, first, j)
			got := next.Sub(first)
			if !ok || got < want*4/5 || got > want*6/5 {
				t.Errorf("after failure %d (jitter %.3f): wait %s, %v; want %s ± a fifth", n+1, j, got, ok, want)
			}
		}
		if next, _ := webhooks.NextAttempt(n+1, first, first, 0.5); next.Sub(first) != want {
			t.Errorf("after failure %d: the middle jitter waits %s, want %s", n+1, next.Sub(first), want)
		}
	}
	// Retried for at least three days: the last attempt is made when they
	// are up, whatever the jitter, and none after it.
	for _, j := range []float64{0, 0.5, 0.999} {
		at, attempts := first, 1
		for {
			next, ok := webhooks.NextAttempt(attempts, first, at, j)
			if !ok {
				break
			}
			if !next.After(at) {
				t.Fatalf("jitter %.3f: attempt %d at %s, not after the one before at %s", j, attempts+1, next, at)
			}
			at, attempts = next, attempts+1
			if attempts > 100 {
				t.Fatal("never gives up")
			}
		}
		if span := at.Sub(first); span != webhooks.GiveUpAfter {
			t.Errorf("jitter %.3f: the last attempt is %s after the first; want %s, the three days", j, span, webhooks.GiveUpAfter)
		}
		if attempts < 15 {
			t.Errorf("jitter %.3f: %d attempts in three days, want at least 15", j, attempts)
		}
	}
	// An attempt failed after the three days (a late receive) is the last.
	if _, ok := webhooks.NextAttempt(20, first, first.Add(webhooks.GiveUpAfter+time.Minute), 0.5); ok {
		t.Error("an attempt that failed after the three days has another after it")
	}
}

func event(version int64, at time.Time) identification.Event {
	return identification.Event{DetailType: "identification.completed", OrgID: "acme", ID: "01890a5d-ac96-774b-bcce-b302099a8057",
		Type: identification.TypeOTP, Status: identification.StatusCompleted, Previous: identification.StatusInProgress, Version: version, At: at}
}

// TestDeliveryIDs: one id per event and endpoint, computed, never drawn:
// the same event and endpoint give the same id; another endpoint, version,
// type or step another; ids sort by the event's time.
func TestDeliveryIDs(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	e := event(5, at)
	id := webhooks.DeliveryID("wh_1", e)
	if id != webhooks.DeliveryID("wh_1", e) || !regexp.MustCompile(`^msg_[0-9a-f]{11}[a-z2-7]{24}$`).MatchString(id) {
		t.Fatalf("id %q: want one stable id of the documented shape", id)
	}
	step := e
	step.DetailType, step.Step = "identification.step.completed", &identification.StepRef{Position: 1, Type: "OTP", Status: "COMPLETED"}
	step2 := step
	step2.Step = &identification.StepRef{Position: 2, Type: "OTP", Status: "COMPLETED"}
	other := []string{webhooks.DeliveryID("wh_2", e), webhooks.DeliveryID("wh_1", event(6, at)), webhooks.DeliveryID("wh_1", step), webhooks.DeliveryID("wh_1", step2)}
	for n, o := range other {
		if o == id || slices.Contains(other[n+1:], o) {
			t.Errorf("ids %v and %q: want all different", other, id)
		}
	}
	if later := webhooks.DeliveryID("wh_1", event(4, at.Add(time.Millisecond))); later <= id {
		t.Errorf("a later event's id %q sorts before %q", later, id)
	}
}

// TestTheBodyIsTheEventsDetail: type, timestamp, and the event's detail
// with sandbox; nothing else.
func TestTheBodyIsTheEventsDetail(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	b, err := webhooks.Body(event(5, at), true)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "identification.completed", "timestamp": "2026-12-01T10:00:00Z", "data": map[string]any{
		"org_id": "acme", "id": "01890a5d-ac96-774b-bcce-b302099a8057", "type": "OTP", "status": "COMPLETED",
		"previous_status": "IN_PROGRESS", "version": 5.0, "at": "2026-12-01T10:00:00Z", "sandbox": true}}
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("body %s, want %s", g, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// TestInputs: every rule an input breaks is reported at its field, and
// never with the value.
func TestInputs(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", webhooks.MaxURL)
	tooMany := make([]string, webhooks.MaxEvents+1)
	for n := range tooMany {
		tooMany[n] = "identification.completed"
	}
	for _, c := range []struct {
		name   string
		in     webhooks.Input
		create bool
		want   []string
	}{
		{"a registration", webhooks.Input{URL: ptr("https://hooks.example.com/idadmin"), Events: []string{"*"}, HasEvents: true}, true, nil},
		{"a registration of some types", webhooks.Input{URL: ptr("https://hooks.example.com/x"), Events: []string{"identification.completed", "webhook.test"}, HasEvents: true, Description: ptr("prod")}, true, nil},
		{"nothing", webhooks.Input{}, true, []string{"url", "events"}},
		{"a status on registration", webhooks.Input{URL: ptr("https://a.example"), Events: []string{"*"}, HasEvents: true, Status: ptr(webhooks.StatusDisabled)}, true, []string{"status"}},
		{"ftp", webhooks.Input{URL: ptr("ftp://a.example/x"), Events: []string{"*"}, HasEvents: true}, true, []string{"url"}},
		{"too long", webhooks.Input{URL: &long, Events: []string{"*"}, HasEvents: true}, true, []string{"url"}},
		{"no events", webhooks.Input{URL: ptr("https://a.example"), Events: []string{}, HasEvents: true}, true, []string{"events"}},
		{"too many events", webhooks.Input{URL: ptr("https://a.example"), Events: tooMany, HasEvents: true}, true, []string{"events"}},
		{"unknown, twice, star among others", webhooks.Input{URL: ptr("https://a.example"), Events: []string{"identification.done", "identification.failed", "identification.failed", "*"}, HasEvents: true}, true,
			[]string{"events[0]", "events[2]", "events[3]"}},
		{"a description over two lines", webhooks.Input{URL: ptr("https://a.example"), Events: []string{"*"}, HasEvents: true, Description: ptr("a\nb")}, true, []string{"description"}},
		{"an empty change", webhooks.Input{}, false, []string{""}},
		{"a change of status", webhooks.Input{Status: ptr(webhooks.StatusDisabled)}, false, nil},
		{"an unknown status", webhooks.Input{Status: ptr(webhooks.Status("PAUSED"))}, false, []string{"status"}},
	} {
		p := &identification.Problems{}
		if c.create {
			c.in.CheckCreate(p)
		} else {
			c.in.CheckChange(p)
		}
		var got []string
		for _, f := range p.Fields() {
			got = append(got, f.Path)
			if strings.Contains(f.Message, "identification.done") || strings.Contains(f.Message, "ftp://") {
				t.Errorf("%s: the message %q repeats the value", c.name, f.Message)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: problems at %q, want %q", c.name, got, c.want)
		}
	}
}

// TestEventTypesAreTheDocumentedOnes: the types an endpoint may subscribe
// to are the event types docs/delivery-and-events.md documents, and the
// test event.
func TestEventTypesAreTheDocumentedOnes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/delivery-and-events.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile(`identification\.[a-z_.]*[a-z]`).FindAllString(string(doc), -1)
	slices.Sort(documented)
	documented = slices.Compact(documented)
	got := slices.DeleteFunc(webhooks.EventTypes(), func(s string) bool { return s == webhooks.TestEvent })
	slices.Sort(got)
	if !slices.Equal(got, documented) {
		t.Errorf("event types %q, documented %q", got, documented)
	}
	e := webhooks.Endpoint{Status: webhooks.StatusEnabled, Events: []string{"identification.completed"}}
	if !e.Wants("identification.completed") || e.Wants("identification.failed") {
		t.Error("an endpoint receives other types than its own")
	}
	e.Events = []string{"*"}
	if !e.Wants("identification.failed") {
		t.Error("an endpoint of every type does not receive one")
	}
	e.Status = webhooks.StatusDisabled
	if e.Wants("identification.failed") {
		t.Error("a disabled endpoint receives events")
	}
}
