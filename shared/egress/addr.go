package egress

import "net/netip"

// Public reports whether addr may be connected to on an organisation's
// behalf: an address of the public internet, not one of ours, of the
// machine, of its network or of a range set aside for a special use. An
// address that carries an IPv4 address inside an IPv6 one is judged by the
// IPv4 address it carries, since that is where a packet to it may end up.
// A zoned address (fe80::1%eth0) is never public.
func Public(addr netip.Addr) bool { return blocked(addr) == "" }

// block is a range of addresses that is not public, with the name the
// tests and the error's cause give it.
type block struct {
	prefix netip.Prefix
	name   string
}

// v4Blocks are the IPv4 ranges that are not public: IANA's special-purpose
// registry's ranges not globally reachable, multicast and the reserved
// 240/4 (which holds the broadcast address).
var v4Blocks = []block{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// v6Blocks are the IPv6 ranges that are not public, checked after the
// forms that carry an IPv4 address. Whatever is outside 2000::/3, the
// global unicast range, is refused after them anyway; the ranges outside
// it are listed only to be named.
var v6Blocks = []block{
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
	{netip.MustParsePrefix("2001::/23"), "IETF protocol assignments (Teredo 2001::/32 among them)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("5f00::/16"), "segment routing"},
	{netip.MustParsePrefix("fc00::/7"), "unique local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	global6   = netip.MustParsePrefix("2000::/3")
)

// blocked is why addr is not public, or "" when it is.
func blocked(addr netip.Addr) string {
	switch {
	case !addr.IsValid():
		return "not an address"
	case addr.Zone() != "":
		return "zoned"
	}
	addr = addr.Unmap()
	if addr.Is4() {
		for _, b := range v4Blocks {
			if b.prefix.Contains(addr) {
				return b.name
			}
		}
		return ""
	}
	a := addr.As16()
	switch {
	case addr == netip.IPv6Unspecified():
		return "unspecified"
	case addr == netip.IPv6Loopback():
		return "loopback"
	case [12]byte(a[:12]) == [12]byte{}:
		// IPv4-compatible, ::a.b.c.d.
		return embedded(a[12:16])
	case nat64.Contains(addr):
		return embedded(a[12:16])
	case sixToFour.Contains(addr):
		return embedded(a[2:6])
	}
	for _, b := range v6Blocks {
		if b.prefix.Contains(addr) {
			return b.name
		}
	}
	if !global6.Contains(addr) {
		return "not global unicast"
	}
	return ""
}

// embedded is why the IPv4 address in b is not public, or "" when it is.
func embedded(b []byte) string {
	if why := blocked(netip.AddrFrom4([4]byte(b))); why != "" {
		return "embeds a " + why + " IPv4 address"
	}
	return ""
}
