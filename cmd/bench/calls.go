package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/idadmin/api/internal/fixture"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// callsPerOp invokes each route's Lambda handler (app.NewLambdaHandler, what
// every function starts) once with its sample event, on a client whose
// DynamoDB calls an SDK middleware counts, and records calls_per_op.<route>.
// The process the event names is reset to CREATED beforehand with another
// client, so every request succeeds.
func callsPerOp(ctx context.Context, env *engineEnv, res *results) error {
	table, drop, err := env.newTable(ctx, "calls")
	if err != nil {
		return err
	}
	defer drop()
	counter := &enginetest.CallCounter{}
	client := localengine.NewClient(env.endpoint, dynamodb.WithAPIOptions(counter.AddTo))
	cfg := app.Config{TableName: table, Region: localengine.Region, Endpoint: env.endpoint, OrgClaim: auth.DefaultOrgClaim,
		DocsURL: httpapi.DefaultDocsURL, Shards: dynamostore.DefaultShards, Retention: dynamostore.DefaultRetention}
	deps := app.NewDeps(cfg, client, env.logger, identification.WithCodeKeys(fixture.CodeKeys()))
	setup := env.store(table)
	for _, rt := range httpapi.Routes() {
		ev, err := readEvent(env.root, rt.Name)
		if err != nil {
			return err
		}
		if ref, ok := eventRef(rt, ev); ok {
			if err := reset(ctx, setup, ref); err != nil {
				return fmt.Errorf("%s: seed %s: %w", rt.Name, ref.ID, err)
			}
		}
		fn, err := app.NewLambdaHandler(rt.Name, deps)
		if err != nil {
			return err
		}
		counter.Reset()
		ictx := lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: "bench-" + rt.Name})
		resp, err := fn(ictx, ev)
		if err != nil {
			return fmt.Errorf("%s: invoke: %w", rt.Name, err)
		}
		key := "calls_per_op." + rt.Name
		res.set(key, float64(counter.Total()))
		res.note(key, fmt.Sprintf("HTTP %d, %s", resp.StatusCode, formatOps(counter.ByOperation())))
		if resp.StatusCode >= 300 {
			res.note(key, fmt.Sprintf("HTTP %d (not a success): %s", resp.StatusCode, resp.Body))
		}
	}
	return nil
}

func formatOps(ops map[string]int) string {
	var parts []string
	for op, n := range ops {
		parts = append(parts, fmt.Sprintf("%s×%d", op, n))
	}
	if len(parts) == 0 {
		return "no calls"
	}
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
