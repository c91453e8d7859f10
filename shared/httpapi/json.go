package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeJSON writes v with status. Encoding is done first so a failure can
// still become a proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte(`{"errors":[{"code":"MDOC_000","title":"INTERNAL_SERVER_ERROR","ref":"","details":"response encoding failed"}]}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
