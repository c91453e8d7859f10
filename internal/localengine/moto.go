package localengine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// MotoHint is how to install moto_server where it is missing.
const MotoHint = "pip install 'moto[server]'"

// motoFallbackBin is where the machine image's pyenv Python keeps
// moto_server, for a shell whose PATH finds another Python.
var motoFallbackBin = "/root/.pyenv/versions/3.11.7/bin/moto_server"

// Exited is closed when the server has exited.
func (s *Moto) Exited() <-chan struct{} { return s.done }

// Moto is one moto_server process under a supervising shell: an AWS API
// emulator (S3, SES, SNS, EventBridge…) on a loopback port.
type Moto struct {
	// Endpoint is its address, http://127.0.0.1:<port>.
	Endpoint string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	done     chan struct{}
	output   *tailBuffer
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

func lookMoto() (string, error) {
	if bin, err := exec.LookPath("moto_server"); err == nil {
		return bin, nil
	}
	if _, err := os.Stat(motoFallbackBin); err == nil {
		return motoFallbackBin, nil
	}
	return "", fmt.Errorf("moto_server is not installed (neither on PATH nor at %s): %s", motoFallbackBin, MotoHint)
}

// StartMoto starts moto_server on a free loopback port and waits until it
// answers. The port is free when chosen but could be taken before moto
// binds it, so a server that exits at once is tried again on another.
// moto_server comes with the machine's Python (MotoHint elsewhere).
func StartMoto() (*Moto, error) {
	bin, err := lookMoto()
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

func startOn(bin string) (*Moto, error) {
	port, err := motoPort()
	if err != nil {
		return nil, err
	}
	s := &Moto{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		done:     make(chan struct{}),
		output:   newTailBuffer(64 << 10),
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
				bin, MotoHint, s.output.Tail(2000))
		default:
		}
		if resp, err := client.Get(s.Endpoint + "/moto-api/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("moto_server (%s) did not answer on %s within 30 s:\n%s", bin, s.Endpoint, s.output.Tail(2000))
}

// Stop ends the server: closing the shell's input kills moto_server; a
// shell that does not end in 10 s is killed.
func (s *Moto) Stop() {
	s.stdin.Close()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func motoPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
