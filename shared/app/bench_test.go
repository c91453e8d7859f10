package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/idadmin/api/internal/fixture"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/idadmin/api/internal/memstore"
	"github.com/idadmin/api/internal/storetest"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// adapterRoute is the route BenchmarkAdapter serves: a read, so that every
// invocation does the same work.
const adapterRoute = "get-otp"

// adapterBatch is how many requests BenchmarkAdapter/direct converts from
// the event while the timer is stopped.
const adapterBatch = 1000

// BenchmarkAdapter measures what the API Gateway v2 adapter adds to one
// invocation: "lambda" is the handler every function starts
// (app.NewLambdaHandler) invoked with events/get-otp.json; "direct" is the
// same handler tree served the http.Request the adapter would have made
// from that event (made with the timer stopped). Both use the Lambda
// authenticator (claims from the request context) and the in-memory store.
// The adapter's cost is lambda minus direct.
func BenchmarkAdapter(b *testing.B) {
	ev := mustEvent(b, adapterRoute)
	deps := benchDeps(b, ev)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "bench-invocation"})

	b.Run("lambda", func(b *testing.B) {
		fn, err := app.NewLambdaHandler(adapterRoute, deps)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := fn(ctx, ev)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("invoke: %d %v: %s", resp.StatusCode, err, resp.Body)
			}
		}
	})

	b.Run("direct", func(b *testing.B) {
		h, err := deps.LambdaHandler(httpapi.GetOTP)
		if err != nil {
			b.Fatal(err)
		}
		// The event as NewLambdaHandler hands it to the adapter: the stage
		// taken off the paths.
		plain := ev
		plain.RawPath = strings.TrimPrefix(ev.RawPath, "/"+ev.RequestContext.Stage)
		plain.RequestContext.HTTP.Path = strings.TrimPrefix(ev.RequestContext.HTTP.Path, "/"+ev.RequestContext.Stage)
		var accessor core.RequestAccessorV2
		reqs := make([]*http.Request, adapterBatch)
		w := &recorder{header: http.Header{}}
		b.ReportAllocs()
		b.ResetTimer()
		for done := 0; done < b.N; {
			n := min(adapterBatch, b.N-done)
			b.StopTimer()
			for i := range n {
				if reqs[i], err = accessor.EventToRequestWithContext(ctx, plain); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			for _, req := range reqs[:n] {
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("serve: %d: %s", w.status, w.body.String())
				}
			}
			done += n
		}
	})
}

// mustEvent reads events/<name>.json.
func mustEvent(b *testing.B, name string) events.APIGatewayV2HTTPRequest {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatalf("events/%s.json: %v", name, err)
	}
	return ev
}

// benchDeps are the Deps of a function with the in-memory store holding
// the process the event asks for.
func benchDeps(b *testing.B, ev events.APIGatewayV2HTTPRequest) app.Deps {
	b.Helper()
	store := memstore.New()
	p := storetest.OTP(b, ev.PathParameters["org_id"], identification.StatusCreated, time.Now().Add(24*time.Hour).UTC().Truncate(time.Second))
	p.ID = ev.PathParameters["admin_identification_id"]
	if err := store.Create(b.Context(), p, nil); err != nil {
		b.Fatal(err)
	}
	cfg := app.Config{TableName: "bench", Region: "us-east-1", OrgClaim: auth.DefaultOrgClaim, DocsURL: httpapi.DefaultDocsURL}
	return app.Deps{
		Config:  cfg,
		Store:   store,
		Service: identification.NewService(store, identification.WithCodeKeys(fixture.CodeKeys())),
		Logger:  app.NewLambdaLogger(io.Discard, slog.LevelInfo),
	}
}

// recorder is a reusable ResponseWriter.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) reset() {
	clear(w.header)
	w.status = 0
	w.body.Reset()
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
