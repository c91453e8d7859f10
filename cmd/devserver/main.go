// Command devserver serves every route of the admin API on a local DynamoDB
// engine: it installs the pinned engines on first use, starts dynoxide with
// its data under .local/ (unless DYNAMODB_ENDPOINT names another engine),
// creates the table from template.yaml, prints an admin token, and shuts
// down gracefully on SIGINT or SIGTERM, stopping the engine it started. If
// that engine exits on its own, the dev server logs it and exits non-zero.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/idadmin/api/docs"
	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/localstream"
	"github.com/idadmin/api/internal/memqueue"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/stream"
	"github.com/idadmin/api/shared/sweep"
	"github.com/idadmin/api/shared/webhooks"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := localengine.RepoRoot()
	if err != nil {
		return err
	}
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "listen address (ADDR)")
	dataDir := flag.String("data", envOr("DATA_DIR", filepath.Join(root, ".local")), "directory for the engine's data and the dev secret (DATA_DIR)")
	template := flag.String("template", filepath.Join(root, "template.yaml"), "SAM template defining the table")
	org := flag.String("org", envOr("DEV_ORG", "acme"), "organisation of the printed example token (DEV_ORG)")
	defaultSweep, err := time.ParseDuration(envOr("SWEEP_INTERVAL", "1m"))
	if err != nil {
		return fmt.Errorf("SWEEP_INTERVAL: %w", err)
	}
	sweepEvery := flag.Duration("sweep-interval", defaultSweep, "how often the expiry sweep runs; 0 disables it (SWEEP_INTERVAL)")
	streamEvery := flag.Duration("stream-interval", 100*time.Millisecond, "how often the stream processor reads the engine's stream; 0 runs no stream processor and creates the table without a stream (to measure without them)")
	pprofAddr := flag.String("pprof", os.Getenv("PPROF_ADDR"), "serve net/http/pprof on this loopback address, off when empty (PPROF_ADDR)")
	flag.Parse()

	if os.Getenv("TABLE_NAME") == "" {
		os.Setenv("TABLE_NAME", "identifications")
	}
	// One dev server a data directory, and nothing started before that is
	// known: a second `make run` in the same checkout says where the first
	// one is and touches none of its engine, files or port.
	lock, err := localengine.LockData(*dataDir, fmt.Sprintf("a dev server (pid %d)", os.Getpid()))
	if locked := (*localengine.LockedError)(nil); errors.As(err, &locked) {
		return fmt.Errorf("%w; stop it first, or start this one with another DATA_DIR", err)
	}
	if err != nil {
		return err
	}
	defer lock.Release()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	if err := lock.Update(fmt.Sprintf("a dev server (pid %d) on %s", os.Getpid(), base)); err != nil {
		return err
	}

	// SIGHUP too (the terminal closed): every signal that ends the server
	// goes through the shutdown below, which stops both engines.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	level, err := app.LogLevelFromEnv()
	if err != nil {
		return err
	}
	logger := app.NewLogger(os.Stderr, level)
	// With the profiler on, every AWS call is counted (/debug/calls).
	calls := &callCounts{}
	var dynamoOpts []func(*dynamodb.Options)
	var streamsOpts []func(*dynamodbstreams.Options)
	if *pprofAddr != "" {
		dynamoOpts = append(dynamoOpts, dynamodb.WithAPIOptions(calls.addTo))
		streamsOpts = append(streamsOpts, dynamodbstreams.WithAPIOptions(calls.addTo))
	}
	_, stopPprof, err := servePprof(*pprofAddr, calls, logger)
	if err != nil {
		return err
	}
	defer stopPprof()
	var engine *localengine.Engine
	var engineExited <-chan struct{} // stays nil, never ready, when the engine is someone else's
	engineReported := false          // its unexpected exit has been logged
	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		if err := localengine.EnsureTools(root); err != nil {
			return err
		}
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", *dataDir, err)
		}
		engine, err = localengine.StartDynoxide(ctx, localengine.Options{Root: root, DBPath: filepath.Join(*dataDir, "dynoxide.sqlite")})
		if err != nil {
			return err
		}
		engineExited = engine.Exited()
		defer func() {
			if engineReported {
				return
			}
			if err := engine.Stop(); err != nil {
				logger.Warn("stop engine", slog.String("error", err.Error()))
			}
			logger.Info("engine stopped")
		}()
		os.Setenv("DYNAMODB_ENDPOINT", engine.Endpoint)
		endpointFile := filepath.Join(*dataDir, app.EngineEndpointFile)
		if err := os.WriteFile(endpointFile, []byte(engine.Endpoint+"\n"), 0o600); err != nil {
			return fmt.Errorf("record engine endpoint: %w", err)
		}
		defer os.Remove(endpointFile)
		logger.Info("dynoxide started", slog.String("endpoint", engine.Endpoint), slog.Int("pid", engine.PID()), slog.String("data", *dataDir))
	}
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	logger.Debug("config", slog.String("addr", *addr), slog.String("data", *dataDir), slog.String("table", cfg.TableName),
		slog.String("endpoint", cfg.Endpoint), slog.String("region", cfg.Region), slog.Int("shards", cfg.Shards),
		slog.Duration("retention", cfg.Retention), slog.Duration("sweep_interval", *sweepEvery), slog.String("log_level", level.String()))
	client := app.NewDynamoDB(cfg, dynamoOpts...)
	var tableOpts []samtemplate.TableOption
	if *streamEvery <= 0 {
		tableOpts = append(tableOpts, samtemplate.WithoutStream())
	}
	created, err := samtemplate.EnsureTable(ctx, client, *template, cfg.TableName, tableOpts...)
	if err != nil {
		return err
	}
	logger.Info("table ready", slog.String("table", cfg.TableName), slog.Bool("created", created))

	verifier, err := app.DevVerifier(*dataDir, cfg.OrgClaim)
	if err != nil {
		return err
	}
	keys, err := codekey.FromFile(filepath.Join(*dataDir, "code-key"))
	if err != nil {
		return err
	}
	objects, stopS3, err := evidenceBucket(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopS3()
	deps := app.NewDeps(cfg, client, logger, identification.WithCodeKeys(keys), identification.WithEvidence(objects),
		app.SendGuard(cfg, app.NewStore(cfg, client), numbers.Numbers{}, logger))
	// Webhooks: queued in process (the same FIFO semantics as the SQS
	// queue in AWS, without an emulator to run) and delivered by the same
	// sender as the webhook-sender function, through the one egress
	// client; loopback receivers only with WEBHOOK_ALLOW_LOOPBACK=true.
	out := egress.New(egress.Options{AllowLoopback: os.Getenv(app.WebhookLoopbackEnv) == "true"})
	queue := memqueue.New(time.Now)
	deps = deps.WithWebhooks(keys, out, queue)
	sender := &webhooks.Sender{Store: deps.Dynamo, Sealer: keys, Post: app.WebhookPoster(out), Logger: logger}
	go queue.Run(ctx, sender.Handle, time.Second, func(err error) { logger.Error("webhook queue", slog.String("error", err.Error())) })
	deps = deps.WithSettings(deps.Dynamo, deps.Dynamo, nil)
	handler, err := deps.DevHandler(verifier)
	if err != nil {
		return err
	}
	// The stream processor on the engine's stream, delivering to the outbox
	// and publishing to the event log, as the stream function does in AWS.
	box, events := newOutbox(), newEventLog()
	if *streamEvery > 0 {
		reader, err := localstream.New(ctx, client, localengine.NewStreamsClient(cfg.Endpoint, streamsOpts...), cfg.TableName, logger)
		if err != nil {
			return err
		}
		fanout := &webhooks.Fanout{Endpoints: deps.Dynamo, Queue: queue}
		proc := &stream.Processor{Store: deps.Dynamo, Decoder: deps.Dynamo, Keys: keys, Publisher: app.Publishers(events, fanout), Evidence: objects, Logger: logger,
			Texts: deps.SettingsCache, Blocks: deps.Dynamo, Stats: deps.Dynamo, Countries: numbers.CountryOf,
			Senders: map[string]identification.Sender{"SMS": box, "EMAIL": box, "WHATSAPP": box}}
		go reader.Run(ctx, proc, *streamEvery)
	} else {
		logger.Warn("no stream processor: nothing is delivered or published (-stream-interval 0)")
	}
	health := &readiness{
		checks: []dependency{
			{"store", func(ctx context.Context) error {
				_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(cfg.TableName)},
					func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
				return err
			}},
			{"evidence bucket", bucketCheck(objects)},
		},
		timeout: healthTimeout,
		ttl:     healthTTL,
		now:     time.Now,
		docsURL: cfg.DocsURL,
		logger:  logger,
	}
	spec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.WriteHeader(http.StatusOK)
		w.Write(docs.OpenAPI)
	})

	srv := &http.Server{
		Handler:           newRouter(handler, health, spec, devRoutes(verifier.Authenticate, box, events, cfg.DocsURL), cfg.DocsURL),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	token, err := verifier.Mint("dev-admin", []string{*org}, []string{auth.ScopeAdmin}, 24*time.Hour)
	if err != nil {
		return err
	}
	actorToken, err := verifier.Mint("dev-actor", []string{*org}, []string{auth.ScopeActor}, 24*time.Hour)
	if err != nil {
		return err
	}
	agentToken, err := verifier.Mint("dev-agent", []string{*org}, []string{auth.ScopeAgent}, 24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Printf("\nServing the identification admin API on %s (table %s)\n", base, cfg.TableName)
	fmt.Printf("Tokens for org %s, valid 24h: admin, actor, agent (mint others with: make token ORG=<org> SCOPES=\"...\"):\n\n", *org)
	fmt.Printf("export TOKEN=%s\n", token)
	fmt.Printf("export ACTOR_TOKEN=%s\n", actorToken)
	fmt.Printf("export AGENT_TOKEN=%s\n\n", agentToken)
	fmt.Printf("Try:\n  curl -s -X POST %s/v1/orgs/%s/identifications/otp -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n", base, *org)
	fmt.Printf("    -d '{\"actor\":{\"name\":\"James\",\"msisdn\":{\"phone_number\":6123456789,\"country_code\":\"34\"}},\"expires_in\":\"P7D\",\"channel\":{\"type\":\"SMS\",\"external\":true}}'\n\n")

	if *sweepEvery > 0 {
		go sweepLoop(ctx, deps, *sweepEvery)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	case <-engineExited:
		engineReported = true
		exit := exitDescription(engine.ExitErr())
		logger.Error("engine exited", slog.String("engine", engine.Name), slog.Int("pid", engine.PID()),
			slog.String("exit", exit), slog.String("output", lastBytes(engine.Output(), 2<<10)))
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
		return fmt.Errorf("%s (pid %d) exited on its own (%s); the store is gone, stopping", engine.Name, engine.PID(), exit)
	case <-ctx.Done():
		logger.Info("shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	return nil
}

// exitDescription renders an engine's exit status as exec.Cmd.Wait gave it.
func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lastBytes returns at most the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sweepLoop runs the expiry sweep every interval, as the scheduled
// expire-sweep function does in AWS; each pass gets the interval as deadline.
func sweepLoop(ctx context.Context, deps app.Deps, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pass, cancel := context.WithTimeout(ctx, every)
			deps.Sweep(pass, time.Now(), sweep.Options{Margin: every / 10})
			cancel()
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// evidenceBucket is the evidence bucket of the dev server: on the S3 engine
// at S3_ENDPOINT, or on a moto_server it starts (and stop stops), created
// if missing. EVIDENCE_BUCKET names it (default identification-evidence).
func evidenceBucket(ctx context.Context, cfg app.Config, logger *slog.Logger) (identification.EvidenceObjects, func(), error) {
	stop := func() {}
	if cfg.S3Endpoint == "" {
		moto, err := localengine.StartMoto()
		if err != nil {
			return nil, nil, fmt.Errorf("the evidence bucket's local engine: %w", err)
		}
		stop = func() { moto.Stop(); logger.Info("s3 engine stopped") }
		cfg.S3Endpoint = moto.Endpoint
		logger.Info("s3 engine (moto) started", slog.String("endpoint", moto.Endpoint))
	}
	if cfg.EvidenceBucket == "" {
		cfg.EvidenceBucket = "identification-evidence"
	}
	bucket, err := cfg.Evidence()
	if err != nil {
		stop()
		return nil, nil, err
	}
	objects, err := s3evidence.Open(ctx, bucket)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := objects.(s3evidence.Objects).CreateLocal(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("create the evidence bucket: %w", err)
	}
	logger.Info("evidence bucket ready", slog.String("bucket", bucket.Bucket), slog.String("endpoint", bucket.BaseEndpoint))
	return objects, stop, nil
}

// healthProbeKey is the key /healthz reads in the evidence bucket: nothing
// is ever stored there, so a bucket that answers says it holds nothing.
const healthProbeKey = "healthz/probe"

// bucketCheck is the readiness check of the evidence bucket: a read of
// healthProbeKey that the bucket answers (with nothing there, or anything
// there) passes; an engine that does not answer, or a missing bucket, fails.
func bucketCheck(objects identification.EvidenceObjects) func(context.Context) error {
	o, ok := objects.(s3evidence.Objects)
	if !ok {
		return func(context.Context) error { return nil }
	}
	return func(ctx context.Context) error {
		_, err := o.Bucket.Inspect(ctx, healthProbeKey, s3evidence.PNG)
		if err == nil || errors.Is(err, s3evidence.ErrNotUploaded) {
			return nil
		}
		return err
	}
}
