package identification

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/idadmin/api/shared/wirejson"
)

func decodeActor(p *Problems, path string, v any) *Actor {
	m, ok := wirejson.Object(p, path, v, "name", "last_name", "identity_document", "email", "msisdn", "language")
	if !ok {
		return nil
	}
	a := &Actor{
		Name:     wirejson.String(p, m, path, "name"),
		LastName: wirejson.String(p, m, path, "last_name"),
		Email:    wirejson.String(p, m, path, "email"),
		Language: wirejson.String(p, m, path, "language"),
	}
	if v, ok := wirejson.Present(p, m, path, "identity_document"); ok {
		dp := wirejson.Join(path, "identity_document")
		if dm, ok := wirejson.Object(p, dp, v, "document_number", "document_type", "country"); ok {
			a.IdentityDocument = &IdentityDocument{
				DocumentNumber: wirejson.String(p, dm, dp, "document_number"),
				DocumentType:   wirejson.String(p, dm, dp, "document_type"),
				Country:        wirejson.String(p, dm, dp, "country"),
			}
		}
	}
	if v, ok := wirejson.Present(p, m, path, "msisdn"); ok {
		mp := wirejson.Join(path, "msisdn")
		if mm, ok := wirejson.Object(p, mp, v, "phone_number", "country_code"); ok {
			a.MSISDN = &MSISDN{
				PhoneNumber: wirejson.Digits(p, mm, mp, "phone_number"),
				CountryCode: countryCode(p, mm, mp),
			}
		}
	}
	return a
}

// countryCode accepts a string (or, leniently, a number) of 1 to 3 digits
// with an optional leading "+", which is dropped.
func countryCode(p *Problems, m map[string]any, path string) string {
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

func decodeChannel(p *Problems, path string, v any) *Channel {
	m, ok := wirejson.Object(p, path, v, "type", "external")
	if !ok {
		return nil
	}
	return &Channel{Type: wirejson.String(p, m, path, "type"), External: wirejson.Bool(p, m, path, "external")}
}

// ParseCreateOTP decodes and validates the body of "create OTP
// identification". It reports every problem at once as a KindInvalid error.
func ParseCreateOTP(body []byte) (CreateOTP, error) {
	var in CreateOTP
	p := &Problems{}
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

// ParseCreateChain decodes and validates the body of "create chain
// identification". It reports every problem at once as a KindInvalid error.
func ParseCreateChain(body []byte) (CreateChain, error) {
	var in CreateChain
	p := &Problems{}
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
func decodeSequence(p *Problems, v any) (steps []Step, undecoded int) {
	list, ok := v.([]any)
	if !ok {
		p.Fail("sequence", "must be an array, got %s", wirejson.Kind(v))
		return nil, 0
	}
	if len(list) > maxSteps {
		// Not walked: a hostile sequence must not cost one error per step.
		return nil, len(list)
	}
	steps = make([]Step, 0, len(list))
	for i, sv := range list {
		path := "sequence[" + strconv.Itoa(i) + "]"
		m, ok := wirejson.Object(p, path, sv, "identification_type", "otp_step", "identity_document_step")
		if !ok {
			steps = append(steps, Step{})
			continue
		}
		st := Step{IdentificationType: wirejson.String(p, m, path, "identification_type")}
		if ov, ok := wirejson.Present(p, m, path, "otp_step"); ok {
			op := wirejson.Join(path, "otp_step")
			if om, ok := wirejson.Object(p, op, ov, "two_factor_type", "channel"); ok {
				st.OTPStep = &OTPStep{TwoFactorType: wirejson.String(p, om, op, "two_factor_type")}
				if cv, ok := wirejson.Present(p, om, op, "channel"); ok {
					st.OTPStep.Channel = decodeChannel(p, wirejson.Join(op, "channel"), cv)
				}
			}
		}
		if dv, ok := wirejson.Present(p, m, path, "identity_document_step"); ok {
			dp := wirejson.Join(path, "identity_document_step")
			if dm, ok := wirejson.Object(p, dp, dv, "provider_type"); ok {
				st.IdentityDocumentStep = &IdentityDocumentStep{ProviderType: wirejson.String(p, dm, dp, "provider_type")}
			}
		}
		steps = append(steps, st)
	}
	return steps, 0
}

// ParseExtension decodes an extend body: {"expires_in": "<duration>"}.
func ParseExtension(body []byte) (Extension, error) {
	p := &Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return Extension{}, p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "expires_in")
	if !ok {
		return Extension{}, p.Err()
	}
	in := Extension{ExpiresIn: wirejson.String(p, m, "", "expires_in")}
	if err := p.Err(); err != nil {
		return in, err // the rule is checked on a body read without a problem
	}
	in.Check(p)
	return in, p.Err()
}

// ParseCancel decodes a cancel body. For an OTP identification the body and
// its reason are required (1..500 characters); for a chain both are
// optional. The reason is returned in its NFC form.
func ParseCancel(body []byte, required bool) (reason string, err error) {
	if !required && len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	p := &Problems{}
	v, ok := wirejson.Parse(body, p)
	if !ok {
		return "", p.Err()
	}
	m, ok := wirejson.Object(p, "", v, "reason")
	if !ok {
		return "", p.Err()
	}
	in := Cancellation{Reason: wirejson.String(p, m, "", "reason")}
	in.Check(p, required)
	return in.Reason, p.Err()
}
