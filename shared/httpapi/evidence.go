// Handlers of the evidence routes:
//
//	request-otp-evidence-uploads, request-chain-evidence-uploads   POST .../{id}/evidence/uploads
//	confirm-otp-evidence, confirm-chain-evidence                   PUT  .../{id}/evidence
//	get-otp-evidence, get-chain-evidence                           GET  .../{id}/evidence
//	decide-chain-document                                          POST .../chain/{id}/document/decision

package httpapi

import (
	"net/http"
)

// requestUploads serves request-otp-evidence-uploads and
// request-chain-evidence-uploads.
func (h *Handler) requestUploads(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, parseUploadRequest)
	if !ok {
		return
	}
	ups, err := h.svc.RequestUploads(r.Context(), c.ref, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, uploadsViewOf(ups))
}

// confirmEvidence serves confirm-otp-evidence and confirm-chain-evidence.
func (h *Handler) confirmEvidence(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, parseEvidenceConfirm); ok {
		h.noContent(w, r, nil, h.svc.ConfirmEvidence(r.Context(), c.ref, in, c.by))
	}
}

// evidenceLinks serves get-otp-evidence and get-chain-evidence.
func (h *Handler) evidenceLinks(w http.ResponseWriter, r *http.Request, c *call) {
	links, err := h.svc.EvidenceLinks(r.Context(), c.ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, evidenceListViewOf(links))
}

// decideDocument serves decide-chain-document.
func (h *Handler) decideDocument(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, parseDecision); ok {
		h.noContent(w, r, nil, h.svc.DecideDocument(r.Context(), c.ref, in, c.by))
	}
}
