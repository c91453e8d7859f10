package routefacts_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/idadmin/api/internal/routefacts"
	"github.com/idadmin/api/shared/httpapi"
)

// TestTableNamesRoutes: every entry is a route's, every example is JSON
// and every query parses.
func TestTableNamesRoutes(t *testing.T) {
	for _, name := range routefacts.Names() {
		if _, ok := httpapi.RouteNamed(name); !ok {
			t.Errorf("routefacts has an entry for %q, which is no route", name)
		}
		f := routefacts.Of(name)
		if f.Example == "" && len(f.Queries) == 0 {
			t.Errorf("%s: an empty entry", name)
		}
		if f.Example != "" && !json.Valid([]byte(f.Example)) {
			t.Errorf("%s: the example is not JSON: %s", name, f.Example)
		}
		for _, q := range f.Queries {
			if _, err := url.ParseQuery(q); err != nil {
				t.Errorf("%s: query %q: %v", name, q, err)
			}
		}
		if got := routefacts.Query(name); len(f.Queries) > 0 && got != f.Queries[0] {
			t.Errorf("Query(%s) = %q, want the first of %q", name, got, f.Queries)
		}
	}
}

func TestCheckSuccess(t *testing.T) {
	tests := []struct {
		rt   httpapi.Route
		ops  []string
		want bool
	}{
		{httpapi.GetOTP, []string{"GetItem"}, true},
		{httpapi.GetOTP, []string{"GetItem", "UpdateItem"}, false},
		{httpapi.GetOTP, []string{"GetItem", "GetItem"}, false},
		{httpapi.ListOTP, []string{"Query"}, true},
		{httpapi.ListOTP, []string{"Query", "Query"}, true},
		{httpapi.ListOTP, []string{"Query", "GetItem"}, false},
		{httpapi.ListOTP, []string{"Query", "Query", "BatchGetItem"}, true},
		{httpapi.ListOTP, []string{"Query", "BatchGetItem", "BatchGetItem"}, true},
		{httpapi.ListOTP, []string{"Query", "BatchGetItem", "GetItem"}, false},
		{httpapi.ListOTP, []string{"Query", "BatchGetItem", "Query"}, false},
		{httpapi.GetOTP, []string{"Query", "BatchGetItem"}, false},
		{httpapi.CreateOTP, []string{"PutItem"}, true},
		{httpapi.CancelOTP, []string{"UpdateItem"}, true},
		{httpapi.CancelOTP, []string{"GetItem", "UpdateItem"}, false},
		// A route that issues codes may read its organisation's settings
		// once before its write; never twice, never after.
		{httpapi.ResendOTP, []string{"GetItem", "UpdateItem"}, true},
		{httpapi.ResendOTP, []string{"GetItem", "GetItem", "UpdateItem"}, false},
		{httpapi.ResendOTP, []string{"UpdateItem", "GetItem"}, false},
		{httpapi.CreateOTP, []string{"GetItem", "PutItem"}, true},
		{httpapi.CreateOTP, []string{"GetItem", "TransactWriteItems"}, true},
		{httpapi.CreateOTP, []string{"Query", "PutItem"}, false},
		{httpapi.ValidateChain, []string{"GetItem", "GetItem", "UpdateItem"}, true},
		{httpapi.ValidateChain, []string{"GetItem", "GetItem", "GetItem", "UpdateItem"}, false},
		{httpapi.ResendOTP, []string{"TransactWriteItems", "GetItem"}, false},
		{httpapi.DeleteOTP, []string{"GetItem", "UpdateItem"}, true},
		{httpapi.DeleteOTP, []string{"GetItem", "TransactWriteItems"}, true},
		{httpapi.DeleteOTP, []string{"UpdateItem", "GetItem"}, false},
		{httpapi.ValidateOTP, []string{"UpdateItem", "UpdateItem"}, true},
		{httpapi.ValidateOTP, []string{"UpdateItem", "UpdateItem", "UpdateItem"}, false},
		{httpapi.ValidateOTP, []string{"GetItem", "UpdateItem", "UpdateItem"}, false},
		{httpapi.ValidateChain, []string{"GetItem", "UpdateItem"}, true},
		{httpapi.ValidateChain, []string{"GetItem", "PutItem", "UpdateItem"}, false},
		{httpapi.ConfirmOTPEvidence, []string{"GetItem", "UpdateItem"}, true},
		{httpapi.RequestOTPEvidenceUploads, []string{"GetItem"}, true},
		{httpapi.RequestOTPEvidenceUploads, nil, false},
		{httpapi.RequestOTPEvidenceUploads, []string{"DescribeTable", "GetItem"}, false},
	}
	for _, tt := range tests {
		err := routefacts.CheckSuccess(tt.rt, tt.ops)
		if (err == nil) != tt.want {
			t.Errorf("CheckSuccess(%s, %v) = %v, want ok %t", tt.rt.Name, tt.ops, err, tt.want)
		}
		if err == nil && len(tt.ops) > routefacts.MaxSuccessCalls(tt.rt) && tt.rt.Method != http.MethodGet {
			t.Errorf("CheckSuccess(%s, %v) passes more than MaxSuccessCalls = %d", tt.rt.Name, tt.ops, routefacts.MaxSuccessCalls(tt.rt))
		}
	}
}
