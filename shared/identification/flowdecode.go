package identification

import (
	"encoding/json"
	"strings"
)

// Validation is the body of a validate call: the code, and the second
// factor when the process has one.
type Validation struct {
	Code      string
	TwoFactor string
}

// maxTwoFactor bounds a second-factor value: the longest it could rightly
// be is an e-mail address.
var maxTwoFactor = maxEmailLength

// ParseValidation decodes a validate body. Whether two_factor is required
// depends on the process (DOCUMENT_NUMBER and EMAIL need it): the attempt's
// own conditional write checks that, without a read before it.
func ParseValidation(body []byte) (Validation, error) {
	var in Validation
	p := &problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "code", "two_factor")
	if !ok {
		return in, p.err()
	}
	in.Code = str(p, m, "", "code")
	in.TwoFactor = str(p, m, "", "two_factor")
	if !p.isBad("code") {
		if _, ok := p.present(m, "", "code"); !ok {
			p.add("code", "is required")
		} else if !ValidCodeShape(in.Code) {
			p.add("code", "must be %d letters or digits", CodeLength)
		}
	}
	if !p.isBad("two_factor") {
		if msg := checkOptionalText(in.TwoFactor, oneLine, maxTwoFactor); msg != "" {
			p.add("two_factor", "%s", msg)
		}
	}
	return in, p.err()
}

// AgentResult is the body of the agent step's validate call.
type AgentResult struct {
	Agent            string
	EvidenceMetadata string
}

// maxEvidenceMetadata bounds the agent's evidence metadata (a JSON text).
const maxEvidenceMetadata = 4 << 10

// ParseAgentResult decodes the agent step's body: agent 1..100 characters,
// evidence_metadata an optional JSON text up to 4 KiB.
func ParseAgentResult(body []byte) (AgentResult, error) {
	var in AgentResult
	p := &problems{}
	v, err := parseBody(body, p)
	if err != nil {
		return in, err
	}
	m, ok := object(p, "", v, "agent", "evidence_metadata")
	if !ok {
		return in, p.err()
	}
	in.Agent = str(p, m, "", "agent")
	in.EvidenceMetadata = str(p, m, "", "evidence_metadata")
	if !p.isBad("agent") {
		if msg := checkName(in.Agent, maxNameLength); msg != "" {
			p.add("agent", "%s", msg)
		}
		in.Agent = strings.TrimSpace(nfc(in.Agent))
	}
	if !p.isBad("evidence_metadata") && in.EvidenceMetadata != "" {
		if len(in.EvidenceMetadata) > maxEvidenceMetadata {
			p.add("evidence_metadata", "must be at most %d bytes", maxEvidenceMetadata)
		} else if !json.Valid([]byte(in.EvidenceMetadata)) {
			p.add("evidence_metadata", "must be a JSON text")
		}
	}
	return in, p.err()
}

// documentSeparators are what a document number is compared without. One
// replacer for every call: building one cost 12 µs of every create
// (make bench's profile of the store path).
var documentSeparators = strings.NewReplacer(" ", "", "-", "")

// normalisedDocument is a document number as compared: upper case, without
// spaces or hyphens.
func normalisedDocument(s string) string {
	return strings.ToUpper(documentSeparators.Replace(s))
}

// normalisedEmail is an e-mail address as compared: trimmed, lower case.
func normalisedEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
