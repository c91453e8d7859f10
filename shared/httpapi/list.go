// Handler of the listings:
//
//	list-otp, list-chain   GET .../otp, .../chain

package httpapi

import (
	"net/http"
	"net/url"
)

// list serves list-otp and list-chain.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, c *call) {
	// r.URL.Query drops pairs it cannot decode ("email=%zz"), which would
	// widen the listing to processes the filter was meant to leave out.
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, paramError("query: is malformed: percent-encode its values (%%2B for +, %%40 for @)"))
		return
	}
	q, err := parseListQuery(vals)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, err := h.svc.List(r.Context(), c.org, c.ref.Type, q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listViewOf(page))
}
