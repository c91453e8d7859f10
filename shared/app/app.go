package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/codekey"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/egress"
	"github.com/idadmin/api/shared/guard"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/s3evidence"
	"github.com/idadmin/api/shared/settings"
	"github.com/idadmin/api/shared/sweep"
	"github.com/idadmin/api/shared/webhooks"
)

// NewDynamoDB creates the DynamoDB client of c, with c's credentials (or
// static local ones for a local engine). It builds aws.Config by hand
// instead of loading the shared config files: in Lambda the execution
// role's credentials are in the environment, and skipping the config loader
// keeps SSO, STS and IMDS clients out of the binary and the cold start.
func NewDynamoDB(c Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	cfg := aws.Config{Region: c.Region}
	if c.Endpoint != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	} else {
		cfg.Credentials = c.CredentialsFor("")
	}
	// The SDK keeps 10 idle connections per host by default; a dev server
	// or a sweep with more requests in flight would keep redialling.
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 64
	})
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		// A write that meets a transaction on its item (an action with
		// an Idempotency-Key, a delete with the erasure of the create
		// key's answer) is refused with TransactionConflictException and
		// changed nothing: it is tried again, as a throttled one is,
		// instead of failing the request.
		o.Retryer = retry.AddWithErrorCodes(o.Retryer, (&types.TransactionConflictException{}).ErrorCode())
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			// DynamoDB Local answers errors without a valid CRC32 header.
			o.DisableValidateResponseChecksum = true
		}
	}}, optFns...)...)
}

// Option is something a function's main wires into its service, chosen
// statically so that the linker keeps only what the route needs: a
// function whose route issues or checks codes passes
// WithCodeKeys(codekey.FromSecretsManager); the others link no Secrets
// Manager read at all. It is resolved once, at start-up, with the
// function's Config.
type Option func(ctx context.Context, c Config, w *wiring) error

// wiring is what the options of a function resolved to.
type wiring struct {
	svc   []identification.Option
	keys  *identification.CodeKeys
	queue webhooks.Queue
	// webhooks wires the webhooks service into the deps (WithWebhooks):
	// a func value, so that a function without it links no egress client.
	webhooks func(d Deps, keys *identification.CodeKeys) Deps
	// settings: the function serves a settings route (WithSettings).
	settings bool
	// numbers: the function issues codes, through the sending guard,
	// reading numbers with these (WithSendGuard).
	numbers guard.Numbers
}

// WithSendGuard makes the function's service check every code it is about
// to deliver with the sending guard (docs/guard.md), reading phone numbers
// with n (numbers.Numbers): passed by the mains of the routes that issue
// codes, so that no other function links the numbers' metadata.
func WithSendGuard(n guard.Numbers) Option {
	return func(_ context.Context, _ Config, w *wiring) error {
		w.numbers = n
		return nil
	}
}

// SendGuard is the sending guard on store for c, reading numbers with n.
func SendGuard(c Config, store guard.Store, n guard.Numbers, logger *slog.Logger) identification.Option {
	return identification.WithSendGuard(guard.New(store, n, c.DefaultAllowedCountries, logger))
}

// WithCodeKeys loads the code keys with load, once, at start-up, from the
// secret c.CodeKeySecret names.
func WithCodeKeys(load func(context.Context, codekey.SecretsManager) (*identification.CodeKeys, error)) Option {
	return func(ctx context.Context, c Config, w *wiring) error {
		secret, err := c.CodeKeySecret()
		if err != nil {
			return err
		}
		k, err := load(ctx, secret)
		if err != nil {
			return err
		}
		w.keys = k
		w.svc = append(w.svc, identification.WithCodeKeys(k))
		return nil
	}
}

// WithEvidence gives the service the evidence bucket that load returns for
// c.Evidence, once, at start-up: the routes that sign upload forms or
// download links or inspect uploads use app.WithEvidence(s3evidence.Open).
func WithEvidence(load func(context.Context, s3evidence.Config) (identification.EvidenceObjects, error)) Option {
	return func(ctx context.Context, c Config, w *wiring) error {
		bucket, err := c.Evidence()
		if err != nil {
			return err
		}
		o, err := load(ctx, bucket)
		if err != nil {
			return err
		}
		w.svc = append(w.svc, identification.WithEvidence(o))
		return nil
	}
}

// QueueFunc makes the webhook queue at url (sqs.NewWebhookQueue): passed
// by the mains that queue, so that no other function links the SQS client.
type QueueFunc func(region, endpoint string, creds aws.CredentialsProvider, url string) webhooks.Queue

// WithWebhooks gives the function the webhook routes' service (after
// WithCodeKeys, whose keys seal the secrets): URLs checked and posted to
// through egress, test events and replays queued with queue on the SQS
// FIFO queue c.WebhookQueueURL names.
func WithWebhooks(queue QueueFunc) Option {
	return func(_ context.Context, c Config, w *wiring) error {
		if c.WebhookQueueURL == "" {
			return errors.New("webhooks: WEBHOOK_QUEUE_URL is not set")
		}
		w.queue = queue(c.Region, c.SQSEndpoint, c.CredentialsFor(c.SQSEndpoint), c.WebhookQueueURL)
		q := w.queue
		w.webhooks = func(d Deps, keys *identification.CodeKeys) Deps {
			return d.WithWebhooks(keys, egress.New(egress.Options{}), q)
		}
		return nil
	}
}

// CodeKeySecret is where the code keys' secret is (CODE_KEY_SECRET_ARN, in
// the function's region, AWS_ENDPOINT_URL_SECRETS_MANAGER for an emulator)
// and the credentials it is read with.
func (c Config) CodeKeySecret() (codekey.SecretsManager, error) {
	if c.CodeKeySecretARN == "" {
		return codekey.SecretsManager{}, errors.New("code key: " + CodeKeySecretEnv + " is not set")
	}
	return codekey.SecretsManager{SecretARN: c.CodeKeySecretARN, Region: c.Region, Endpoint: c.SecretsManagerEndpoint,
		Credentials: c.CredentialsFor(c.SecretsManagerEndpoint)}, nil
}

// Evidence is the function's evidence bucket: EVIDENCE_BUCKET in its
// region (S3_ENDPOINT for a local engine), with its credentials.
func (c Config) Evidence() (s3evidence.Config, error) {
	if c.EvidenceBucket == "" {
		return s3evidence.Config{}, errors.New("EVIDENCE_BUCKET is not set: the evidence bucket's name")
	}
	return s3evidence.Config{Bucket: c.EvidenceBucket, Region: c.Region, BaseEndpoint: c.S3Endpoint,
		Credentials: c.CredentialsFor(c.S3Endpoint)}, nil
}

func resolve(ctx context.Context, c Config, opts []Option) (*wiring, error) {
	w := &wiring{}
	for _, o := range opts {
		if err := o(ctx, c, w); err != nil {
			return nil, err
		}
	}
	if w.queue != nil && w.keys == nil {
		return nil, errors.New("webhooks: WithWebhooks needs WithCodeKeys before it")
	}
	return w, nil
}

// NewLogger returns the JSON logger every entry point uses.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Deps are the pieces a handler tree is built from.
type Deps struct {
	Config  Config
	Client  *dynamodb.Client
	Store   identification.Store
	Service *identification.Service
	// Dynamo is Store as the concrete DynamoDB store, which also lists due
	// processes for the expiry sweep.
	Dynamo *dynamostore.Store
	Logger *slog.Logger
	// Webhooks serves the webhook routes (WithWebhooks); nil where no
	// route of the process needs it.
	Webhooks *webhooks.Service
	// SettingsCache reads organisations' settings for the paths that issue
	// and deliver codes (the service's policies, the stream processor's
	// texts), each kept settings.CacheTTL.
	SettingsCache *settings.Cache
	// Settings serves the settings routes (WithSettings); nil where no
	// route of the process needs it.
	Settings *settings.Service
}

// WithWebhooks is d with the webhook routes' service: endpoints in d's
// table, their secrets sealed with keys, URLs checked with out (the one
// client to organisations' URLs), test events and replays queued on
// queue.
func (d Deps) WithWebhooks(keys *identification.CodeKeys, out *egress.Client, queue webhooks.Queue) Deps {
	d.Webhooks = webhooks.NewService(d.Dynamo, keys, WebhookURLCheck(out), queue, nil)
	return d
}

// NewStore is the DynamoDB store of c's table on client.
func NewStore(c Config, client *dynamodb.Client) *dynamostore.Store {
	return dynamostore.New(client, dynamostore.Options{Table: c.TableName, Shards: c.Shards, Retention: c.Retention})
}

// NewDeps wires the store and service on client.
func NewDeps(c Config, client *dynamodb.Client, logger *slog.Logger, opts ...identification.Option) Deps {
	store := NewStore(c, client)
	cache := settings.NewCache(store, nil)
	return Deps{
		Config: c,
		Client: client,
		Store:  store,
		Service: identification.NewService(store,
			append([]identification.Option{identification.WithCodeTTL(c.CodeTTL), identification.WithPolicies(cache)}, opts...)...),
		Dynamo:        store,
		Logger:        logger,
		SettingsCache: cache,
	}
}

// Sweep runs one expiry pass at now (see package sweep); it stops in time
// for ctx's deadline and logs its summary.
func (d Deps) Sweep(ctx context.Context, now time.Time, opts sweep.Options) sweep.Result {
	return sweep.Run(ctx, d.Dynamo, d.Dynamo, now, opts, d.Logger)
}

// LambdaHandler is the handler tree restricted to routes for a Lambda behind
// API Gateway's JWT authorizer: the caller comes from the verified claims in
// the request context, the request id from API Gateway, and the base path
// (the stage NewLambdaHandler removed from the path) from the context.
func (d Deps) LambdaHandler(routes ...httpapi.Route) (http.Handler, error) {
	return httpapi.New(httpapi.Config{
		Service:      d.Service,
		Webhooks:     d.Webhooks,
		Settings:     d.Settings,
		Authenticate: LambdaAuthenticator(d.Config.OrgClaim),
		Logger:       d.Logger,
		DocsURL:      d.Config.DocsURL,
		RequestID:    lambdaRequestID,
		BasePath:     lambdaBasePath,
		SourceIP:     lambdaSourceIP,
		Routes:       routes,
	})
}

// DevHandler is the whole handler tree for the dev server and the tests,
// with the caller read from an HS256 bearer token.
func (d Deps) DevHandler(v *auth.Verifier, routes ...httpapi.Route) (http.Handler, error) {
	if len(routes) == 0 {
		routes = httpapi.Routes()
	}
	return httpapi.New(httpapi.Config{
		Service:      d.Service,
		Webhooks:     d.Webhooks,
		Settings:     d.Settings,
		Authenticate: v.Authenticate,
		Logger:       d.Logger,
		DocsURL:      d.Config.DocsURL,
		SourceIP:     peerIP,
		Routes:       routes,
	})
}

// LambdaAuthenticator reads the principal from API Gateway's JWT authorizer
// context, put in the request's context by the API proxy adapter: the
// verified claims, scopes included (the token's scope or scp claim; the
// authorizer's own scopes list is not used, as it may hold only the scope
// the route matched). A request without it (which API Gateway never sends
// to a route behind the authorizer) is refused.
func LambdaAuthenticator(orgClaim string) httpapi.Authenticator {
	return func(r *http.Request) (auth.Principal, error) {
		rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context())
		if !ok || rc.Authorizer == nil || rc.Authorizer.JWT == nil {
			return auth.Principal{}, errNoAuthorizer
		}
		return auth.FromStringClaims(rc.Authorizer.JWT.Claims, orgClaim)
	}
}

var errNoAuthorizer = authError("no verified token in the request context")

type authError string

func (e authError) Error() string { return auth.ErrUnauthenticated.Error() + ": " + string(e) }
func (e authError) Unwrap() error { return auth.ErrUnauthenticated }

// lambdaSourceIP is the caller's IP as API Gateway saw it.
func lambdaSourceIP(r *http.Request) string {
	if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
		return rc.HTTP.SourceIP
	}
	return ""
}

// peerIP is the TCP peer of a request served by net/http (the dev server).
func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

func lambdaRequestID(r *http.Request) string {
	if rc, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && rc.RequestID != "" {
		return rc.RequestID
	}
	if lc, ok := lambdacontext.FromContext(r.Context()); ok {
		return lc.AwsRequestID
	}
	return ""
}
