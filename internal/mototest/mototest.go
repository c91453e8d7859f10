// Package mototest runs moto_server, an AWS API emulator, for tests that
// send through Amazon SNS and SES v2, and reads back what it recorded.
//
// moto_server comes with the machine's Python (localengine.MotoHint
// elsewhere). One server serves a whole test binary: a package calls Main
// from its TestMain, and the server is stopped when the package's tests end.
// Without Main, the server lives while a test that called Start runs, and is
// stopped when the last of them ends; a later Start starts another. Either
// way parallel tests share the server and what it records, so each test
// sends to destinations of its own and looks only for them.
package mototest

import (
	"encoding/json"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/idadmin/api/internal/localengine"
)

var (
	mu sync.Mutex
	// cur is the running server, nil when none is.
	cur *localengine.Moto
	// users counts the running tests that called Start without Main.
	users int
	// inMain is set while Main runs its tests.
	inMain bool
)

// Main runs the package's tests with one moto_server for all of them,
// started by the first Start, and stops it when they end:
//
//	func TestMain(m *testing.M) { mototest.Main(m) }
func Main(m *testing.M) {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	inMain = false
	s := cur
	cur = nil
	mu.Unlock()
	if s != nil {
		s.Stop()
	}
	os.Exit(code)
}

// Start returns the endpoint of the moto_server for tb's binary, starting
// it if none runs. It fails tb, with the pip command, when moto_server is
// not installed.
func Start(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if cur == nil {
		s, err := localengine.StartMoto()
		if err != nil {
			tb.Fatalf("mototest: %v", err)
		}
		cur = s
	}
	s := cur
	if !inMain {
		users++
		tb.Cleanup(func() { release(s) })
	}
	return s.Endpoint
}

// release is a test's end without Main: the last running user stops s.
func release(s *localengine.Moto) {
	mu.Lock()
	users--
	last := users == 0 && cur == s && !inMain
	if last {
		cur = nil
	}
	mu.Unlock()
	if last {
		s.Stop()
	}
}

// DataJSON is the part of moto's GET /moto-api/data.json these tests read:
// what SES sent and what SNS texted, across accounts and regions.
type DataJSON struct {
	SES struct {
		Message []SESMessage `json:"Message"`
	} `json:"ses"`
	SNS struct {
		SMS []SMS `json:"SMS"`
	} `json:"sns"`
}

// SESMessage is an e-mail SES (v1 or v2) sent with Simple content.
type SESMessage struct {
	ID           string          `json:"id"`
	Source       string          `json:"source"`
	Subject      string          `json:"subject"`
	Body         string          `json:"body"`
	Destinations SESDestinations `json:"destinations"`
}

// SESDestinations are a message's recipients.
type SESDestinations struct {
	ToAddresses  []string `json:"ToAddresses"`
	CcAddresses  []string `json:"CcAddresses"`
	BccAddresses []string `json:"BccAddresses"`
}

// SMS is a text SNS Publish sent to a phone number.
type SMS struct {
	MessageID   string `json:"message_id"`
	PhoneNumber string `json:"phone_number"`
	Message     string `json:"message"`
}

// Data reads what the server at endpoint recorded.
func Data(tb testing.TB, endpoint string) DataJSON {
	tb.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(endpoint + "/moto-api/data.json")
	if err != nil {
		tb.Fatalf("mototest: read data.json: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("mototest: data.json: HTTP %d", resp.StatusCode)
	}
	var d DataJSON
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		tb.Fatalf("mototest: decode data.json: %v", err)
	}
	return d
}

// SMSTo are the texts sent to phone, oldest first.
func (d DataJSON) SMSTo(phone string) []SMS {
	var out []SMS
	for _, s := range d.SNS.SMS {
		if s.PhoneNumber == phone {
			out = append(out, s)
		}
	}
	return out
}

// MailTo are the e-mails with address among their recipients, oldest first.
func (d DataJSON) MailTo(address string) []SESMessage {
	var out []SESMessage
	for _, m := range d.SES.Message {
		dst := m.Destinations
		for _, a := range append(append(append([]string(nil), dst.ToAddresses...), dst.CcAddresses...), dst.BccAddresses...) {
			if a == address {
				out = append(out, m)
				break
			}
		}
	}
	return out
}
