package sigv4_test

// An independent SigV4 verifier for the tests, written from AWS's
// documentation ("Create a signed AWS API request") and not from the SDK
// or the package: it recomputes, as a service does, the signature of a
// request received, from what was received. It is checked against AWS's
// published examples, so that the checks built on it check something.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func hmacSum(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// deriveKey is SigV4's kSigning: HMAC("AWS4"+secret, date), then region,
// service and "aws4_request".
func deriveKey(secret, date, region, service string) []byte {
	k := []byte("AWS4" + secret)
	for _, part := range []string{date, region, service, "aws4_request"} {
		k = hmacSum(k, part)
	}
	return k
}

// uriEncode is SigV4's URI encoding: every byte but the unreserved ones
// (and "/" when keepSlash) as %XX, in upper case.
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 || keepSlash && c == '/' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// signature is what a request's signature parts say.
type signature struct {
	AccessKeyID, Date, Region, Service string
	SignedHeaders                      []string
	Signature                          string
	AmzDate                            string
	Presigned                          bool
}

// parseAuthorization reads the signature of r, from its Authorization
// header or, for a presigned URL, from its query.
func parseAuthorization(t *testing.T, r *http.Request) signature {
	t.Helper()
	var s signature
	var credential, signed string
	if auth := r.Header.Get("Authorization"); auth != "" {
		rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
		if !ok {
			t.Fatalf("Authorization %q is not AWS4-HMAC-SHA256", auth)
		}
		for _, part := range strings.Split(rest, ", ") {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "Credential":
				credential = v
			case "SignedHeaders":
				signed = v
			case "Signature":
				s.Signature = v
			}
		}
		s.AmzDate = r.Header.Get("X-Amz-Date")
	} else {
		q := r.URL.Query()
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			t.Fatalf("neither an Authorization header nor a presigned query: %s", r.URL)
		}
		credential, signed, s.Signature, s.AmzDate = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"), q.Get("X-Amz-Date")
		s.Presigned = true
	}
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		t.Fatalf("credential %q is not key/date/region/service/aws4_request", credential)
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	s.SignedHeaders = strings.Split(signed, ";")
	if len(s.AmzDate) != 16 || s.AmzDate[:8] != s.Date {
		t.Fatalf("X-Amz-Date %q is not of the credential's date %s", s.AmzDate, s.Date)
	}
	if s.Signature == "" {
		t.Fatal("no signature")
	}
	return s
}

// expectedSignature recomputes the signature of r as received, signed with
// secret over payloadHash: the canonical request from r's method, path
// (escaped a second time for every service but S3), query, the headers
// the signature names, and the payload's hash.
func expectedSignature(t *testing.T, r *http.Request, s signature, secret, payloadHash string) string {
	t.Helper()
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	if s.Service != "s3" {
		path = uriEncode(path, true)
	}
	var params []string
	for k, vs := range r.URL.Query() {
		if s.Presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			params = append(params, uriEncode(k, false)+"="+uriEncode(v, false))
		}
	}
	slices.Sort(params)
	if !slices.IsSorted(s.SignedHeaders) {
		t.Fatalf("signed headers %v are not sorted", s.SignedHeaders)
	}
	var headers strings.Builder
	for _, h := range s.SignedHeaders {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				t.Fatalf("signed header %s was not received", h)
			}
			v = strings.Join(vals, ",")
		}
		headers.WriteString(h + ":" + strings.Join(strings.Fields(v), " ") + "\n")
	}
	canonical := strings.Join([]string{
		r.Method, path, strings.Join(params, "&"), headers.String(), strings.Join(s.SignedHeaders, ";"), payloadHash,
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := s.Date + "/" + s.Region + "/" + s.Service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + s.AmzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(hmacSum(deriveKey(secret, s.Date, s.Region, s.Service), toSign))
}

// TestVerifierMatchesAWSExamples checks the verifier against AWS's
// published examples: the signing key of "Examples of how to derive a
// signing key for Signature Version 4", and the signature of the SigV4
// test suite's get-vanilla request.
func TestVerifierMatchesAWSExamples(t *testing.T) {
	got := hex.EncodeToString(deriveKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"))
	if want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Fatalf("kSigning %s, want %s", got, want)
	}
	r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Host: "example.amazonaws.com", Header: http.Header{
		"X-Amz-Date": {"20150830T123600Z"},
		"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
			"SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	}}
	s := parseAuthorization(t, r)
	empty := sha256.Sum256(nil)
	if got := expectedSignature(t, r, s, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", hex.EncodeToString(empty[:])); got != s.Signature {
		t.Fatalf("get-vanilla: signature %s, want %s", got, s.Signature)
	}
}
