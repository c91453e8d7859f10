package sigv4

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 1 << 20

// CallJSON makes one call of an AWS JSON 1.1 API (Secrets Manager's): in,
// as JSON, POSTed to endpoint's root with target
// ("secretsmanager.GetSecretValue") in X-Amz-Target, signed as Do signs.
// A 2xx answer is decoded into out (unless out is nil). An error answer is
// a ResponseError, told by its code (X-Amzn-ErrorType or the body's
// __type) and never by its message; shared/awserr.Classify reads it as it
// reads the SDK clients' errors. Do's errors are returned as they are.
func (c *Client) CallJSON(ctx context.Context, endpoint, target string, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode the request: %w", target, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+"/", nil)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	resp, err := c.Do(req, payload)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", target, err)
	}
	if resp.StatusCode/100 != 2 {
		return ResponseError(resp, ErrorCode(resp.Header, raw))
	}
	if out != nil && json.Unmarshal(raw, out) != nil {
		return fmt.Errorf("%s: status %d, the answer is not JSON", target, resp.StatusCode)
	}
	return nil
}

// ResponseError is the error answer resp (whose body the caller has read)
// as the SDK's clients return one: an *awshttp.ResponseError with the
// status and the request id (x-amzn-RequestId, or S3's x-amz-request-id)
// around a smithy.APIError with code, or the status's text when code is
// empty. It holds no message: an answer's message may quote the request.
func ResponseError(resp *http.Response, code string) error {
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	fault := smithy.FaultClient
	if resp.StatusCode >= 500 {
		fault = smithy.FaultServer
	}
	id := resp.Header.Get("X-Amzn-Requestid")
	if id == "" {
		id = resp.Header.Get("X-Amz-Request-Id")
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: resp},
			Err:      &smithy.GenericAPIError{Code: code, Fault: fault},
		},
		RequestID: id,
	}
}

// ErrorCode is the code of an AWS error answer, "" when it has none: the
// X-Amzn-ErrorType header, else the JSON body's __type or code (the JSON
// and REST-JSON protocols), else the <Code> of an XML error document (S3),
// without a namespace ("aws.protocols#…") or a trailing ":<url>". Only a
// name is returned (letters, digits, "_" and ".", at most 64 bytes): an
// answer that is not an AWS error cannot put its text in an error.
func ErrorCode(h http.Header, body []byte) string {
	code := h.Get("X-Amzn-ErrorType")
	if code == "" {
		var out struct {
			Type string `json:"__type"`
			Code string `json:"code"`
		}
		if json.Unmarshal(body, &out) == nil {
			code = out.Type
			if code == "" {
				code = out.Code
			}
		} else if _, rest, ok := bytes.Cut(body, []byte("<Code>")); ok {
			// Read without encoding/xml, which would otherwise enter the
			// binaries.
			if c, _, ok := bytes.Cut(rest, []byte("</Code>")); ok {
				code = string(c)
			}
		}
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if len(code) > 64 {
		return ""
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return ""
		}
	}
	return code
}
