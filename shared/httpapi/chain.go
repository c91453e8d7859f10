// Handlers of the chain's own routes:
//
//	create-chain           POST .../chain
//	validate-chain         POST .../chain/{id}/validate (the chain's start)
//	validate-chain-agent   POST .../chain/{id}/agent/validate

package httpapi

import (
	"net/http"

	"github.com/idadmin/api/shared/identification"
)

// createChain serves create-chain.
func (h *Handler) createChain(w http.ResponseWriter, r *http.Request, c *call) {
	in, ok := decoded(h, w, r, parseCreateChain)
	if !ok {
		return
	}
	if c.once != nil {
		var rec identification.Idempotency
		_, replay, err := h.svc.CreateChainOnce(r.Context(), c.org, in, c.by, func(cr identification.Created) identification.Idempotency {
			rec = c.record(http.StatusCreated, viewOf(cr.Identification), cr.ID)
			return rec
		})
		h.answerOnce(w, r, c, rec, replay, err)
		return
	}
	i, err := h.svc.CreateChain(r.Context(), c.org, in, c.by)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.created(w, r, i, viewOf(i))
}

// startChain serves validate-chain, the chain's start.
func (h *Handler) startChain(w http.ResponseWriter, r *http.Request, c *call) {
	if err := emptyBody(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.noContent(w, r, nil, h.svc.StartChain(r.Context(), c.ref, c.by))
}

// completeAgent serves validate-chain-agent.
func (h *Handler) completeAgent(w http.ResponseWriter, r *http.Request, c *call) {
	if in, ok := decoded(h, w, r, parseAgentResult); ok {
		h.noContent(w, r, nil, h.svc.CompleteAgent(r.Context(), c.ref, in, c.by))
	}
}
