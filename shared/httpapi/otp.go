// Handlers of the OTP routes, and of the routes an OTP and a chain share:
//
//	create-otp                           POST   .../otp
//	get-otp, get-chain                   GET    .../{id}
//	get-otp-history, get-chain-history   GET    .../{id}/history
//	cancel-otp, cancel-chain             POST   .../{id}/cancel
//	close-otp, close-chain               POST   .../{id}/close
//	extend-otp, extend-chain             POST   .../{id}/extend
//	delete-otp                           DELETE .../otp/{id}
//	validate-otp, validate-chain-otp     PUT    .../otp/{id}/validate, .../chain/{id}/otp/validate
//	resend-otp, resend-chain-otp         POST   .../otp/{id}/resend, .../chain/{id}/otp/resend

package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/identification"
)

// createOTP serves create-otp.
func (h *Handler) createOTP(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, parseCreateOTP)
	if !ok {
		return
	}
	view := func(cr identification.Created, code string) processView {
		v := viewOf(cr.Identification)
		if cr.Code != "" {
			v.OTPCode = code
			exp := identification.CodeExpiry(cr.Identification)
			v.CodeExpiresAt = &exp
		}
		return v
	}
	if c.once != nil {
		var rec identification.Idempotency
		_, replay, err := h.svc.CreateOTPOnce(r.Context(), c.org, in, c.by, func(cr identification.Created) identification.Idempotency {
			rec = c.record(http.StatusCreated, view(cr, identification.CodePlaceholder), cr.ID)
			if cr.Code != "" {
				rec.CodeKey, rec.CodeNonce = cr.KeyID, cr.Nonce
			}
			return rec
		})
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	created, err := h.svc.CreateOTP(r.Context(), c.org, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, created.Identification, view(created, created.Code))
}

// get serves get-otp and get-chain.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, c *call) {
	i, err := h.svc.Get(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(i.Version))
	writeJSON(w, http.StatusOK, viewOf(i))
}

// history serves get-otp-history and get-chain-history.
func (h *Handler) history(w http.ResponseWriter, r *http.Request, c *call) {
	i, err := h.svc.History(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, historyViewOf(i))
}

// cancel serves cancel-otp and cancel-chain.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, c *call) {
	reason, ok := decoded(h, w, r, func(body []byte) (string, error) {
		return parseCancel(body, c.ref.Type == identification.TypeOTP)
	})
	if !ok {
		return
	}
	if c.once != nil {
		rec := c.record(http.StatusNoContent, nil, c.ref.ID)
		replay, err := h.svc.CancelOnce(r.Context(), c.ref, reason, c.by, rec)
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.Cancel(r.Context(), c.ref, reason, c.by)
	h.noContent(w, r, i, err)
}

// close serves close-otp and close-chain.
func (h *Handler) close(w http.ResponseWriter, r *http.Request, c *call) {
	if c.once != nil {
		rec := c.record(http.StatusNoContent, nil, c.ref.ID)
		replay, err := h.svc.CloseOnce(r.Context(), c.ref, c.by, rec)
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.Close(r.Context(), c.ref, c.by)
	h.noContent(w, r, i, err)
}

// extend serves extend-otp and extend-chain.
func (h *Handler) extend(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, parseExtension)
	if !ok {
		return
	}
	if c.once != nil {
		rec := c.record(http.StatusNoContent, nil, c.ref.ID)
		replay, err := h.svc.ExtendOnce(r.Context(), c.ref, in, c.by, rec)
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.Extend(r.Context(), c.ref, in, c.by)
	h.noContent(w, r, i, err)
}

// delete serves delete-otp.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, c *call) {
	// r.URL.Query drops pairs it cannot decode ("force=tr%ue"), which would
	// turn a malformed force into an absent one.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, paramError("force: the query string is malformed; send force=true or force=false"))
		return
	}
	force := false
	if vs, ok := q["force"]; ok {
		if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
			h.writeError(w, r, paramError("force: must be true or false"))
			return
		}
		force = vs[0] == "true"
	}
	if force && !c.principal.HasScope(auth.ScopeForceDelete) {
		h.writeError(w, r, identification.Errorf(identification.KindForbidden, "force=true needs the %s scope", auth.ScopeForceDelete))
		return
	}
	h.noContent(w, r, nil, h.svc.Delete(r.Context(), c.ref, force, c.by))
}

// validate serves validate-otp and validate-chain-otp.
func (h *Handler) validate(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, parseValidation); ok {
		h.noContent(w, r, nil, h.svc.Validate(r.Context(), c.ref, in, c.by))
	}
}

// resendView is a resend's answer when the organisation delivers the code.
type resendView struct {
	OTPCode       string    `json:"otp_code"`
	CodeExpiresAt time.Time `json:"code_expires_at"`
}

// resend serves resend-otp and resend-chain-otp.
func (h *Handler) resend(w http.ResponseWriter, r *http.Request, c *call) {
	if err := emptyBody(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	var out identification.Resent
	var err error
	if c.once != nil {
		var replayed bool
		out, replayed, err = h.svc.ResendOnce(r.Context(), c.ref, c.by, c.record(0, nil, c.ref.ID))
		if replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
	} else {
		out, err = h.svc.Resend(r.Context(), c.ref, c.by)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if out.External {
		writeJSON(w, http.StatusOK, resendView{OTPCode: out.Code, CodeExpiresAt: out.ExpiresAt})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
