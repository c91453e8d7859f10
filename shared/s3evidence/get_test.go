package s3evidence_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/internal/s3local"
	"github.com/idadmin/api/shared/s3evidence"
)

// TestPresignGetDownloads: the link downloads the uploaded image from moto
// with a plain GET.
func TestPresignGetDownloads(t *testing.T) {
	t.Parallel()
	b, _ := motoBucket(t)
	content := jpegBytes(t)
	upload(t, b, "acme/id-2/front.jpg", s3evidence.JPEG, content)
	link, err := b.PresignGet(context.Background(), "acme/id-2/front.jpg", "", 5*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	status, body := s3local.Get(t, link)
	if status != http.StatusOK || !bytes.Equal(body, content) {
		t.Fatalf("HTTP %d, %d bytes, want 200 and the %d uploaded", status, len(body), len(content))
	}
}

// expiresAt is when a presigned URL stops being valid: X-Amz-Date plus
// X-Amz-Expires.
func expiresAt(t *testing.T, u *url.URL) time.Time {
	t.Helper()
	signed, err := time.Parse("20060102T150405Z", u.Query().Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	secs, err := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
	if err != nil {
		t.Fatalf("X-Amz-Expires: %v", err)
	}
	return signed.Add(time.Duration(secs) * time.Second)
}

// TestPresignGetURL checks the link itself, since moto_server honours
// neither the expiry nor the signature of a presigned GET (measured: an
// expired link and one with a wrong signature both download): the object's
// address, virtual-hosted on AWS and path-style locally, valid for the ttl
// from the signing time and no longer, with the session token, and a
// signature recomputed independently.
func TestPresignGetURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ endpoint, prefix string }{
		{"", "https://acme-evidence.s3.eu-west-1.amazonaws.com/acme/id-2/front.jpg?"},
		{"http://127.0.0.1:4566", "http://127.0.0.1:4566/acme-evidence/acme/id-2/front.jpg?"},
	} {
		link, err := newBucket(t, c.endpoint, lambdaCreds).PresignGet(context.Background(), "acme/id-2/front.jpg", "", 5*time.Minute, signedAt)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(link, c.prefix) {
			t.Errorf("%s, want it to start with %s", link, c.prefix)
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, want := range map[string]string{
			"X-Amz-Algorithm":      "AWS4-HMAC-SHA256",
			"X-Amz-Credential":     lambdaCreds.AccessKeyID + "/20261121/eu-west-1/s3/aws4_request",
			"X-Amz-Date":           "20261121T100000Z",
			"X-Amz-Expires":        "300",
			"X-Amz-SignedHeaders":  "host",
			"X-Amz-Security-Token": lambdaCreds.SessionToken,
		} {
			if got := q.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
		if exp := expiresAt(t, u); !exp.Equal(signedAt.Add(5 * time.Minute)) {
			t.Errorf("valid until %v, want %v", exp, signedAt.Add(5*time.Minute))
		} else if !signedAt.Add(5*time.Minute + time.Second).After(exp) {
			t.Error("valid past its ttl")
		}
		if got, want := q.Get("X-Amz-Signature"), presignedGetSignature(t, u, lambdaCreds.SecretAccessKey, region); got != want {
			t.Errorf("X-Amz-Signature %s, recomputed %s", got, want)
		}
	}
}

// TestPresignGetExpired: a link signed 10 minutes ago for 5 minutes has
// expired by its own parameters (moto would still serve it; see
// TestPresignGetURL).
func TestPresignGetExpired(t *testing.T) {
	t.Parallel()
	now := time.Now()
	link, err := newBucket(t, "", lambdaCreds).PresignGet(context.Background(), "a.png", "", 5*time.Minute, now.Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	if exp := expiresAt(t, u); !exp.Before(now) {
		t.Errorf("valid until %v, after now %v", exp, now)
	}
}

// TestPresignGetRefuses a validity that is not whole seconds from 1 s to 7
// days, and an invalid key.
func TestPresignGetRefuses(t *testing.T) {
	t.Parallel()
	b := newBucket(t, "", lambdaCreds)
	for _, ttl := range []time.Duration{0, -time.Minute, 500 * time.Millisecond, 1500 * time.Millisecond, 7*24*time.Hour + time.Second} {
		if _, err := b.PresignGet(context.Background(), "a.png", "", ttl, signedAt); err == nil {
			t.Errorf("ttl %v accepted", ttl)
		}
	}
	if _, err := b.PresignGet(context.Background(), "a.png", "", 7*24*time.Hour, signedAt); err != nil {
		t.Errorf("7 days refused: %v", err)
	}
	if _, err := b.PresignGet(context.Background(), "../a.png", "", time.Minute, signedAt); err == nil {
		t.Error("invalid key accepted")
	}
}
