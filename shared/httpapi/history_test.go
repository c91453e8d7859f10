package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/sweep"
)

type historyItem struct {
	At        string `json:"at"`
	Action    string `json:"action"`
	From      string `json:"from"`
	To        string `json:"to"`
	By        struct{ Kind, Sub string }
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

func (f *flow) history(t *testing.T, typ, id string) []historyItem {
	t.Helper()
	r := f.do(t, http.MethodGet, "/v1/orgs/acme/identifications/"+typ+"/"+id+"/history", "", f.admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	var out struct{ Items []historyItem }
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// TestHistoryRecordsEveryChange: each change is in the history with who
// made it, why and the request id it answered; a refused action adds
// nothing; the sweep's expiry is the system's.
func TestHistoryRecordsEveryChange(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id, code, _ := f.createOTP(t, flowOTP)
		base := "/v1/orgs/acme/identifications/otp/" + id
		var ids []string
		note := func(r *apitest.Response) { ids = append(ids, r.Header.Get("X-Request-Id")) }
		note(f.do(t, http.MethodPut, base+"/validate", validateBody(wrong(code), "12345678A"), f.actor, f.device))
		f.env.Clock.Advance(31 * time.Second)
		note(f.do(t, http.MethodPost, base+"/resend", "", f.admin, nil))
		note(f.do(t, http.MethodPost, base+"/cancel", `{"reason":"customer asked"}`, f.admin, nil))
		if r := f.do(t, http.MethodPost, base+"/close", "", f.admin, nil); r.Status != http.StatusConflict {
			t.Fatalf("close after cancel: %d", r.Status)
		}
		got := f.history(t, "otp", id)
		want := []historyItem{
			{Action: "create", To: "CREATED"},
			{Action: "attempt", From: "CREATED", To: "IN_PROGRESS", RequestID: ids[0]},
			{Action: "issue_code", From: "IN_PROGRESS", To: "IN_PROGRESS", RequestID: ids[1]},
			{Action: "cancel", From: "IN_PROGRESS", To: "CANCELLED", Reason: "customer asked", RequestID: ids[2]},
		}
		kinds := []string{"admin", "actor", "admin", "admin"}
		if len(got) != len(want) {
			t.Fatalf("history %+v, want %d entries (a refused close adds none)", got, len(want))
		}
		for n, w := range want {
			g := got[n]
			if g.Action != w.Action || g.From != w.From || g.To != w.To || g.Reason != w.Reason || g.By.Kind != kinds[n] || g.By.Sub != "apitest" {
				t.Errorf("entry %d: %+v, want %+v by %s apitest", n, g, w, kinds[n])
			}
			if n > 0 && g.RequestID != w.RequestID {
				t.Errorf("entry %d: request id %q, want the answer's %q", n, g.RequestID, w.RequestID)
			}
		}

		// The sweep's expiry is the system's.
		id2, _, _ := f.createOTP(t, `{"actor":{"name":"Ana"},"expires_in":"PT1M","channel":{"type":"SMS","external":true}}`)
		f.env.Clock.Advance(2 * time.Minute)
		res := sweep.Run(t.Context(), f.env.Store, f.env.Store, f.env.Clock.Now(), sweep.Options{}, nil)
		if res.Expired < 1 {
			t.Fatalf("sweep: %s", res)
		}
		h := f.history(t, "otp", id2)
		if last := h[len(h)-1]; last.Action != "expire" || last.To != "EXPIRED" || last.By.Kind != "system" {
			t.Errorf("the sweep's entry: %+v", last)
		}
		// Another organisation's id reads like a random one.
		other := f.do(t, http.MethodGet, "/v1/orgs/globex/identifications/otp/"+id+"/history", "", f.env.Token(t, "globex", "identifications/admin"), nil)
		random := f.do(t, http.MethodGet, "/v1/orgs/globex/identifications/otp/"+newID(t)+"/history", "", f.env.Token(t, "globex", "identifications/admin"), nil)
		if other.Status != http.StatusNotFound || string(other.Body) != string(random.Body) {
			t.Errorf("another org: %d %s; random: %d %s", other.Status, other.Body, random.Status, random.Body)
		}
	})
}

func TestChainHistory(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		t.Parallel()
		f := newFlow(t, e)
		id := f.createChain(t, "")
		base := "/v1/orgs/acme/identifications/chain/" + id
		f.do(t, http.MethodPost, base+"/validate", "", f.actor, f.device)
		var resent struct {
			Code string `json:"otp_code"`
		}
		json.Unmarshal(f.do(t, http.MethodPost, base+"/otp/resend", "", f.admin, nil).Body, &resent)
		f.do(t, http.MethodPut, base+"/otp/validate", validateBody(resent.Code, "james@example.com"), f.actor, f.device)
		f.do(t, http.MethodPost, base+"/agent/validate", `{"agent":"Agent Smith"}`, f.agent, nil)
		var actions, by []string
		for _, h := range f.history(t, "chain", id) {
			actions = append(actions, h.Action+">"+h.To)
			by = append(by, h.By.Kind)
		}
		wantActions := "[create>CREATED start>IN_PROGRESS issue_code>IN_PROGRESS attempt>IN_PROGRESS complete_code>IN_PROGRESS complete_agent>COMPLETED]"
		if got := jsonish(actions); got != wantActions {
			t.Errorf("actions %s, want %s", got, wantActions)
		}
		if got := jsonish(by); got != "[admin actor admin actor actor agent]" {
			t.Errorf("by %s", got)
		}
	})
}

func jsonish(s []string) string {
	out := "["
	for n, x := range s {
		if n > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}
