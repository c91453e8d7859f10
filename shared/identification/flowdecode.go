package identification

import ()

// ParseValidation decodes a validate body: the code is required.
func ParseValidation(body []byte) (Validation, error) {
	var in Validation
	p := &Problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "code", "two_factor")
	if !ok {
		return in, p.Err()
	}
	in.Code = str(p, m, "", "code")
	in.TwoFactor = str(p, m, "", "two_factor")
	if _, ok := p.present(m, "", "code"); !ok && !p.Bad("code") {
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
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "agent", "evidence_metadata")
	if !ok {
		return in, p.Err()
	}
	in.Agent = str(p, m, "", "agent")
	in.EvidenceMetadata = str(p, m, "", "evidence_metadata")
	in.Check(p)
	return in, p.Err()
}
