package egress

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckURL: each rule, by the rule a refused URL is refused for, with
// and without allowLoopback; an accepted URL comes back parsed as given.
func TestCheckURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/"))
	cases := []struct {
		name     string
		raw      string
		loopback bool
		want     string // the rule broken, "" when accepted
	}{
		{"plain", "https://example.com", false, ""},
		{"path, query, port", "https://hooks.example.com:8443/in/acme?token=x", false, ""},
		{"upper case", "HTTPS://Hooks.Example.COM/", false, ""},
		{"public IPv4", "https://8.8.8.8/hook", false, ""},
		{"public IPv6", "https://[2606:4700::1111]:443/", false, ""},
		{"public IPv4-mapped", "https://[::ffff:8.8.8.8]/", false, ""},
		{"digit labels", "https://1.example.com", false, ""},
		{"hyphens", "https://a-b.c-d.example", false, ""},
		{"at the length", long, false, ""},
		{"empty query", "https://example.com/?", false, ""},

		{"over the length", long + "a", false, RuleLength},
		{"far over the length", "https://example.com/" + strings.Repeat("a", 10000), false, RuleLength},

		{"empty", "", false, RuleSyntax},
		{"relative", "/hook", false, RuleSyntax},
		{"no scheme", "//example.com/hook", false, RuleSyntax},
		{"opaque", "https:example.com", false, RuleSyntax},
		{"unparsable", "https://exa mple.com", false, RuleSyntax},
		{"bad escape", "https://%31%32%37.0.0.1", false, RuleSyntax},

		{"http", "http://example.com", false, RuleHTTPS},
		{"http, loopback allowed, public host", "http://example.com", true, RuleHTTPS},
		{"http to a public address, loopback allowed", "http://8.8.8.8", true, RuleHTTPS},
		{"ftp", "ftp://example.com/file", false, RuleHTTPS},
		{"ftp, loopback allowed", "ftp://127.0.0.1/file", true, RuleHTTPS},
		{"file", "file:///etc/passwd", false, RuleHTTPS},
		{"gopher", "gopher://127.0.0.1:6379/_INFO", false, RuleHTTPS},

		{"user and password", "https://user:pw@example.com", false, RuleUserinfo},
		{"user", "https://user@example.com", false, RuleUserinfo},
		{"empty userinfo", "https://@example.com", false, RuleUserinfo},
		{"userinfo naming a private host", "https://example.com@10.0.0.1", false, RuleUserinfo},

		{"fragment", "https://example.com/#x", false, RuleFragment},
		{"empty fragment", "https://example.com/#", false, RuleFragment},

		{"empty host", "https:///hook", false, RuleHost},
		{"empty host with port", "https://:443/hook", false, RuleHost},
		{"non-ASCII host", "https://bücher.example/", false, RuleHost},
		{"escaped non-ASCII host", "https://b%C3%BCcher.example/", false, RuleHost},
		{"punycode is fine", "https://xn--bcher-kva.example/", false, ""},
		{"underscore", "https://a_b.example.com", false, RuleHost},
		{"trailing dot", "https://example.com./", false, RuleHost},
		{"empty label", "https://example..com/", false, RuleHost},
		{"leading hyphen", "https://-example.com/", false, RuleHost},
		{"trailing hyphen", "https://example-.com/", false, RuleHost},
		{"long label", "https://" + strings.Repeat("a", 64) + ".com/", false, RuleHost},
		{"long name", "https://" + strings.Repeat("a.", 127) + "com/", false, RuleHost},
		{"hex", "https://0x7f000001", false, RuleHost},
		{"hex, upper", "https://0X7F000001/", false, RuleHost},
		{"hex octets", "https://0x7f.0x0.0x0.0x1", false, RuleHost},
		{"decimal", "https://2130706433", false, RuleHost},
		{"octal", "https://017700000001", false, RuleHost},
		{"octal octet", "https://0177.0.0.1", false, RuleHost},
		{"leading zero", "https://010.0.0.1", false, RuleHost},
		{"short", "https://127.1", false, RuleHost},
		{"three parts", "https://10.0.1", false, RuleHost},
		{"five parts", "https://1.2.3.4.5", false, RuleHost},
		{"numeric last label", "https://example.123", false, RuleHost},
		{"hex last label", "https://example.0x1f", false, RuleHost},
		{"bracketed IPv4", "https://[127.0.0.1]/", false, RuleSyntax},
		{"zone", "https://[fe80::1%25eth0]/", false, RuleHost},
		{"zone on a public address", "https://[2606:4700::1111%25eth0]/", false, RuleHost},

		{"port", "https://example.com:65535", false, ""},
		{"port 0", "https://example.com:0", false, RulePort},
		{"port too big", "https://example.com:65536", false, RulePort},
		{"port far too big", "https://example.com:99999999999999999999", false, RulePort},
		{"port leading zero", "https://example.com:0443", false, RulePort},
		{"empty port", "https://example.com:", false, RulePort},
		{"empty port, IPv6", "https://[2606:4700::1111]:", false, RulePort},

		{"loopback", "http://127.0.0.1", false, RuleHTTPS},
		{"loopback, https", "https://127.0.0.1", false, RulePrivateAddress},
		{"loopback, allowed", "http://127.0.0.1", true, ""},
		{"loopback, allowed, https", "https://127.0.0.1:8443/hook", true, ""},
		{"loopback range, allowed", "http://127.0.0.2", true, ""},
		{"IPv6 loopback", "https://[::1]", false, RulePrivateAddress},
		{"IPv6 loopback, allowed", "http://[::1]:8080/", true, ""},
		{"mapped loopback", "https://[::ffff:127.0.0.1]", false, RulePrivateAddress},
		{"mapped loopback, hex", "https://[::ffff:7f00:1]", false, RulePrivateAddress},
		{"localhost", "https://localhost/", false, RulePrivateAddress},
		{"localhost, upper case", "https://LOCALHOST:8443/", false, RulePrivateAddress},
		{"under localhost", "https://a.localhost/", false, RulePrivateAddress},
		{"localhost, allowed", "http://localhost:8080/", true, ""},
		{"not localhost", "https://localhost.example.com/", false, ""},
		{"private", "https://10.0.0.1", false, RulePrivateAddress},
		{"private, loopback allowed", "https://10.0.0.1", true, RulePrivateAddress},
		{"private, http, loopback allowed", "http://192.168.0.1", true, RulePrivateAddress},
		{"metadata", "https://169.254.169.254/latest/meta-data", false, RulePrivateAddress},
		{"metadata, loopback allowed", "https://169.254.169.254/latest/meta-data", true, RulePrivateAddress},
		{"metadata, IPv6", "https://[fd00:ec2::254]", false, RulePrivateAddress},
		{"unspecified", "https://0.0.0.0", false, RulePrivateAddress},
		{"IPv6 unspecified", "https://[::]", false, RulePrivateAddress},
		{"NAT64", "https://[64:ff9b::a00:1]", false, RulePrivateAddress},
		{"6to4", "https://[2002:a00:1::]", false, RulePrivateAddress},
		{"Teredo", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]", false, RulePrivateAddress},
		{"compatible", "https://[::127.0.0.1]", false, RulePrivateAddress},
		{"link-local", "https://[fe80::1]", false, RulePrivateAddress},
		{"broadcast", "https://255.255.255.255", false, RulePrivateAddress},
		{"carrier-grade NAT", "https://100.64.0.1", false, RulePrivateAddress},
		{"documentation", "https://[2001:db8::1]", false, RulePrivateAddress},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := CheckURL(c.raw, c.loopback)
			if got := ruleOf(t, err); got != c.want {
				t.Fatalf("CheckURL(%.80q, %v): rule %q (%v), want %q", c.raw, c.loopback, got, err, c.want)
			}
			if err == nil && (u == nil || u.Host == "") {
				t.Fatalf("CheckURL(%.80q, %v) = %v, want the URL parsed", c.raw, c.loopback, u)
			}
			if err != nil && u != nil {
				t.Fatalf("CheckURL(%.80q, %v) = %v with an error, want nil", c.raw, c.loopback, u)
			}
		})
	}
}

// TestURLErrorNamesTheRuleNotTheURL: the message, which becomes a field
// error, names the rule and never repeats the URL.
func TestURLErrorNamesTheRuleNotTheURL(t *testing.T) {
	for _, raw := range []string{"http://secret-host.example/?token=secret", "https://secret:secret@example.com", "https://10.0.0.1/secret", "https://secret.0x10"} {
		_, err := CheckURL(raw, false)
		rule := ruleOf(t, err)
		if rule == "" {
			t.Fatalf("CheckURL(%q) accepted, want refused", raw)
		}
		if msg := err.Error(); !strings.Contains(msg, rule) || strings.Contains(msg, "secret") {
			t.Errorf("CheckURL(%q) error %q: want the rule %q named and nothing of the URL", raw, msg, rule)
		}
	}
}

// ruleOf is the rule err reports, "" for nil; any other error fails.
func ruleOf(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ue *URLError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not a *URLError", err, err)
	}
	return ue.Rule
}
