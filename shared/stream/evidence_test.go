package stream_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// TestEvidenceAndDecisionsArePublished: an image recorded is one
// identification.evidence.received naming its kind, a decision one
// identification.document.approved or .rejected; a change that records
// neither publishes neither, and no event carries a key or a link.
func TestEvidenceAndDecisionsArePublished(t *testing.T) {
	old, _ := fixture.Full()
	old.Evidence, old.Decision = nil, nil
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	front := identification.Evidence{Kind: identification.EvidenceDocumentFront, Key: "orgs/acme/chain/x/DOCUMENT_FRONT/secret-key.png", ContentType: "image/png", Size: 9, At: at}
	withFront := identification.Clone(old)
	withFront.Evidence = []identification.Evidence{front}
	withFront.Version++
	replaced := identification.Clone(withFront)
	replaced.Evidence[0].Key = "orgs/acme/chain/x/DOCUMENT_FRONT/another-key.png"
	decided := identification.Clone(withFront)
	decided.Decision = &identification.DocumentDecision{Approved: false, Reason: "no match", ByKind: identification.CallerReviewer, At: at}
	decided.Status = identification.StatusFailed
	for _, c := range []struct {
		name     string
		old, new *identification.Identification
		want     []string
	}{
		{"an image", old, withFront, []string{"identification.evidence.received"}},
		{"the same image again", withFront, identification.Clone(withFront), nil},
		{"an image replaced", withFront, replaced, []string{"identification.evidence.received"}},
		{"a rejection", withFront, decided, []string{"identification.failed", "identification.document.rejected"}},
	} {
		var got []string
		for _, e := range stream.Events(c.old, c.new) {
			if strings.HasPrefix(e.DetailType, "identification.step.") {
				continue
			}
			got = append(got, e.DetailType)
			if e.DetailType == "identification.evidence.received" && e.Evidence != identification.EvidenceDocumentFront {
				t.Errorf("%s: evidence_kind %q", c.name, e.Evidence)
			}
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), "key") && !strings.Contains(string(b), `"evidence_kind"`) || strings.Contains(string(b), "orgs/") {
				t.Errorf("%s: the event carries the key: %s", c.name, b)
			}
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: events %v, want %v", c.name, got, c.want)
		}
	}
}
