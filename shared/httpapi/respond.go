// The answers the handlers share: the ETag of a version, a 204, a 201 with
// its Location.

package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/idadmin/api/shared/identification"
)

// etag is the ETag of a version: every 2xx that writes or reads a process
// says which version it saw.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// noContent answers 204 after an action that returned err, or the error.
// The 204 carries the ETag of i, the version written, when the action
// returns one (i is nil otherwise).
func (h *Handler) noContent(w http.ResponseWriter, r *http.Request, i *identification.Identification, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if i != nil {
		w.Header().Set("ETag", etag(i.Version))
	}
	w.WriteHeader(http.StatusNoContent)
}

// created answers a create: the identification, and a Location that works
// where the client is (behind the base path the request came through).
func (h *Handler) created(w http.ResponseWriter, r *http.Request, i *identification.Identification, v processView) {
	noteIdentification(r, i.ID)
	kind := "otp"
	if i.Type == identification.TypeChain {
		kind = "chain"
	}
	w.Header().Set("Location", h.basePathOf(r)+"/v1/orgs/"+i.OrgID+"/identifications/"+kind+"/"+i.ID)
	w.Header().Set("ETag", etag(i.Version))
	writeJSON(w, http.StatusCreated, v)
}

// basePathOf is the base path of r (Config.BasePath), or "" when there is
// none or it is not a plain path: "/" followed by non-empty segments of
// A-Z a-z 0-9 . _ ~ - ("/dev", "/api/v2"), never "//host" or anything a
// header could not carry.
func (h *Handler) basePathOf(r *http.Request) string {
	if h.basePath == nil {
		return ""
	}
	p := h.basePath(r)
	if p == "" || p[0] != '/' || len(p) > 256 {
		return ""
	}
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "" || seg == "." || seg == ".." {
			return ""
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !isAlnum(c) && c != '.' && c != '_' && c != '~' && c != '-' {
				return ""
			}
		}
	}
	return p
}
