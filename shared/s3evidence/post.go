package s3evidence

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PostTTL is how long a presigned POST form is valid.
const PostTTL = 5 * time.Minute

// algorithm is the POST policy's signing algorithm (x-amz-algorithm).
const algorithm = "AWS4-HMAC-SHA256"

// The formats of a policy's expiration and of x-amz-date.
const (
	expirationFormat = "2006-01-02T15:04:05.000Z"
	amzDateFormat    = "20060102T150405Z"
	scopeDateFormat  = "20060102"
)

// PostForm is a presigned browser upload of one object: an HTML form, or a
// FormData, posted as multipart/form-data to URL before Expires, with every
// one of Fields first and the image last, as a part named "file".
type PostForm struct {
	URL     string
	Fields  map[string]string
	Expires time.Time
}

// PresignPost returns the form through which one image of contentType
// (JPEG or PNG) is uploaded under key (a ValidKey), signed at now and valid
// for PostTTL. Its policy lets S3 store only that: this bucket, exactly
// this key and this Content-Type, 1 byte to MaxSize, with the credentials'
// session token when they have one.
func (b *Bucket) PresignPost(ctx context.Context, key, contentType string, now time.Time) (PostForm, error) {
	if !ValidKey(key) {
		return PostForm{}, fmt.Errorf("s3evidence presign post: %w", ErrInvalidKey)
	}
	if err := checkContentType(contentType); err != nil {
		return PostForm{}, fmt.Errorf("s3evidence presign post: %w", err)
	}
	creds, err := b.s3.Retrieve(ctx)
	if err != nil {
		return PostForm{}, fmt.Errorf("s3evidence presign post: %w", err)
	}
	now = now.UTC()
	expires := now.Add(PostTTL).Truncate(time.Millisecond)
	fields := map[string]string{
		"key":              key,
		"Content-Type":     contentType,
		"x-amz-algorithm":  algorithm,
		"x-amz-credential": creds.AccessKeyID + "/" + credentialScope(now, b.region),
		"x-amz-date":       now.Format(amzDateFormat),
	}
	if creds.SessionToken != "" {
		fields["x-amz-security-token"] = creds.SessionToken
	}
	policy, err := encodePolicy(b.name, expires, fields)
	if err != nil {
		return PostForm{}, fmt.Errorf("s3evidence presign post: %w", err)
	}
	fields["policy"] = policy
	fields["x-amz-signature"] = signPolicy(creds.SecretAccessKey, now, b.region, policy)
	return PostForm{URL: b.bucketURL(), Fields: fields, Expires: expires}, nil
}

// encodePolicy is the base64 policy document for a form of these fields
// (all but policy and x-amz-signature) in bucket, expiring at expires.
func encodePolicy(bucket string, expires time.Time, fields map[string]string) (string, error) {
	conditions := []any{
		map[string]string{"bucket": bucket},
		map[string]string{"key": fields["key"]},
		[]any{"content-length-range", 1, MaxSize},
		[]any{"eq", "$Content-Type", fields["Content-Type"]},
	}
	for _, name := range []string{"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-security-token"} {
		if v, ok := fields[name]; ok {
			conditions = append(conditions, map[string]string{name: v})
		}
	}
	doc, err := json.Marshal(struct {
		Expiration string `json:"expiration"`
		Conditions []any  `json:"conditions"`
	}{expires.UTC().Format(expirationFormat), conditions})
	if err != nil {
		return "", fmt.Errorf("encode the policy: %w", err)
	}
	return base64.StdEncoding.EncodeToString(doc), nil
}

// credentialScope is "date/region/s3/aws4_request" for a signature at t.
func credentialScope(t time.Time, region string) string {
	return t.UTC().Format(scopeDateFormat) + "/" + region + "/" + service + "/aws4_request"
}

// signPolicy is x-amz-signature: the hex HMAC-SHA256 of the base64 policy
// under the SigV4 signing key of secret for S3 in region on t's date.
func signPolicy(secret string, t time.Time, region, policy string) string {
	key := signingKey(secret, t.UTC().Format(scopeDateFormat), region, service)
	return hex.EncodeToString(hmacSHA256(key, policy))
}

// signingKey is SigV4's signing key: HMAC-SHA256 chained over the date
// (YYYYMMDD), the region, the service and "aws4_request", starting from
// "AWS4" and the secret access key.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// Policy is a decoded POST policy document.
type Policy struct {
	Expiration time.Time
	Conditions []Condition
}

// Condition is one of a policy's conditions. An object condition
// {"field": "value"} is decoded as Op "eq".
type Condition struct {
	// Op is "eq", "starts-with" or "content-length-range".
	Op string
	// Field is the form field compared, without its "$" ("bucket", "key",
	// "Content-Type", "x-amz-date", ...); empty for content-length-range.
	Field string
	// Value is what the field is compared with (eq, starts-with).
	Value string
	// Min and Max are content-length-range's bounds, in bytes.
	Min, Max int64
}

// DecodePolicy decodes the policy document of a form's fields (the base64
// JSON of its "policy" field). It decodes; it does not check the signature.
func DecodePolicy(fields map[string]string) (Policy, error) {
	raw, err := base64.StdEncoding.DecodeString(fields["policy"])
	if err != nil {
		return Policy{}, fmt.Errorf("s3evidence decode policy: not base64: %w", err)
	}
	var doc struct {
		Expiration string            `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return Policy{}, fmt.Errorf("s3evidence decode policy: %w", err)
	}
	exp, err := time.Parse(expirationFormat, doc.Expiration)
	if err != nil {
		return Policy{}, fmt.Errorf("s3evidence decode policy: expiration: %w", err)
	}
	p := Policy{Expiration: exp}
	for i, c := range doc.Conditions {
		cond, err := decodeCondition(c)
		if err != nil {
			return Policy{}, fmt.Errorf("s3evidence decode policy: condition %d: %w", i, err)
		}
		p.Conditions = append(p.Conditions, cond)
	}
	return p, nil
}

// decodeCondition decodes {"field": "value"}, ["eq"|"starts-with",
// "$field", "value"] or ["content-length-range", min, max].
func decodeCondition(raw json.RawMessage) (Condition, error) {
	var obj map[string]string
	if err := json.Unmarshal(raw, &obj); err == nil {
		if len(obj) != 1 {
			return Condition{}, fmt.Errorf("an object condition has %d fields, want 1", len(obj))
		}
		for k, v := range obj {
			return Condition{Op: "eq", Field: k, Value: v}, nil
		}
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 3 {
		return Condition{}, errors.New("neither an object nor an array of 3")
	}
	var op string
	if err := json.Unmarshal(arr[0], &op); err != nil {
		return Condition{}, errors.New("the operator is not a string")
	}
	switch op {
	case "content-length-range":
		c := Condition{Op: op}
		if json.Unmarshal(arr[1], &c.Min) != nil || json.Unmarshal(arr[2], &c.Max) != nil {
			return Condition{}, errors.New("content-length-range bounds are not integers")
		}
		return c, nil
	case "eq", "starts-with":
		var field, value string
		if json.Unmarshal(arr[1], &field) != nil || json.Unmarshal(arr[2], &value) != nil {
			return Condition{}, errors.New(op + ": field and value must be strings")
		}
		name, ok := strings.CutPrefix(field, "$")
		if !ok {
			return Condition{}, errors.New(op + ": the field does not start with $")
		}
		return Condition{Op: op, Field: name, Value: value}, nil
	}
	return Condition{}, fmt.Errorf("unknown operator %q", op)
}

// Eq is the value field (compared case-insensitively, as S3 does) must
// equal, and whether the policy has exactly one condition on field and it
// is an eq.
func (p Policy) Eq(field string) (string, bool) {
	var found []Condition
	for _, c := range p.Conditions {
		if c.Op != "content-length-range" && strings.EqualFold(c.Field, field) {
			found = append(found, c)
		}
	}
	if len(found) != 1 || found[0].Op != "eq" {
		return "", false
	}
	return found[0].Value, true
}

// LengthRange is the policy's content-length-range, and whether it has
// exactly one.
func (p Policy) LengthRange() (min, max int64, ok bool) {
	n := 0
	for _, c := range p.Conditions {
		if c.Op == "content-length-range" {
			min, max = c.Min, c.Max
			n++
		}
	}
	if n != 1 {
		return 0, 0, false
	}
	return min, max, true
}
