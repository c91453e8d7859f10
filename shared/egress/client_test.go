package egress_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idadmin/api/shared/egress"
)

// resolver is a fake DNS: the nth lookup answers answers[n], the last one
// once they run out; it counts the lookups.
type resolver struct {
	answers [][]netip.Addr
	err     error
	calls   atomic.Int32
}

func (r *resolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	n := int(r.calls.Add(1)) - 1
	if r.err != nil {
		return nil, r.err
	}
	return r.answers[min(n, len(r.answers)-1)], nil
}

// answers makes one answer of addresses.
func answers(addrs ...string) [][]netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return [][]netip.Addr{out}
}

// listener is a loopback TCP listener that notes every connection it
// accepts, by the connecting end's address, and closes it.
type listener struct {
	ln       net.Listener
	accepted chan string
}

func listen(t *testing.T) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{ln: ln, accepted: make(chan string, 64)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.accepted <- c.RemoteAddr().String()
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return l
}

func (l *listener) port() string { return portOf(l.ln.Addr().String()) }

// connectionsSoFar is how many connections were accepted before now. It
// connects once itself and waits for that connection: the listener
// accepts in order, so every connection made before it has been counted
// by then, with no waiting on a clock.
func (l *listener) connectionsSoFar(t *testing.T) int {
	t.Helper()
	probe, err := net.Dial("tcp", l.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	n := 0
	for remote := range l.accepted {
		if remote == probe.LocalAddr().String() {
			return n
		}
		n++
	}
	return n
}

func portOf(hostport string) string {
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		panic(err)
	}
	return port
}

// reasonOf is the reason err gives, "" for nil; an error that is not an
// *egress.Error fails.
func reasonOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var e *egress.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *egress.Error", err, err)
	}
	return e.Reason
}

// trust is a pool holding srv's certificate.
func trust(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// TestPostRefusesWhatResolvesToAPrivateAddress: a public-looking name that
// resolves to an address that is not public, alone or beside a public
// one, fails with private_address after one lookup, and nothing connects:
// a listener on 127.0.0.1 at the URL's port, which is where a name
// resolving to 127.0.0.1 would land, accepts nothing.
func TestPostRefusesWhatResolvesToAPrivateAddress(t *testing.T) {
	cases := []struct {
		name    string
		answers [][]netip.Addr
	}{
		{"private", answers("10.0.0.5")},
		{"loopback", answers("127.0.0.1")},
		{"mapped loopback", answers("::ffff:127.0.0.1")},
		{"IPv6 loopback", answers("::1")},
		{"metadata", answers("169.254.169.254")},
		{"IPv6 metadata", answers("fd00:ec2::254")},
		{"public, then private", answers("8.8.8.8", "10.0.0.5")},
		{"public, then loopback", answers("8.8.8.8", "127.0.0.1")},
		{"loopback, then public", answers("127.0.0.1", "8.8.8.8")},
		{"NAT64 of loopback", answers("64:ff9b::7f00:1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := listen(t)
			r := &resolver{answers: c.answers}
			client := egress.New(egress.Options{Resolver: r, Timeout: 2 * time.Second})
			res, err := client.Post(context.Background(), "https://evil.example:"+l.port()+"/hook?token=secret", nil, []byte(`{}`))
			if got := reasonOf(t, err); got != egress.ReasonPrivateAddress {
				t.Fatalf("Post: reason %q (%v), want %q", got, err, egress.ReasonPrivateAddress)
			}
			if res != (egress.Result{}) {
				t.Errorf("Post: result %+v, want none", res)
			}
			if got := r.calls.Load(); got != 1 {
				t.Errorf("lookups: got %d, want 1", got)
			}
			if got := l.connectionsSoFar(t); got != 0 {
				t.Errorf("connections to 127.0.0.1:%s: got %d, want 0", l.port(), got)
			}
			msg := err.Error()
			if !strings.Contains(msg, "evil.example") || strings.Contains(msg, "secret") || strings.Contains(msg, "hook") {
				t.Errorf("error %q: want the host named and nothing of the path or query", msg)
			}
			for _, a := range c.answers[0] {
				if strings.Contains(msg, a.String()) {
					t.Errorf("error %q names the address %s, which may be ours", msg, a)
				}
			}
		})
	}
}

// TestPostRefusesBeforeSending: a URL CheckURL refuses, a lookup that
// fails or answers nothing, and http to a name that resolves beyond
// loopback fail with their reason, and nothing connects.
func TestPostRefusesBeforeSending(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name     string
		url      string // with PORT for the listener's port
		loopback bool
		resolver *resolver
		ctx      context.Context
		want     string
	}{
		{"http", "http://example.com:PORT/", false, &resolver{answers: answers("127.0.0.1")}, nil, egress.ReasonURL},
		{"userinfo", "https://u:p@example.com:PORT/", false, &resolver{answers: answers("127.0.0.1")}, nil, egress.ReasonURL},
		{"hex loopback", "https://0x7f000001:PORT/", false, nil, nil, egress.ReasonURL},
		{"loopback literal", "https://127.0.0.1:PORT/", false, nil, nil, egress.ReasonPrivateAddress},
		{"mapped loopback literal", "https://[::ffff:7f00:1]:PORT/", false, nil, nil, egress.ReasonPrivateAddress},
		{"private literal, loopback allowed", "https://10.0.0.1:PORT/", true, nil, nil, egress.ReasonPrivateAddress},
		{"localhost", "https://localhost:PORT/", false, &resolver{answers: answers("127.0.0.1")}, nil, egress.ReasonPrivateAddress},
		{"lookup fails", "https://example.com:PORT/", true, &resolver{err: errors.New("no such host")}, nil, egress.ReasonDNS},
		{"no address", "https://example.com:PORT/", true, &resolver{answers: [][]netip.Addr{nil}}, nil, egress.ReasonDNS},
		{"http to a name beyond loopback", "http://localhost:PORT/", true, &resolver{answers: answers("127.0.0.1", "8.8.8.8")}, nil, egress.ReasonURL},
		{"canceled", "http://127.0.0.1:PORT/", true, nil, canceled, egress.ReasonCanceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := listen(t)
			opts := egress.Options{AllowLoopback: c.loopback, Timeout: 2 * time.Second}
			if c.resolver != nil {
				opts.Resolver = c.resolver
			}
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := egress.New(opts).Post(ctx, strings.Replace(c.url, "PORT", l.port(), 1), nil, nil)
			if got := reasonOf(t, err); got != c.want {
				t.Fatalf("Post: reason %q (%v), want %q", got, err, c.want)
			}
			if got := l.connectionsSoFar(t); got != 0 {
				t.Errorf("connections: got %d, want 0", got)
			}
		})
	}
}

// TestPostConnectsToTheAddressItChecked: the name is looked up once per
// attempt and the connection goes to the address that lookup answered,
// though the resolver answers a private address from its second lookup on
// (DNS rebinding); TLS verifies the certificate for the URL's name
// (example.com, which httptest's certificate holds), not the address. The
// next attempt looks up again and is refused.
func TestPostConnectsToTheAddressItChecked(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	r := &resolver{answers: [][]netip.Addr{{netip.MustParseAddr("127.0.0.1")}, {netip.MustParseAddr("10.0.0.5")}}}
	client := egress.New(egress.Options{AllowLoopback: true, Resolver: r, RootCAs: trust(srv), Timeout: 5 * time.Second})
	url := "https://example.com:" + portOf(srv.Listener.Addr().String()) + "/hook"

	res, err := client.Post(context.Background(), url, nil, []byte(`{}`))
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("first Post: %+v, %v, want status 202", res, err)
	}
	if got := r.calls.Load(); got != 1 {
		t.Errorf("lookups after the first Post: got %d, want 1", got)
	}
	_, err = client.Post(context.Background(), url, nil, []byte(`{}`))
	if got := reasonOf(t, err); got != egress.ReasonPrivateAddress {
		t.Errorf("second Post: reason %q (%v), want %q", got, err, egress.ReasonPrivateAddress)
	}
	if got := r.calls.Load(); got != 2 {
		t.Errorf("lookups after the second Post: got %d, want 2", got)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("requests received: got %d, want 1", got)
	}
}

// TestPostSends: the request is a POST of the body with the caller's
// header, our User-Agent in place of the caller's, and Connection: close;
// the caller's header is left as it was.
func TestPostSends(t *testing.T) {
	type seen struct {
		method, path, agent, signature, body string
		close                                bool
	}
	got := make(chan seen, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("User-Agent"), r.Header.Get("Webhook-Signature"), string(b), r.Close}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	r := &resolver{answers: answers("127.0.0.1")}
	header := http.Header{"Webhook-Signature": {"v1,abc"}, "User-Agent": {"curl/8"}}
	url := "https://example.com:" + portOf(srv.Listener.Addr().String()) + "/in?x=1"
	client := egress.New(egress.Options{AllowLoopback: true, Resolver: r, RootCAs: trust(srv)})
	res, err := client.Post(context.Background(), url, header, []byte(`{"a":1}`))
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("Post: %+v, %v, want status 204", res, err)
	}
	want := seen{"POST", "/in?x=1", egress.UserAgent, "v1,abc", `{"a":1}`, true}
	if s := <-got; s != want {
		t.Errorf("request: got %+v, want %+v", s, want)
	}
	if a := header.Get("User-Agent"); a != "curl/8" {
		t.Errorf("caller's header User-Agent: got %q, want it left as curl/8", a)
	}
}

// TestPostFollowsNoRedirect: a redirect is the answer: its status comes
// back, and the server it points to gets no request.
func TestPostFollowsNoRedirect(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
	}))
	defer target.Close()
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/elsewhere", status)
			}))
			defer srv.Close()
			res, err := egress.New(egress.Options{AllowLoopback: true}).Post(context.Background(), srv.URL, nil, []byte(`{}`))
			if err != nil || res.StatusCode != status {
				t.Fatalf("Post: %+v, %v, want status %d", res, err, status)
			}
			if n := followed.Load(); n != 0 {
				t.Errorf("requests to the redirect's target: got %d, want 0", n)
			}
		})
	}
}

// TestPostTimesOut: a receiver that does not finish the handshake, or
// does not answer, fails the attempt with timeout once Options.Timeout
// has passed. How long that took is not asserted.
func TestPostTimesOut(t *testing.T) {
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(silent.Close)
	t.Cleanup(func() { close(release) }) // before silent.Close, which waits for its handler

	mute, err := net.Listen("tcp", "127.0.0.1:0") // accepts, says nothing
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	var conns []net.Conn
	var mu sync.Mutex
	held.Go(func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = mute.Close()
		held.Wait()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	cases := []struct{ name, url string }{
		{"no answer", silent.URL},
		{"no handshake", "https://" + mute.Addr().String() + "/"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := egress.New(egress.Options{AllowLoopback: true, Timeout: 200 * time.Millisecond})
			_, err := client.Post(context.Background(), c.url, nil, []byte(`{}`))
			if got := reasonOf(t, err); got != egress.ReasonTimeout {
				t.Errorf("Post: reason %q (%v), want %q", got, err, egress.ReasonTimeout)
			}
		})
	}
}

// TestPostReadsABoundedBody: an answer with an endless body comes back
// with its status, and no more of the body is taken than MaxResponseBytes
// and what the sockets' buffers hold: the server's writes fail long
// before it has written what it meant to. So does a body that stops
// coming after its first bytes, once the timeout has passed.
func TestPostReadsABoundedBody(t *testing.T) {
	const meant = 64 << 20
	written := make(chan int, 1)
	flood := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		n := 0
		for n < meant {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		written <- n
	}))
	defer flood.Close()
	client := egress.New(egress.Options{AllowLoopback: true, MaxResponseBytes: 1 << 10})
	res, err := client.Post(context.Background(), flood.URL, nil, []byte(`{}`))
	if want := (egress.Result{StatusCode: http.StatusOK}); err != nil || res != want {
		t.Fatalf("Post: %+v, %v, want %+v", res, err, want)
	}
	if n := <-written; n >= meant {
		t.Errorf("server wrote %d bytes, all it meant to: the body was read to its end", n)
	}

	release := make(chan struct{})
	trickle := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(trickle.Close)
	t.Cleanup(func() { close(release) })
	client = egress.New(egress.Options{AllowLoopback: true, Timeout: 200 * time.Millisecond})
	res, err = client.Post(context.Background(), trickle.URL, nil, []byte(`{}`))
	if want := (egress.Result{StatusCode: http.StatusOK}); err != nil || res != want {
		t.Fatalf("Post to a stalled body: %+v, %v, want %+v", res, err, want)
	}
}

// TestPostTLS: a certificate from a trusted authority verifies; one from
// an untrusted authority, a server that does not speak TLS and one that
// speaks only TLS 1.1 fail with tls.
func TestPostTLS(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) {}
	quiet := log.New(io.Discard, "", 0) // the servers' handshake failures are expected
	srv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	srv.Config.ErrorLog = quiet
	srv.StartTLS()
	defer srv.Close()
	old := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	old.Config.ErrorLog = quiet
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	defer old.Close()
	plain := httptest.NewServer(http.HandlerFunc(ok))
	defer plain.Close()

	cases := []struct {
		name    string
		url     string
		rootCAs *x509.CertPool
		want    string
	}{
		{"trusted", srv.URL, trust(srv), ""},
		{"trusted, IPv4-mapped", "https://[::ffff:127.0.0.1]:" + portOf(srv.Listener.Addr().String()), trust(srv), ""},
		{"untrusted", srv.URL, nil, egress.ReasonTLS},
		{"TLS 1.1", old.URL, trust(old), egress.ReasonTLS},
		{"not TLS", strings.Replace(plain.URL, "http:", "https:", 1), nil, egress.ReasonTLS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := egress.New(egress.Options{AllowLoopback: true, RootCAs: c.rootCAs, Timeout: 5 * time.Second})
			res, err := client.Post(context.Background(), c.url, nil, nil)
			if got := reasonOf(t, err); got != c.want {
				t.Fatalf("Post: reason %q (%v), want %q", got, err, c.want)
			}
			if c.want == "" && res.StatusCode != http.StatusOK {
				t.Errorf("Post: status %d, want 200", res.StatusCode)
			}
		})
	}
}

// TestPostConnectionFailures: nothing listening is connection_refused; a
// receiver that closes without a word is connection; one that answers
// something that is not HTTP, or an endless header, is http.
func TestPostConnectionFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()
	hangup := listen(t) // accepts and closes at once

	cases := []struct{ name, url, want string }{
		{"nothing listening", closed, egress.ReasonConnectionRefused},
		{"closed without an answer", "http://127.0.0.1:" + hangup.port() + "/", egress.ReasonConnection},
		{"not HTTP", answering(t, "SSH-2.0-OpenSSH_9.6\r\n"), egress.ReasonHTTP},
		{"endless header", answering(t, "HTTP/1.1 200 OK\r\nX: "+strings.Repeat("a", 100<<10)+"\r\n\r\n"), egress.ReasonHTTP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := egress.New(egress.Options{AllowLoopback: true, Timeout: 5 * time.Second}).Post(context.Background(), c.url, nil, nil)
			if got := reasonOf(t, err); got != c.want {
				t.Errorf("Post: reason %q (%v), want %q", got, err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "SSH") {
				t.Errorf("error %q quotes the answer", err)
			}
		})
	}
}

// answering is the URL of a server on 127.0.0.1 that reads the request's
// head, writes answer and closes the connection.
func answering(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var served sync.WaitGroup
	served.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			head := make([]byte, 1<<10)
			_, _ = c.Read(head)
			_, _ = io.WriteString(c, answer)
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		served.Wait()
	})
	return "http://" + ln.Addr().String() + "/"
}

// TestCheckResolvedIsTheRegistrationsCheck: a registration's URL is refused
// when its host resolves to any address that is not public, or to none,
// with the rule as a *URLError, and the URL rules come first (no lookup
// for a refused URL); a public name passes.
func TestCheckResolvedIsTheRegistrationsCheck(t *testing.T) {
	for _, c := range []struct {
		name     string
		url      string
		resolver *resolver
		rule     string
		lookups  int32
	}{
		{"a public name", "https://hooks.example.com/x", &resolver{answers: answers("93.184.216.34")}, "", 1},
		{"a name to a private address", "https://evil.example/x", &resolver{answers: answers("10.0.0.5")}, egress.RulePrivateAddress, 1},
		{"a public and a private address", "https://mixed.example/x", &resolver{answers: answers("93.184.216.34", "169.254.169.254")}, egress.RulePrivateAddress, 1},
		{"a name to loopback", "https://local.example/x", &resolver{answers: answers("127.0.0.1")}, egress.RulePrivateAddress, 1},
		{"no address", "https://nx.example/x", &resolver{err: errors.New("no such host")}, egress.RuleHost, 1},
		{"a loopback literal", "https://127.0.0.1/x", &resolver{answers: answers("93.184.216.34")}, egress.RulePrivateAddress, 0},
		{"http", "http://hooks.example.com/x", &resolver{answers: answers("93.184.216.34")}, egress.RuleHTTPS, 0},
	} {
		err := egress.New(egress.Options{Resolver: c.resolver}).CheckResolved(t.Context(), c.url)
		var ue *egress.URLError
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%s: %v, want no error", c.name, err)
		case c.rule != "" && (!errors.As(err, &ue) || ue.Rule != c.rule):
			t.Errorf("%s: %v, want the rule %s", c.name, err, c.rule)
		}
		if got := c.resolver.calls.Load(); got != c.lookups {
			t.Errorf("%s: %d lookups, want %d", c.name, got, c.lookups)
		}
	}
}

// TestPostBoundsAProtocolSwitch: a receiver that answers 101 Switching
// Protocols (which no request of ours asks for) and then keeps the
// connection open, saying nothing or a byte now and then, gets no more of
// the attempt than Timeout, as any other answer: net/http hands a 101's
// connection over as its body, out of reach of the request's context, so
// the body's reading would otherwise wait for the receiver for good.
func TestPostBoundsAProtocolSwitch(t *testing.T) {
	release := make(chan struct{})
	var held sync.WaitGroup
	t.Cleanup(held.Wait)
	t.Cleanup(func() { close(release) })
	switching := func(trickle bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			held.Add(1)
			defer held.Done()
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: anything\r\nConnection: Upgrade\r\n\r\n")
			_ = buf.Flush()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-release:
					return
				case <-tick.C:
					if trickle {
						if _, err := conn.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}
		}
	}
	for _, c := range []struct {
		name    string
		tls     bool
		trickle bool
	}{{"http, silent", false, false}, {"http, a byte now and then", false, true}, {"https, silent", true, false}, {"https, a byte now and then", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(switching(c.trickle))
			opts := egress.Options{AllowLoopback: true, Timeout: 200 * time.Millisecond}
			if c.tls {
				srv.StartTLS()
				opts.RootCAs = trust(srv)
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			type result struct {
				res egress.Result
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := egress.New(opts).Post(context.Background(), srv.URL, nil, []byte(`{}`))
				done <- result{res, err}
			}()
			select {
			case got := <-done:
				if got.err != nil || got.res.StatusCode != http.StatusSwitchingProtocols {
					t.Errorf("Post: %+v, %v; want the 101 as the answer, a failure", got.res, got.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Post still reads a 101's connection 50 times its timeout later")
			}
		})
	}
}
