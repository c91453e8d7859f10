package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/idadmin/api/shared/httpapi"
)

// RuntimeAPIEnv is the variable through which Lambda tells a custom runtime
// where its Runtime API is. A bootstrap started without it is not in Lambda.
const RuntimeAPIEnv = "AWS_LAMBDA_RUNTIME_API"

// LambdaFunc is what a function hands to lambda.Start: an API Gateway HTTP
// API event (payload format 2.0) in, the response API Gateway returns out.
type LambdaFunc = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// NewLambdaHandler returns the Lambda handler of one route of the route
// table (a Name of httpapi.Routes, which is also the function's directory
// under functions/): the handler tree restricted to that route, behind the
// API proxy's adapter. Every function's main starts exactly this value (see
// Lambda), and the tests drive it with events/*.json.
//
// A request for any other route is answered by the tree itself: 404, or 405
// when only the method differs. When the API is served on a named stage
// rather than $default, API Gateway puts the stage in front of the path
// ("/dev/v1/orgs/…"); the handler removes it before routing and hands it to
// the tree as the request's base path, so that a Location it answers with
// ("/dev/v1/orgs/…/otp/<id>") works on the stage the request came through.
//
// route names the function (create-otp, …); Lambda, which the functions'
// mains call, takes the route itself so that nothing of other routes is
// linked into a function's binary.
func NewLambdaHandler(route string, deps Deps) (LambdaFunc, error) {
	rt, ok := httpapi.RouteNamed(route)
	if !ok {
		return nil, fmt.Errorf("lambda handler for %s: unknown route", route)
	}
	return newLambdaHandler(rt, deps)
}

func newLambdaHandler(route httpapi.Route, deps Deps) (LambdaFunc, error) {
	h, err := deps.LambdaHandler(route)
	if err != nil {
		return nil, fmt.Errorf("lambda handler for %s: %w", route.Name, err)
	}
	adapter := httpadapter.NewV2(h)
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		stage := ev.RequestContext.Stage
		path := ev.RawPath
		if path == "" {
			path = ev.RequestContext.HTTP.Path // as the adapter reads it
		}
		ev.RawPath = withoutStage(path, stage)
		ev.RequestContext.HTTP.Path = withoutStage(ev.RequestContext.HTTP.Path, stage)
		if ev.RawPath != path {
			ctx = context.WithValue(ctx, basePathKey{}, "/"+stage)
		}
		return adapter.ProxyWithContext(ctx, ev)
	}, nil
}

// basePathKey holds, in the context of a request, the stage prefix
// NewLambdaHandler removed from its path.
type basePathKey struct{}

// lambdaBasePath is the base path of a request: "/<stage>" when it came
// through a named stage whose prefix was removed before routing, "" on
// $default (or wherever the path had no stage in front).
func lambdaBasePath(r *http.Request) string {
	p, _ := r.Context().Value(basePathKey{}).(string)
	return p
}

// withoutStage removes the "/<stage>" prefix API Gateway adds to the paths
// of a request served on a named stage.
func withoutStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	rest, ok := strings.CutPrefix(path, "/"+stage)
	switch {
	case !ok:
		return path
	case rest == "":
		return "/"
	case rest[0] == '/':
		return rest
	}
	return path // "/devices/…" on stage "dev"
}

// Lambda is the whole main of a function: it refuses to run outside Lambda,
// reads Config from the environment, creates the logger, the DynamoDB
// client, store and service once, before the first invocation, and serves
// route until Lambda stops the sandbox. It does not return; on a start-up
// error it reports on stderr and exits with status 1.
func Lambda(route httpapi.Route, opts ...Option) {
	h, err := lambdaFromEnv(route, os.Stdout, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", route.Name, err)
		os.Exit(1)
	}
	lambda.Start(h)
}

// notInLambda explains to someone who started a bootstrap by hand what it
// is and what to run instead.
func notInLambda(route string) error {
	return fmt.Errorf("%s is not set, so this is not running in AWS Lambda. "+
		"This program is the bootstrap of the Lambda function %s: deploy it (make deploy), "+
		"invoke it locally (make invoke FN=%s, with the SAM CLI and Docker) "+
		"or serve every route with the dev server (make run)", RuntimeAPIEnv, route, route)
}

// lambdaFromEnv builds the handler Lambda starts, logging to logs. The
// Lambda check comes first: without it, a bootstrap started by hand would
// complain about whatever configuration is missing first (TABLE_NAME, say),
// which says nothing about where it is meant to run.
func lambdaFromEnv(route httpapi.Route, logs io.Writer, opts ...Option) (LambdaFunc, error) {
	if os.Getenv(RuntimeAPIEnv) == "" {
		return nil, notInLambda(route.Name)
	}
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	logger := NewLambdaLogger(logs, cfg.LogLevel)
	w, err := resolve(context.Background(), cfg, opts)
	if err != nil {
		return nil, err
	}
	client := NewDynamoDB(cfg)
	if w.numbers != nil {
		w.svc = append(w.svc, SendGuard(cfg, NewStore(cfg, client), w.numbers, logger))
	}
	deps := NewDeps(cfg, client, logger, w.svc...)
	if w.webhooks != nil {
		deps = w.webhooks(deps, w.keys)
	}
	if w.settings {
		deps = deps.WithSettings(deps.Dynamo, deps.Dynamo, nil)
	}
	return newLambdaHandler(route, deps)
}

// NewLambdaLogger returns the JSON logger of a Lambda function: the records
// of NewLogger, each with aws_request_id, the id of the Lambda invocation it
// belongs to (taken from the context the record is logged with), so that
// CloudWatch Logs Insights can gather one invocation's lines. The handler
// tree logs API Gateway's request id as request_id next to it.
func NewLambdaLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(invocationHandler{NewLogger(w, level).Handler()})
}

// invocationHandler adds the Lambda invocation's request id to records.
type invocationHandler struct{ slog.Handler }

func (h invocationHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("aws_request_id", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h invocationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return invocationHandler{h.Handler.WithAttrs(attrs)}
}

func (h invocationHandler) WithGroup(name string) slog.Handler {
	return invocationHandler{h.Handler.WithGroup(name)}
}
