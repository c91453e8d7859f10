package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

func formatOps(ops map[string]int) string {
	var parts []string
	for op, n := range ops {
		parts = append(parts, fmt.Sprintf("%s×%d", op, n))
	}
	if len(parts) == 0 {
		return "no calls"
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// readEvent reads events/<name>.json.
func readEvent(root, name string) (events.APIGatewayV2HTTPRequest, error) {
	var ev events.APIGatewayV2HTTPRequest
	raw, err := os.ReadFile(filepath.Join(root, "events", name+".json"))
	if err != nil {
		return ev, err
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, fmt.Errorf("events/%s.json: %w", name, err)
	}
	return ev, nil
}

// eventRef is the process a sample event of rt acts on, if any.
func eventRef(rt httpapi.Route, ev events.APIGatewayV2HTTPRequest) (identification.Ref, bool) {
	typ := identification.TypeOTP
	if strings.Contains(rt.Path, "/chain") {
		typ = identification.TypeChain
	}
	for k, v := range ev.PathParameters {
		if k != "org_id" && strings.Contains(rt.Path, "{"+k+"}") {
			return identification.Ref{Org: ev.PathParameters["org_id"], Type: typ, ID: strings.ToLower(v)}, true
		}
	}
	return identification.Ref{}, false
}
