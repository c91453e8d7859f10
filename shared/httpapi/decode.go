// Request decoding: the bodies and the listing's query string as the API
// takes them (docs/openapi.yaml), read into the domain's inputs. A body is
// read by package wirejson (strict JSON, each problem at its path), each
// field taken by its JSON type; the rules are the input's own (its Check
// method, in the domain), reported after the problems of decoding, so that
// a request learns every problem at once, in one KindInvalid error. The
// answers are views.go's.

package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/wirejson"
)

func decodeActor(p *identification.Problems, path string, v any) *identification.Actor {
	m, ok := wirejson.Object(p, path, v, "name", "last_name", "identity_document", "email", "msisdn", "language")
	if !ok {
		return nil
	}
	a := &identification.Actor{
		Name:     wirejson.String(p, m, path, "name"),
		LastName: wirejson.String(p, m, path, "last_name"),
		Email:    wirejson.String(p, m, path, "email"),
		Language: wirejson.String(p, m, path, "language"),
	}
	if v, ok := wirejson.Present(p, m, path, "identity_document"); ok {
		dp := wirejson.Join(path, "identity_document")
		if dm, ok := wirejson.Object(p, dp, v, "document_number", "document_type", "country"); ok {
			a.IdentityDocument = &identification.IdentityDocument{
				DocumentNumber: wirejson.String(p, dm, dp, "document_number"),
				DocumentType:   wirejson.String(p, dm, dp, "document_type"),
				Country:        wirejson.String(p, dm, dp, "country"),
			}
		}
	}
	if v, ok := wirejson.Present(p, m, path, "msisdn"); ok {
		mp := wirejson.Join(path, "msisdn")
		if mm, ok := wirejson.Object(p, mp, v, "phone_number", "country_code"); ok {
			a.MSISDN = &identification.MSISDN{
				PhoneNumber: wirejson.Digits(p, mm, mp, "phone_number"),
				CountryCode: countryCode(p, mm, mp),
			}
		}
	}
	return a
}

// countryCode accepts a string (or, leniently, a number) of 1 to 3 digits
// with an optional leading "+", which is dropped.
func countryCode(p *identification.Problems, m map[string]any, path string) string {
	v, ok := wirejson.Present(p, m, path, "country_code")
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimPrefix(x, "+")
	case json.Number:
		if isDigits(string(x)) {
			return string(x)
		}
	}
	p.Fail(wirejson.Join(path, "country_code"), "must be a string of 1 to 3 digits, got %s", wirejson.Kind(v))
	return ""
}

// isDigits reports whether s is one or more of 0-9.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func decodeChannel(p *identification.Problems, path string, v any) *identification.Channel {
	m, ok := wirejson.Object(p, path, v, "type", "external")
	if !ok {
		return nil
	}
	return &identification.Channel{Type: wirejson.String(p, m, path, "type"), External: wirejson.Bool(p, m, path, "external")}
}

// parseCreateOTP decodes and validates the body of "create OTP
// identification". It reports every problem at once as a KindInvalid error.
func parseCreateOTP(body []byte) (identification.CreateOTP, error) {
	var in identification.CreateOTP
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return in, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "actor", "expires_in", "two_factor_type", "channel")
	if !ok {
		return in, p.Err()
	}
	if a, ok := wirejson.Present(p, m, "", "actor"); ok {
		in.Actor = decodeActor(p, "actor", a)
	}
	in.ExpiresIn = wirejson.String(p, m, "", "expires_in")
	in.TwoFactorType = wirejson.String(p, m, "", "two_factor_type")
	if c, ok := wirejson.Present(p, m, "", "channel"); ok {
		in.Channel = decodeChannel(p, "channel", c)
	}
	in.Check(p)
	return in, p.Err()
}

// parseCreateChain decodes and validates the body of "create chain
// identification". It reports every problem at once as a KindInvalid error.
func parseCreateChain(body []byte) (identification.CreateChain, error) {
	var in identification.CreateChain
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return in, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "actor", "expires_in", "sequence")
	if !ok {
		return in, p.Err()
	}
	if a, ok := wirejson.Present(p, m, "", "actor"); ok {
		in.Actor = decodeActor(p, "actor", a)
	}
	in.ExpiresIn = wirejson.String(p, m, "", "expires_in")
	if s, ok := wirejson.Present(p, m, "", "sequence"); ok {
		in.Sequence, in.SentSteps = decodeSequence(p, s)
	}
	in.Check(p)
	return in, p.Err()
}

// decodeSequence decodes the steps of a sequence; one too long to take is
// left undecoded, and its length returned instead.
func decodeSequence(p *identification.Problems, v any) (steps []identification.Step, undecoded int) {
	list, ok := v.([]any)
	if !ok {
		p.Fail("sequence", "must be an array, got %s", wirejson.Kind(v))
		return nil, 0
	}
	if len(list) > identification.MaxSteps {
		// Not walked: a hostile sequence must not cost one error per step.
		return nil, len(list)
	}
	steps = make([]identification.Step, 0, len(list))
	for i, sv := range list {
		path := "sequence[" + strconv.Itoa(i) + "]"
		m, ok := wirejson.Object(p, path, sv, "identification_type", "otp_step", "identity_document_step")
		if !ok {
			steps = append(steps, identification.Step{})
			continue
		}
		st := identification.Step{IdentificationType: wirejson.String(p, m, path, "identification_type")}
		if ov, ok := wirejson.Present(p, m, path, "otp_step"); ok {
			op := wirejson.Join(path, "otp_step")
			if om, ok := wirejson.Object(p, op, ov, "two_factor_type", "channel"); ok {
				st.OTPStep = &identification.OTPStep{TwoFactorType: wirejson.String(p, om, op, "two_factor_type")}
				if cv, ok := wirejson.Present(p, om, op, "channel"); ok {
					st.OTPStep.Channel = decodeChannel(p, wirejson.Join(op, "channel"), cv)
				}
			}
		}
		if dv, ok := wirejson.Present(p, m, path, "identity_document_step"); ok {
			dp := wirejson.Join(path, "identity_document_step")
			if dm, ok := wirejson.Object(p, dp, dv, "provider_type"); ok {
				st.IdentityDocumentStep = &identification.IdentityDocumentStep{ProviderType: wirejson.String(p, dm, dp, "provider_type")}
			}
		}
		steps = append(steps, st)
	}
	return steps, 0
}

// parseExtension decodes an extend body: {"expires_in": "<duration>"}.
func parseExtension(body []byte) (identification.Extension, error) {
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return identification.Extension{}, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "expires_in")
	if !ok {
		return identification.Extension{}, p.Err()
	}
	in := identification.Extension{ExpiresIn: wirejson.String(p, m, "", "expires_in")}
	if err := p.Err(); err != nil {
		return in, err // the rule is checked on a body read without a problem
	}
	in.Check(p)
	return in, p.Err()
}

// parseCancel decodes a cancel body. For an OTP identification the body and
// its reason are required (1..500 characters); for a chain both are
// optional. The reason is returned in its NFC form.
func parseCancel(body []byte, required bool) (reason string, err error) {
	if !required && len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return "", p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "reason")
	if !ok {
		return "", p.Err()
	}
	in := identification.Cancellation{Reason: wirejson.String(p, m, "", "reason")}
	in.Check(p, required)
	return in.Reason, p.Err()
}

// parseValidation decodes a validate body: the code is required.
func parseValidation(body []byte) (identification.Validation, error) {
	var in identification.Validation
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return in, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "code", "two_factor")
	if !ok {
		return in, p.Err()
	}
	in.Code = wirejson.String(p, m, "", "code")
	in.TwoFactor = wirejson.String(p, m, "", "two_factor")
	if _, ok := wirejson.Present(p, m, "", "code"); !ok && !p.Bad("code") {
		p.Fail("code", "is required")
	}
	in.Check(p)
	return in, p.Err()
}

// parseAgentResult decodes the agent step's body: agent 1..100 characters,
// evidence_metadata an optional JSON text up to 4 KiB.
func parseAgentResult(body []byte) (identification.AgentResult, error) {
	var in identification.AgentResult
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return in, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "agent", "evidence_metadata")
	if !ok {
		return in, p.Err()
	}
	in.Agent = wirejson.String(p, m, "", "agent")
	in.EvidenceMetadata = wirejson.String(p, m, "", "evidence_metadata")
	in.Check(p)
	return in, p.Err()
}

// parseUploadRequest decodes and checks an uploads request.
func parseUploadRequest(body []byte) (identification.UploadRequest, error) {
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return identification.UploadRequest{}, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "files")
	if !ok {
		return identification.UploadRequest{}, p.Err()
	}
	list, _ := m["files"].([]any)
	if !identification.CheckFileCount(p, len(list)) {
		return identification.UploadRequest{}, p.Err()
	}
	var in identification.UploadRequest
	for n, item := range list {
		path := fmt.Sprintf("files[%d]", n)
		f, ok := wirejson.Object(p, path, item, "kind", "content_type")
		if !ok {
			continue
		}
		in.AddFile(p, n, identification.UploadFile{Kind: identification.EvidenceKind(wirejson.String(p, f, path, "kind")), ContentType: wirejson.String(p, f, path, "content_type")})
	}
	if err := p.Err(); err != nil {
		return identification.UploadRequest{}, err
	}
	return in, nil
}

// parseEvidenceConfirm decodes and checks a confirm.
func parseEvidenceConfirm(body []byte) (identification.EvidenceConfirm, error) {
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return identification.EvidenceConfirm{}, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "kind", "key")
	if !ok {
		return identification.EvidenceConfirm{}, p.Err()
	}
	in := identification.EvidenceConfirm{Kind: identification.EvidenceKind(wirejson.String(p, m, "", "kind")), Key: wirejson.String(p, m, "", "key")}
	in.Check(p)
	if err := p.Err(); err != nil {
		return identification.EvidenceConfirm{}, err
	}
	return in, nil
}

// parseDecision decodes and checks a document decision.
func parseDecision(body []byte) (identification.DecisionInput, error) {
	p := &identification.Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return identification.DecisionInput{}, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "decision", "reason")
	if !ok {
		return identification.DecisionInput{}, p.Err()
	}
	in := identification.DecisionInput{Decision: wirejson.String(p, m, "", "decision"), Reason: wirejson.String(p, m, "", "reason")}
	in.Check(p)
	if err := p.Err(); err != nil {
		return identification.DecisionInput{}, err
	}
	return in, nil
}

// parseListQuery reads a listing's query string. Every bad parameter is a
// KindParameter error naming it and its rule (ListQuery.Set); an unknown
// one too, so that a misspelt filter is not silently ignored.
func parseListQuery(q url.Values) (identification.ListQuery, error) {
	out := identification.ListQuery{Limit: identification.DefaultListLimit}
	var bad []string
	for name, vals := range q {
		if len(vals) != 1 {
			bad = append(bad, safeParam(name)+": must be given at most once")
			continue
		}
		v := vals[0]
		if name == "phone" && strings.HasPrefix(v, " ") {
			// A "+" sent unencoded arrives as a space (form encoding).
			v = "+" + v[1:]
		}
		rule, known := out.Set(name, v)
		switch {
		case !known:
			bad = append(bad, safeParam(name)+": is not a parameter of this endpoint (status, created_from, created_to, email, phone, document_number, limit, cursor)")
		case rule != "":
			bad = append(bad, name+": "+rule)
		}
	}
	for _, f := range out.Validate() {
		bad = append(bad, f.String())
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return identification.ListQuery{}, identification.Errorf(identification.KindParameter, "%s", strings.Join(bad, "; "))
	}
	return out, nil
}

// safeParam is a parameter's name fit to repeat in an error: a name is
// chosen by the client, so anything but a short run of letters, digits and
// underscores is not echoed.
func safeParam(name string) string {
	if len(name) == 0 || len(name) > 32 {
		return "a parameter"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "a parameter"
		}
	}
	return name
}
