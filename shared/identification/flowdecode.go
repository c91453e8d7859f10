package identification

import "github.com/idadmin/api/shared/wirejson"

// ParseValidation decodes a validate body: the code is required.
func ParseValidation(body []byte) (Validation, error) {
	var in Validation
	p := &Problems{}
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

// ParseAgentResult decodes the agent step's body: agent 1..100 characters,
// evidence_metadata an optional JSON text up to 4 KiB.
func ParseAgentResult(body []byte) (AgentResult, error) {
	var in AgentResult
	p := &Problems{}
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
