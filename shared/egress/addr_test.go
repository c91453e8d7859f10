package egress

import (
	"net/netip"
	"testing"
)

// TestPublic: every range the package refuses, at its edges where an edge
// is easy to get wrong, and each form of IPv6 that carries an IPv4 address
// judged by the address it carries.
func TestPublic(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		// Public.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"9.255.255.255", true},
		{"11.0.0.0", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.15.255.255", true},
		{"172.32.0.0", true},
		{"192.0.1.255", true},
		{"192.0.3.0", true},
		{"198.17.255.255", true},
		{"198.20.0.0", true},
		{"223.255.255.255", true},
		{"2606:4700::1111", true},
		{"2a00:1450:4001:80b::200e", true},
		{"2001:200::1", true},
		{"2001:db7:ffff::1", true},
		{"::ffff:8.8.8.8", true},
		{"::8.8.8.8", true},
		{"64:ff9b::808:808", true},
		{"2002:808:808::", true},

		// IPv4.
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.0.0.1", false},
		{"10.255.255.255", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false},
		{"169.254.0.1", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.0.1", false},
		{"192.0.0.170", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"192.0.2.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"192.88.99.1", false},

		// IPv6.
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"febf::1", false},
		{"fec0::1", false},
		{"fc00::1", false},
		{"fd00::1", false},
		{"fd00:ec2::254", false},
		{"ff02::1", false},
		{"ff0e::1", false},
		{"2001:db8::1", false},
		{"2001:db8:ffff::1", false},
		{"100::1", false},
		{"3fff::1", false},
		{"5f00::1", false},
		{"4000::1", false},
		{"::ffff:0:808:808", false},

		// IPv6 carrying IPv4.
		{"::ffff:127.0.0.1", false},
		{"::ffff:7f00:1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false},
		{"::10.0.0.1", false},
		{"::0.0.0.2", false},
		{"64:ff9b::a00:1", false},
		{"64:ff9b::127.0.0.1", false},
		{"64:ff9b::169.254.169.254", false},
		{"64:ff9b:1::808:808", false},
		{"64:ff9b:1:ffff::1", false},
		{"2002:a00:1::", false},
		{"2002:7f00:1::1", false},
		{"2002:a9fe:a9fe::", false},
		{"2001::1", false},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"2001:1ff::1", false},

		// Zoned.
		{"fe80::1%eth0", false},
		{"2606:4700::1111%eth0", false},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			addr := netip.MustParseAddr(c.addr)
			if got := Public(addr); got != c.want {
				t.Errorf("Public(%s) = %v (%q), want %v", c.addr, got, blocked(addr), c.want)
			}
		})
	}
	if Public(netip.Addr{}) {
		t.Errorf("Public(zero Addr) = true, want false")
	}
}
