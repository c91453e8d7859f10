package s3evidence_test

// An independent SigV4 for the tests: the signing key, the POST policy's
// signature and a presigned GET's, written from AWS's documentation and not
// from the package, and checked against AWS's published example.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
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

// TestDeriveKeyMatchesAWSExample checks the tests' own derivation against
// the example in AWS's "Examples of how to derive a signing key for
// Signature Version 4", so the checks built on it check something.
func TestDeriveKeyMatchesAWSExample(t *testing.T) {
	got := hex.EncodeToString(deriveKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"))
	if want := "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"; got != want {
		t.Fatalf("kSigning %s, want %s", got, want)
	}
}

// postSignature is what x-amz-signature must be for fields signed with
// secret in region: the hex HMAC of the base64 policy under the key of the
// date in x-amz-date.
func postSignature(fields map[string]string, secret, region string) string {
	date := fields["x-amz-date"]
	if len(date) < 8 {
		return ""
	}
	return hex.EncodeToString(hmacSum(deriveKey(secret, date[:8], region, "s3"), fields["policy"]))
}

// awsEscape is SigV4's URI encoding: every byte but the unreserved ones as
// %XX, in upper case.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// presignedGetSignature recomputes the X-Amz-Signature a presigned GET of
// u, signing only the host, must carry.
func presignedGetSignature(t *testing.T, u *url.URL, secret, region string) string {
	t.Helper()
	q := u.Query()
	var params []string
	for k, vs := range q {
		if k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			params = append(params, awsEscape(k)+"="+awsEscape(v))
		}
	}
	slices.Sort(params)
	if q.Get("X-Amz-SignedHeaders") != "host" {
		t.Fatalf("signed headers %q, want host", q.Get("X-Amz-SignedHeaders"))
	}
	canonical := strings.Join([]string{
		"GET", u.EscapedPath(), strings.Join(params, "&"),
		"host:" + u.Host + "\n", "host", "UNSIGNED-PAYLOAD",
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	amzDate := q.Get("X-Amz-Date")
	if len(amzDate) < 8 {
		t.Fatalf("X-Amz-Date %q", amzDate)
	}
	scope := amzDate[:8] + "/" + region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	return hex.EncodeToString(hmacSum(deriveKey(secret, amzDate[:8], region, "s3"), toSign))
}
