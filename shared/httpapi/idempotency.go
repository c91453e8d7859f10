package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/idadmin/api/shared/identification"
)

// maxIdempotencyKey bounds an Idempotency-Key.
const maxIdempotencyKey = 255

// onceKey is a request's Idempotency-Key and what identifies the request.
type onceKey struct {
	hash, request string
}

// idempotencyKey reads the Idempotency-Key header: absent (nil), or 1 to
// 255 printable ASCII characters sent once. The request is identified by
// its caller, method, path and body, read here and put back for the route.
func idempotencyKey(r *http.Request, org string, by identification.Caller) (*onceKey, error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return nil, nil
	}
	if len(vs) != 1 || !printableASCII(vs[0], maxIdempotencyKey) {
		return nil, paramError("Idempotency-Key: must be sent once, 1 to %d printable ASCII characters", maxIdempotencyKey)
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return &onceKey{hash: identification.IdempotencyKeyHash(org, vs[0]),
		request: identification.RequestHash(by, r.Method, r.URL.Path, body)}, nil
}

// record is the key's record of an answer: status and body (v, or none).
func (c *call) record(status int, v any, processID string) identification.Idempotency {
	rec := identification.Idempotency{Key: c.once.hash, Request: c.once.request, Status: status, ProcessID: processID}
	if v != nil {
		rec.Body, _ = json.Marshal(v)
	}
	return rec
}

// answerOnce answers a request made with an Idempotency-Key: the first
// answer, as recorded (with its code filled in), whether this request made
// it or an earlier one did.
func (h *Handler) answerOnce(w http.ResponseWriter, r *http.Request, c *call, rec identification.Idempotency, replay *identification.Idempotency, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if replay != nil {
		if replay.Deleted {
			h.writeError(w, r, identification.Errorf(identification.KindConflict,
				"the identification this Idempotency-Key created has been deleted; use another key to create a new one"))
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		rec = *replay
	}
	body, err := h.svc.Replayed(c.ref, &rec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rec.Status == http.StatusCreated {
		kind := "otp"
		if c.ref.Type == identification.TypeChain {
			kind = "chain"
		}
		noteIdentification(r, rec.ProcessID)
		w.Header().Set("Location", h.basePathOf(r)+"/v1/orgs/"+c.org+"/identifications/"+kind+"/"+rec.ProcessID)
	}
	if len(body) == 0 {
		w.WriteHeader(rec.Status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Status)
	w.Write(body)
}
