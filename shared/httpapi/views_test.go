package httpapi

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
)

// jsonPaths lists every key path of a JSON document ("actor.name",
// "sequence[].otp.delivery.status").
func jsonPaths(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			jsonPaths(p, e, out)
		}
	case []any:
		for _, e := range x {
			jsonPaths(prefix+"[]", e, out)
		}
	}
}

// viewPaths renders the read of i and lists its key paths.
func viewPaths(t *testing.T, i *identification.Identification) []string {
	t.Helper()
	b, err := json.Marshal(viewOf(i))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	jsonPaths("", doc, set)
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestReadsAreAWhitelist: the read of a process with every domain field
// set holds exactly these keys. A field added to a domain type changes
// nothing here unless a view names it; the code's hash, key and nonce, the
// guesses and the store's bookkeeping are never among them.
func TestReadsAreAWhitelist(t *testing.T) {
	i, _ := fixture.Full()
	want := strings.Fields(`actor actor.email actor.identity_document actor.identity_document.country
		actor.identity_document.document_number actor.identity_document.document_type actor.language
		actor.last_name actor.msisdn actor.msisdn.country_code actor.msisdn.phone_number actor.name
		cancel_reason channel channel.external channel.type completed_at completed_device
		completed_device.fingerprint completed_device.installation_id completed_device.ip
		completed_device.location completed_device.user_agent created_at device device.fingerprint
		device.installation_id device.ip device.location device.user_agent ended_at expires_at
		failure_reason id org_id sequence sequence[].agent sequence[].agent.completed_at
		sequence[].agent.name sequence[].agent.sub sequence[].decision sequence[].evidence sequence[].identification_type
		sequence[].identity_document_step sequence[].identity_document_step.provider_type
		sequence[].otp sequence[].otp.attempts sequence[].otp.attempts_left
		sequence[].otp.code_expires_at sequence[].otp.codes_sent sequence[].otp.delivery
		sequence[].otp.delivery.attempts sequence[].otp.delivery.last_tried_at
		sequence[].otp.delivery.status sequence[].otp.max_codes sequence[].otp_step
		sequence[].otp_step.channel sequence[].otp_step.channel.external sequence[].otp_step.channel.type
		sequence[].otp_step.two_factor_type sequence[].status status two_factor_type type updated_at version`)
	if got := viewPaths(t, i); !reflect.DeepEqual(got, want) {
		t.Errorf("the read's keys changed:\n got %v\nwant %v", got, want)
	}
}

// TestADomainFieldReachesNoResponse proves the whitelist with a field added
// to a domain type: a copy of Identification with one more field, rendered
// the way the views render, shows nothing of it, while a plain JSON dump of
// the same struct (what responses were before views) would.
func TestADomainFieldReachesNoResponse(t *testing.T) {
	i, code := fixture.Full()
	type grown struct {
		*identification.Identification
		CodeHash string `json:"code_hash"` // the field someone adds
	}
	g := grown{Identification: i, CodeHash: code.Hash}
	dump, _ := json.Marshal(g)
	if !strings.Contains(string(dump), code.Hash) {
		t.Fatal("the control failed: a dump of the grown struct does not show the new field")
	}
	view, _ := json.Marshal(viewOf(g.Identification))
	for _, secret := range []string{code.Hash, code.Nonce, code.KeyID, code.Guesses[0]} {
		if strings.Contains(string(view), `"`+secret+`"`) {
			t.Errorf("the read shows %q", secret)
		}
	}
}

// TestEveryErrorKindIsDocumented: each kind of domain error has a row in
// the error table, an anchor in docs/errors.md and a response in the
// OpenAPI document with its status.
func TestEveryErrorKindIsDocumented(t *testing.T) {
	errorsDoc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	openapi, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range identification.Kinds {
		c, ok := errorTable[k]
		if !ok {
			t.Errorf("kind %s has no row in the error table", k)
			continue
		}
		if !strings.Contains(string(errorsDoc), "## "+c.Code) && !strings.Contains(string(errorsDoc), `id="`+c.Code+`"`) {
			t.Errorf("kind %s: docs/errors.md has no section for %s", k, c.Code)
		}
		if !strings.Contains(string(openapi), c.Code) {
			t.Errorf("kind %s: docs/openapi.yaml never mentions %s", k, c.Code)
		}
	}
}

func TestMSISDNMarshalsPhoneAsNumber(t *testing.T) {
	b, err := json.Marshal(msisdnView{PhoneNumber: "6123456789", CountryCode: "34"})
	if err != nil || string(b) != `{"phone_number":6123456789,"country_code":"34"}` {
		t.Errorf("got %s, %v", b, err)
	}
	// Never invalid JSON, even for a value the rules would refuse.
	b, err = json.Marshal(msisdnView{PhoneNumber: "0612", CountryCode: "34"})
	if err != nil || !json.Valid(b) {
		t.Errorf("leading zero: got %s, %v", b, err)
	}
}
