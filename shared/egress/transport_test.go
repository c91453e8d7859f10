package egress

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// TestTransportTakesNothingFromTheEnvironment: an attempt's transport has
// no proxy, keeps no connection, and dials through its dialer.
// (The proxy is checked here, not by a request with HTTPS_PROXY set:
// net/http reads the environment once a process, so such a test would
// pass or fail by which test ran first.)
func TestTransportTakesNothingFromTheEnvironment(t *testing.T) {
	tr := newTransport(&dialer{})
	if tr.Proxy != nil {
		t.Errorf("Proxy: got a function, want nil")
	}
	if !tr.DisableKeepAlives {
		t.Errorf("DisableKeepAlives: got false, want true")
	}
	if tr.DialContext == nil || tr.DialTLSContext == nil {
		t.Errorf("dial hooks: want DialContext and DialTLSContext set")
	}
	if tr.MaxResponseHeaderBytes != maxResponseHeaderBytes {
		t.Errorf("MaxResponseHeaderBytes: got %d, want %d", tr.MaxResponseHeaderBytes, maxResponseHeaderBytes)
	}
}

// TestDialerConnectsToTheCheckedAddressOnly: the dialer connects to its
// checked address for the URL's host and port, however the transport
// spells the host's case, and refuses any other host or port the
// transport could ask for (through a proxy or a redirect, were either
// ever turned on).
func TestDialerConnectsToTheCheckedAddressOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	d := &dialer{want: net.JoinHostPort("hooks.example.com", strconv.Itoa(int(port))), addrs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, port: port}
	cases := []struct {
		addr string
		ok   bool
	}{
		{d.want, true},
		{strings.ToUpper(d.want), true},
		{"other.example.com:" + strconv.Itoa(int(port)), false},
		{"hooks.example.com:1", false},
		{ln.Addr().String(), false},
	}
	for _, c := range cases {
		conn, err := d.dial(context.Background(), "tcp", c.addr)
		if conn != nil {
			_ = conn.Close()
		}
		if got := err == nil; got != c.ok {
			t.Errorf("dial(%q): error %v, want success %v", c.addr, err, c.ok)
		}
	}
}
