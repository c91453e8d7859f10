package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/idadmin/api/shared/identification"
)

var validationSeeds = []string{
	`{"code":"k4khb9","two_factor":"12345678A"}`,
	`{"code":"K4KHB9"}`,
	`{"code":"k4khb9","two_factor":" 1234-5678 a "}`,
	`{"code":"k4khb","two_factor":"x"}`,
	`{"code":"k4khb9!"}`,
	`{"code":123456}`,
	`{"code":"k4khb9","code":"aaaaaa"}`,
	`{"code":"k4khb9","two_factor":"a\u200bb"}`,
	`{"code":"k4khb9","extra":1}`,
	`{}`, ``, `[]`, `{"code":"\ud800k4khb"}`,
}

// FuzzParseValidation: whatever the body, the parser accepts only a code
// of 6 letters or digits and a second factor of readable text, reports
// problems by path without echoing the values, and never panics.
func FuzzParseValidation(f *testing.F) {
	for _, s := range validationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseValidation(body)
		checkEncodingVerdict(t, body, err)
		if err != nil {
			checkRejection(t, err, func(p string) bool {
				return p == "body" || p == "code" || p == "two_factor" || strings.HasPrefix(p, "[")
			})
			return
		}
		if fields := in.Validate(); len(fields) > 0 {
			t.Fatalf("accepted, but Validate reports %v", fields)
		}
		if !identification.ValidCodeShape(in.Code) {
			t.Fatalf("accepted code %q", in.Code)
		}
		if msg := readableText(in.TwoFactor, false); msg != "" {
			t.Fatalf("accepted two_factor %+q: %s", in.TwoFactor, msg)
		}
		if utf8.RuneCountInString(in.TwoFactor) > 254 {
			t.Fatalf("accepted a two_factor of %d characters", utf8.RuneCountInString(in.TwoFactor))
		}
	})
}

var agentSeeds = []string{
	`{"agent":"Agent Smith"}`,
	`{"agent":"Agent Smith","evidence_metadata":"{\"call_id\":\"c-1\"}"}`,
	`{"agent":"Agent Smith","evidence_metadata":"not json"}`,
	`{"agent":""}`, `{"agent":"\u200b"}`, `{"agent":"A\nB"}`,
	`{"agent":"` + strings.Repeat("a", 101) + `"}`,
	`{"agent":"A","evidence_metadata":"` + strings.Repeat("1", 4097) + `"}`,
}

// FuzzParseAgentResult: an accepted agent is readable one-line text of 1 to
// 100 characters, and accepted metadata is a JSON text of at most 4 KiB.
func FuzzParseAgentResult(f *testing.F) {
	for _, s := range agentSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := parseAgentResult(body)
		checkEncodingVerdict(t, body, err)
		if err != nil {
			checkRejection(t, err, func(p string) bool {
				return p == "body" || p == "agent" || p == "evidence_metadata" || strings.HasPrefix(p, "[")
			})
			return
		}
		if fields := in.Validate(); len(fields) > 0 {
			t.Fatalf("accepted, but Validate reports %v", fields)
		}
		if n := utf8.RuneCountInString(in.Agent); n < 1 || n > 100 || !hasVisible(in.Agent) {
			t.Fatalf("accepted agent %+q", in.Agent)
		}
		if msg := readableText(in.Agent, false); msg != "" {
			t.Fatalf("accepted agent %+q: %s", in.Agent, msg)
		}
		if m := in.EvidenceMetadata; m != "" && (len(m) > 4096 || !json.Valid([]byte(m))) {
			t.Fatalf("accepted evidence_metadata of %d bytes, valid JSON %v", len(m), json.Valid([]byte(m)))
		}
	})
}
