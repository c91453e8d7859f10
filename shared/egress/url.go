package egress

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLength is the longest URL CheckURL accepts, in bytes.
const MaxURLLength = 2048

// The rules a URL can break, as URLError.Rule names them. They are stable:
// a caller may show them, test them or document them.
const (
	RuleLength         = "length"          // longer than MaxURLLength
	RuleSyntax         = "syntax"          // not an absolute URL
	RuleHTTPS          = "https"           // a scheme other than https
	RuleUserinfo       = "userinfo"        // a user name or password
	RuleFragment       = "fragment"        // a fragment (#…)
	RuleHost           = "host"            // no host, or one neither a DNS name nor a canonical IP address
	RulePort           = "port"            // a port that is not 1..65535
	RulePrivateAddress = "private_address" // a host that is an address, or a name, that is not public
)

// URLError is a URL that CheckURL refuses, with the rule it breaks. Its
// message names the rule and says in our words what it asks; it never
// quotes the URL, so it can be shown as it is, as the error of a field.
type URLError struct {
	// Rule is one of the Rule constants.
	Rule string
	// Reason is what the rule asks, in a short sentence.
	Reason string
}

func (e *URLError) Error() string { return "egress: url: " + e.Rule + ": " + e.Reason }

func urlError(rule, reason string) *URLError { return &URLError{Rule: rule, Reason: reason} }

// CheckURL checks raw, a URL an organisation gives us to send to, and
// returns it parsed. It is meant for registration, where its error is the
// field's, and Client.Post checks every URL with it again.
//
// raw must be at most MaxURLLength bytes, absolute, https, with no user
// name or password and no fragment, and its port, when it has one, 1 to
// 65535. Its host must be a DNS name (ASCII letters, digits and hyphens in
// dot-separated labels, not ending in a number) or an IP address written
// the one way all resolvers read alike: a dotted quad or a bracketed IPv6
// address. A host such as 0x7f000001, 2130706433, 0177.0.0.1 or 127.1 is
// refused, because getaddrinfo and inet_aton read each of them as
// 127.0.0.1. A host that is an IP address must be Public; localhost and
// its subdomains are refused as not public too. A DNS name is not
// resolved here: what it resolves to is checked at each attempt.
//
// allowLoopback is for local development and tests: it lets the host be a
// loopback address or localhost, over http as well as https.
func CheckURL(raw string, allowLoopback bool) (*url.URL, error) {
	if len(raw) > MaxURLLength {
		return nil, urlError(RuleLength, "the URL must be at most "+strconv.Itoa(MaxURLLength)+" bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return nil, urlError(RuleSyntax, "the URL must be absolute, as https://host/path")
	}
	httpsOnly := urlError(RuleHTTPS, "the scheme must be https")
	if allowLoopback {
		httpsOnly = urlError(RuleHTTPS, "the scheme must be https (or http to a loopback host)")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && allowLoopback) {
		return nil, httpsOnly
	}
	if u.User != nil || strings.Contains(authority(raw), "@") {
		return nil, urlError(RuleUserinfo, "the URL must not hold a user name or password")
	}
	if strings.Contains(raw, "#") {
		return nil, urlError(RuleFragment, "the URL must not have a fragment (#)")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return nil, urlError(RuleHost, "the URL must have a host")
	}
	if strings.HasSuffix(u.Host, ":") {
		return nil, urlError(RulePort, "the port must be a number from 1 to 65535")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return nil, urlError(RulePort, "the port must be a number from 1 to 65535")
		}
	}
	loopback, err := checkHost(u.Host, host, allowLoopback)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !loopback {
		return nil, httpsOnly
	}
	return u, nil
}

// authority is the part of raw between "//" and the path, query or
// fragment that follows: where a user name would be.
func authority(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// checkHost checks the host of a URL (hostport is its Host, host its
// Hostname) and says whether it is a loopback one.
func checkHost(hostport, host string, allowLoopback bool) (loopback bool, err error) {
	if strings.HasPrefix(hostport, "[") {
		addr, perr := netip.ParseAddr(host)
		switch {
		case perr != nil || !addr.Is6():
			return false, urlError(RuleHost, "a bracketed host must be an IPv6 address")
		case addr.Zone() != "":
			return false, urlError(RuleHost, "an IPv6 address must not have a zone")
		}
		return checkIP(addr, allowLoopback)
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !(isAlnum(c) || c == '-' || c == '.') {
			return false, urlError(RuleHost, "the host must be a DNS name of ASCII letters, digits, hyphens and dots, or an IP address")
		}
	}
	if addr, perr := netip.ParseAddr(host); perr == nil && addr.Is4() {
		return checkIP(addr, allowLoopback)
	}
	if !dnsName(host) {
		return false, urlError(RuleHost, "the host must be a DNS name: labels of 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen, 253 bytes at most")
	}
	if numeric(host) {
		return false, urlError(RuleHost, "a numeric host must be an IPv4 address in dotted-quad form, as 192.0.2.1, or a bracketed IPv6 address")
	}
	name := strings.ToLower(host)
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		if allowLoopback {
			return true, nil
		}
		return false, urlError(RulePrivateAddress, "the host must not be localhost")
	}
	return false, nil
}

// checkIP checks a host that is an IP address.
func checkIP(addr netip.Addr, allowLoopback bool) (loopback bool, err error) {
	loopback = addr.Unmap().IsLoopback()
	if allowLoopback && loopback {
		return true, nil
	}
	if !Public(addr) {
		return false, urlError(RulePrivateAddress, "the host must be a public IP address")
	}
	return false, nil
}

// dnsName reports whether host is a DNS host name: dot-separated labels of
// 1 to 63 ASCII letters, digits and hyphens, none starting or ending with
// a hyphen, at most 253 bytes. A trailing dot is refused: it is a second
// spelling of the same name.
func dnsName(host string) bool {
	if len(host) > 253 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// numeric reports whether a resolver may read host as an IPv4 address
// rather than a name: as the WHATWG URL standard's "ends in a number",
// whether its last label is all digits or 0x followed by hex digits
// (2130706433, 127.1, 0177.0.0.1, 0x7f000001, 0x7f.1). No top-level domain
// is numeric, so no name is lost.
func numeric(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if strings.HasPrefix(last, "0x") || strings.HasPrefix(last, "0X") {
		last = last[2:]
		for i := 0; i < len(last); i++ {
			if !isHex(last[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
