package egress

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzCheckURL: CheckURL never panics, refuses only with a *URLError, and
// a URL it accepts is https (or, with allowLoopback, http to a loopback
// host), has no userinfo or fragment, and a host that is either a public
// IP address in its one canonical spelling or a name no resolver reads as
// an IPv4 address (by inet_aton's rules, the loosest), and not localhost.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook?x=1", "http://127.0.0.1:8080/", "https://[::ffff:127.0.0.1]/",
		"https://0x7f000001", "https://127.1", "https://user@10.0.0.1#f", "https://[fe80::1%25eth0]",
		"https://b%C3%BCcher.example/", "https://example.com:0443", "https://8.8.8.8",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowLoopback bool) {
		u, err := CheckURL(raw, allowLoopback)
		if err != nil {
			var ue *URLError
			if !errors.As(err, &ue) || ue.Rule == "" {
				t.Fatalf("CheckURL(%q, %v): error %v (%T), want a *URLError with a rule", raw, allowLoopback, err, err)
			}
			if u != nil {
				t.Fatalf("CheckURL(%q, %v) = %v with an error, want nil", raw, allowLoopback, u)
			}
			return
		}
		host := u.Hostname()
		loopback := strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost")
		addr, perr := netip.ParseAddr(host)
		if aton, ok := inetAton(host); ok {
			if perr != nil || addr != aton {
				t.Fatalf("CheckURL(%q) accepts host %q, which inet_aton reads as %s", raw, host, aton)
			}
		}
		if perr == nil {
			loopback = addr.Unmap().IsLoopback()
			if !Public(addr) && !(allowLoopback && loopback) {
				t.Fatalf("CheckURL(%q, %v) accepts %s, which is not public (%s)", raw, allowLoopback, addr, blocked(addr))
			}
		}
		switch {
		case len(raw) > MaxURLLength:
			t.Fatalf("CheckURL accepts %d bytes", len(raw))
		case u.Scheme != "https" && !(allowLoopback && loopback && u.Scheme == "http"):
			t.Fatalf("CheckURL(%q, %v) accepts scheme %q", raw, allowLoopback, u.Scheme)
		case u.User != nil:
			t.Fatalf("CheckURL(%q) accepts userinfo %q", raw, u.User)
		case u.Fragment != "" || strings.Contains(raw, "#"):
			t.Fatalf("CheckURL(%q) accepts a fragment", raw)
		case host == "" || strings.Contains(host, "%"):
			t.Fatalf("CheckURL(%q) accepts host %q", raw, host)
		case loopback && !allowLoopback:
			t.Fatalf("CheckURL(%q, false) accepts the loopback host %q", raw, host)
		}
		if _, err := CheckURL(u.String(), allowLoopback); err != nil {
			t.Fatalf("CheckURL(%q) accepts it, but not its own spelling %q: %v", raw, u.String(), err)
		}
	})
}

// inetAton is glibc's inet_aton, which getaddrinfo applies to a host
// before it asks DNS: one to four parts, each decimal, octal (a leading
// 0) or hex (0x), the last filling the bytes the others leave. It says
// whether host reads as an address, and which.
func inetAton(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// TestInetAton holds the fuzz test's model of inet_aton to what glibc
// answers for the forms CheckURL refuses.
func TestInetAton(t *testing.T) {
	cases := []struct {
		host string
		want string // "" when not an address
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"10.1", "10.0.0.1"},
		{"10.0.1", "10.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1", ""},
		{"1.2.3.256", ""},
		{"1.2.3.4.5", ""},
		{"08", ""},
		{"example.com", ""},
		{"1.example", ""},
		{"", ""},
	}
	for _, c := range cases {
		got, ok := inetAton(c.host)
		if gotS := map[bool]string{true: got.String(), false: ""}[ok]; gotS != c.want {
			t.Errorf("inetAton(%q) = %q, want %q", c.host, gotS, c.want)
		}
	}
}
