// Package mototest runs moto_server, an AWS API emulator, for tests that
// send through Amazon SNS and SES v2, and reads back what it recorded.
//
// moto_server comes with the machine's Python (pip install 'moto[server]'
// elsewhere). One server serves a whole test binary: a package calls Main
// from its TestMain, and the server is stopped when the package's tests end.
// Without Main, the server lives while a test that called Start runs, and is
// stopped when the last of them ends; a later Start starts another. Either
// way parallel tests share the server and what it records, so each test
// sends to destinations of its own and looks only for them.
package mototest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// PipHint is how to install moto_server where it is missing.
const PipHint = "pip install 'moto[server]'"

// fallbackBin is where the machine image's pyenv Python keeps moto_server,
// for a shell whose PATH finds another Python.
var fallbackBin = "/root/.pyenv/versions/3.11.7/bin/moto_server"

var (
	mu sync.Mutex
	// cur is the running server, nil when none is.
	cur *server
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
		s.stop()
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
		s, err := start()
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
	return s.endpoint
}

// release is a test's end without Main: the last running user stops s.
func release(s *server) {
	mu.Lock()
	users--
	last := users == 0 && cur == s && !inMain
	if last {
		cur = nil
	}
	mu.Unlock()
	if last {
		s.stop()
	}
}

// server is one moto_server process under a supervising shell.
type server struct {
	endpoint string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	done     chan struct{}
	output   *lockedBuffer
}

// supervise runs moto_server ("$0" and its arguments) in the background
// and kills it when its own standard input closes: when stop closes it, and
// also when the test binary dies without stopping it (a -timeout panic, a
// kill), as the kernel then closes the pipe. A shell in the background reads
// /dev/null, so moto_server never sees the pipe.
const supervise = `"$0" "$@" & pid=$!
read -r _
kill "$pid" 2>/dev/null
wait "$pid"`

func lookBin() (string, error) {
	if bin, err := exec.LookPath("moto_server"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(fallbackBin); err == nil {
		return fallbackBin, nil
	}
	return "", fmt.Errorf("moto_server is not installed (neither on PATH nor at %s): %s", fallbackBin, PipHint)
}

// start starts moto_server on a free loopback port and waits until it
// answers. The port is free when chosen but could be taken before moto
// binds it, so a server that exits at once is tried again on another.
func start() (*server, error) {
	bin, err := lookBin()
	if err != nil {
		return nil, err
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := startOn(bin)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func startOn(bin string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		done:     make(chan struct{}),
		output:   &lockedBuffer{},
	}
	s.cmd = exec.Command("/bin/sh", "-c", supervise, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	// moto_server logs one line a request (method, path, status): kept for
	// a failure to start, never printed otherwise.
	s.cmd.Stdout, s.cmd.Stderr = s.output, s.output
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto_server: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("moto_server (%s) exited before answering (is moto installed with its server extras? %s):\n%s",
				bin, PipHint, s.output.tail(2000))
		default:
		}
		if resp, err := client.Get(s.endpoint + "/moto-api/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("moto_server (%s) did not answer on %s within 30 s:\n%s", bin, s.endpoint, s.output.tail(2000))
}

// stop ends the server: closing the shell's input kills moto_server; a
// shell that does not end in 10 s is killed.
func (s *server) stop() {
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // a long run's request log: keep the start
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf.Bytes()
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return string(out)
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
