package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// UserAgent is the User-Agent of every request, whatever the caller's
// header says: a receiver can tell our requests by it, and a version in it
// lets the payload's shape change under a new one.
const UserAgent = "idadmin-webhooks/1"

// DefaultTimeout bounds an attempt when Options.Timeout is zero: a
// receiver that has not answered within it is as good as down, and a
// Lambda's time is paid for while it waits.
const DefaultTimeout = 10 * time.Second

// DefaultMaxResponseBytes is how much of an answer's body is read when
// Options.MaxResponseBytes is zero: enough for any acknowledgement, which
// is all a receiver has to say, and little enough that a receiver cannot
// keep us reading.
const DefaultMaxResponseBytes = 64 << 10

// maxResponseHeaderBytes bounds an answer's header, for the same reason.
const maxResponseHeaderBytes = 64 << 10

// Resolver looks up the addresses of a host name; *net.Resolver is one.
// Tests give a fake one to play a DNS answer that points at a private
// address, or changes between two lookups.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Options configure a Client. The zero value is what production wants.
type Options struct {
	// AllowLoopback lets URLs and their addresses be loopback ones, and
	// http to them, for local development and tests (CheckURL's
	// allowLoopback). Every other address that is not Public is still
	// refused.
	AllowLoopback bool
	// Timeout bounds a whole attempt: the lookup, the connection, the TLS
	// handshake, sending the request, the answer's header and the reading
	// of its body. DefaultTimeout when zero.
	Timeout time.Duration
	// MaxResponseBytes is the most of an answer's body that is read (and
	// discarded) before the connection is closed. DefaultMaxResponseBytes
	// when zero.
	MaxResponseBytes int64
	// Resolver looks up host names; net.DefaultResolver when nil.
	Resolver Resolver
	// RootCAs are the certificate authorities trusted to sign a receiver's
	// certificate; the system's when nil. Tests set it to trust an
	// httptest server.
	RootCAs *x509.CertPool
}

// Client sends requests to URLs organisations registered, one attempt at
// a time, to the addresses it checked. It keeps no connection between
// attempts; it is safe for concurrent use.
type Client struct {
	opts Options
}

// New returns a Client with o's options, the defaults filled in.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	return &Client{opts: o}
}

// Result is what a receiver answered: its status and nothing else. Its
// body is read up to MaxResponseBytes and dropped, never kept: what a
// receiver writes is not ours to store or to show.
type Result struct {
	// StatusCode is the answer's status. A redirect is not followed, so a
	// 3xx is an answer like any other that is not 2xx.
	StatusCode int
}

// The reasons an attempt fails, as Error.Reason gives them. They are in
// our words, stable, and safe to show to the organisation as the
// attempt's error.
const (
	ReasonURL               = "url"                // the URL breaks a CheckURL rule other than private_address
	ReasonPrivateAddress    = "private_address"    // the host is, or resolves to, an address that is not Public
	ReasonDNS               = "dns"                // the host name did not resolve
	ReasonTimeout           = "timeout"            // the attempt took longer than Options.Timeout (or the caller's deadline)
	ReasonCanceled          = "canceled"           // the caller's context was canceled
	ReasonConnectionRefused = "connection_refused" // no one listens at the address and port
	ReasonConnection        = "connection"         // the connection failed, or closed or broke before an answer
	ReasonTLS               = "tls"                // the TLS handshake failed: the certificate did not verify, or the receiver does not speak TLS 1.2 or later
	ReasonHTTP              = "http"               // the receiver answered something that is not an HTTP answer we read (not HTTP, or a header over 64 KiB)
)

// Error is an attempt that got no answer. Its message holds the host and
// the reason, nothing of the URL's path or query and nothing the receiver
// sent, so that it can be shown to the organisation as it is. Err, the
// cause, is for errors.Is and As and for our logs only: it may name the
// addresses the host resolved to, which, for a name that points inside
// our network, are ours and not the organisation's to see.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Host is the URL's host name, "" when the URL did not parse.
	Host string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string {
	var ue *URLError
	switch {
	case errors.As(e.Err, &ue):
		return ue.Error()
	case e.Host == "":
		return "egress: " + e.Reason
	}
	return "egress: post to " + e.Host + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// stageError is a failure at a step whose reason is known where it
// happens: the lookup, the connection, the TLS handshake.
type stageError struct {
	reason string
	err    error
}

func (e *stageError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// Post makes one attempt to POST body to rawURL with header (to which it
// sets User-Agent and Connection: close), and returns the status of the
// answer, whatever it is. Its error, when it got no answer, is an *Error.
//
// rawURL is checked with CheckURL again; its host is resolved once, and if
// any of its addresses is not Public (nor loopback, with AllowLoopback)
// nothing is sent. The connection is made to a checked address, tried in
// the order the resolver gave them, and only to it, whatever the transport
// would resolve; TLS verifies the certificate for the URL's host. A
// redirect is not followed, no proxy is used, and the connection is closed
// once the answer's body has been read up to MaxResponseBytes.
func (c *Client) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (Result, error) {
	u, err := CheckURL(rawURL, c.opts.AllowLoopback)
	if err != nil {
		reason := ReasonURL
		if ue := (*URLError)(nil); errors.As(err, &ue) && ue.Rule == RulePrivateAddress {
			reason = ReasonPrivateAddress
		}
		return Result{}, &Error{Reason: reason, Err: err}
	}
	host := u.Hostname()
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	addrs, err := c.resolve(ctx, host, u.Scheme == "http")
	if err != nil {
		return Result{}, failure(host, err, false)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, _ := strconv.ParseUint(port, 10, 16) // CheckURL checked it
	deadline, _ := ctx.Deadline()
	d := &dialer{
		want:     net.JoinHostPort(host, port),
		addrs:    addrs,
		port:     uint16(n),
		deadline: deadline,
		tls: &tls.Config{
			ServerName: host,
			MinVersion: tls.VersionTLS12,
			RootCAs:    c.opts.RootCAs,
			NextProtos: []string{"http/1.1"},
		},
	}
	transport := newTransport(d)
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Result{}, &Error{Reason: ReasonURL, Host: host, Err: fmt.Errorf("egress: build the request: %w", err)}
	}
	if header != nil {
		req.Header = header.Clone()
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Close = true

	resp, err := client.Do(req)
	if err != nil {
		return Result{}, failure(host, err, d.answered.Load())
	}
	// The answer is its status: a body cut short by the deadline or the
	// limit changes nothing, so how the reading ends is not looked at.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.opts.MaxResponseBytes))
	_ = resp.Body.Close()
	return Result{StatusCode: resp.StatusCode}, nil
}

// resolve returns the addresses to connect to for host, each checked:
// host itself when it is an address, else what the resolver answers, in
// its order. Any address that is not allowed fails the whole attempt: a
// name that points at a private address among public ones is not one to
// send to. httpScheme asks that every address be loopback, as CheckURL
// allows http only to a loopback host.
func (c *Client) resolve(ctx context.Context, host string, httpScheme bool) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if addr, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{addr}
	} else {
		addrs, err = c.opts.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, &stageError{ReasonDNS, fmt.Errorf("egress: look up %s: %w", host, err)}
		}
		if len(addrs) == 0 {
			return nil, &stageError{ReasonDNS, fmt.Errorf("egress: look up %s: no address", host)}
		}
	}
	checked := make([]netip.Addr, len(addrs))
	for i, addr := range addrs {
		loopback := addr.Zone() == "" && addr.Unmap().IsLoopback()
		switch {
		case httpScheme && !loopback:
			return nil, &stageError{ReasonURL, fmt.Errorf("egress: %s resolves to %s: http is only for a loopback host", host, addr)}
		case !Public(addr) && !(c.opts.AllowLoopback && loopback):
			why := blocked(addr)
			if loopback {
				why = "loopback"
			}
			return nil, &stageError{ReasonPrivateAddress, fmt.Errorf("egress: %s resolves to %s, which is not public (%s)", host, addr, why)}
		}
		checked[i] = addr.Unmap()
	}
	return checked, nil
}

// newTransport is the transport of one attempt, which connects with d
// only. It uses no proxy (a proxy from the environment would be asked to
// connect to the URL's host itself, by name, past every check), and keeps
// no connection: each attempt has a transport of its own, so a connection
// is never reused for an address other than the one checked for it, and
// the next attempt resolves and checks again. The answer's header is
// bounded, and the body is not asked for compressed, since it is dropped.
func newTransport(d *dialer) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.dial,
		DialTLSContext:         d.dialTLS,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}
}

// dialer connects to the checked addresses of one attempt, whatever
// address the transport asks for.
type dialer struct {
	want  string // the host:port of the URL, which the transport must ask for
	addrs []netip.Addr
	port  uint16
	tls   *tls.Config // for https: ServerName is the URL's host
	// deadline is the attempt's end, set on every connection it makes:
	// the request's context stops the transport's reads and writes but
	// not all of them (the body of a 101 Switching Protocols is the bare
	// connection, read past any context), so the socket enforces it too.
	deadline time.Time
	// answered is set once the receiver has sent a byte of its answer
	// (after the TLS handshake), to tell a receiver that answered
	// something unreadable from one that hung up.
	answered atomic.Bool
}

// watchedConn is a connection that notes when a byte is read from it.
type watchedConn struct {
	net.Conn
	read *atomic.Bool
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

// dial is the connection of an http attempt (to loopback, with
// AllowLoopback): connect's, watched.
func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &watchedConn{Conn: conn, read: &d.answered}, nil
}

// connect makes the TCP connection for dial and dialTLS, to the first of
// the checked addresses that accepts it. addr must be the URL's host and
// port: the transport asks for no other, as it follows no redirect and
// uses no proxy, and if it ever did, that would be a bug to stop at rather
// than a host to connect to.
func (d *dialer) connect(ctx context.Context, addr string) (net.Conn, error) {
	if !strings.EqualFold(addr, d.want) {
		return nil, &stageError{ReasonConnection, fmt.Errorf("egress: the transport asked for %s, not %s", addr, d.want)}
	}
	var nd net.Dialer
	var last error
	for _, a := range d.addrs {
		conn, err := nd.DialContext(ctx, "tcp", netip.AddrPortFrom(a, d.port).String())
		if err == nil && !d.deadline.IsZero() {
			if err = conn.SetDeadline(d.deadline); err != nil {
				_ = conn.Close()
			}
		}
		if err == nil {
			return conn, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, &stageError{ReasonConnection, fmt.Errorf("egress: connect: %w", last)}
}

// dialTLS connects as dial does and makes the TLS handshake for the URL's
// host (d.tls.ServerName), here rather than in the transport so that a
// failed handshake is told from a failed connection.
func (d *dialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, d.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, &stageError{ReasonTLS, fmt.Errorf("egress: TLS handshake: %w", err)}
	}
	return &watchedConn{Conn: tc, read: &d.answered}, nil
}

// failure is the *Error for an attempt to host that failed with err,
// after the receiver had sent something (answered) or not: its reason,
// and err without the *url.Error that http.Client wraps it in, whose
// message holds the whole URL.
func failure(host string, err error, answered bool) *Error {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	var ne net.Error
	var se *stageError
	reason := ReasonConnection
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		reason = ReasonTimeout
	case errors.Is(err, context.Canceled):
		reason = ReasonCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = ReasonConnectionRefused
	case errors.As(err, &se):
		reason = se.reason
	case answered && !errors.Is(err, syscall.ECONNRESET):
		reason = ReasonHTTP
	}
	return &Error{Reason: reason, Host: host, Err: err}
}

// CheckResolved checks raw as a registration must: CheckURL, then one
// lookup of its host, every address of which must be one Post may connect
// to. Its error is a *URLError, to be shown as the field's: a host that
// resolves to a private address (RulePrivateAddress) or not at all
// (RuleHost). Post checks again at every attempt: what a name resolves to
// may change after it was registered.
func (c *Client) CheckResolved(ctx context.Context, raw string) error {
	u, err := CheckURL(raw, c.opts.AllowLoopback)
	if err != nil {
		return err
	}
	if _, err := c.resolve(ctx, u.Hostname(), u.Scheme == "http"); err != nil {
		var se *stageError
		if errors.As(err, &se) && se.reason == ReasonDNS {
			return urlError(RuleHost, "the host must resolve to an address")
		}
		if errors.As(err, &se) && se.reason == ReasonURL {
			return urlError(RuleHTTPS, "http is only for a loopback host")
		}
		return urlError(RulePrivateAddress, "the host must resolve only to public addresses")
	}
	return nil
}
