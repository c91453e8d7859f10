// Package app is the composition root: it reads configuration from the
// environment, creates the DynamoDB client, store, service and handler tree
// once, and hands them to the entry points (Lambda functions, dev server).
package app

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/guard/numbers"
	"github.com/idadmin/api/shared/httpapi"
	"github.com/idadmin/api/shared/identification"
)

// Config is the environment of every entry point.
type Config struct {
	// TableName is the DynamoDB table (TABLE_NAME).
	TableName string
	// Region is the AWS region (AWS_REGION, default us-east-1 locally).
	Region string
	// Endpoint, when set, points the client at a local engine
	// (DYNAMODB_ENDPOINT) with static local credentials.
	Endpoint string
	// OrgClaim names the claim holding the caller's organisations (ORG_CLAIM).
	OrgClaim string
	// DocsURL is the base of every error's ref (DOCS_URL).
	DocsURL string
	// Retention is how long ended records are kept before TTL may remove
	// them (RETENTION_DAYS, default 30).
	Retention time.Duration
	// Shards is the partition count of the open-process index (OPEN_INDEX_SHARDS).
	Shards int
	// LogLevel is debug, info, warn or error (LOG_LEVEL).
	LogLevel slog.Level
	// CodeTTL is how long a one-time code is valid (CODE_TTL, whole
	// minutes from 1 to 60, default 10).
	CodeTTL time.Duration

	// Credentials are the process's AWS credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, which Lambda sets from the
	// execution role), read once here: every AWS client and every request
	// the adapters sign themselves uses them (see CredentialsFor). They are
	// read by hand to keep the SDK's config loader and its SSO, STS and
	// IMDS clients out of the binaries.
	Credentials AWSCredentials

	// CodeKeySecretARN is the Secrets Manager secret holding the code keys
	// (CODE_KEY_SECRET_ARN), set on the functions that issue or check codes;
	// SecretsManagerEndpoint replaces the region's Secrets Manager endpoint
	// (AWS_ENDPOINT_URL_SECRETS_MANAGER, a local emulator in tests).
	CodeKeySecretARN       string
	SecretsManagerEndpoint string

	// EvidenceBucket is the evidence bucket (EVIDENCE_BUCKET), set on the
	// functions that use it; S3Endpoint points its requests at a local S3
	// engine (S3_ENDPOINT).
	EvidenceBucket string
	S3Endpoint     string

	// The stream function's providers, set by the template on it alone:
	// the EventBridge bus (EVENT_BUS_NAME), the SES identity codes are
	// e-mailed from (SENDER_EMAIL), and the WhatsApp origination phone
	// number and template (WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_TEMPLATE_NAME).
	EventBusName          string
	SenderEmail           string
	WhatsAppPhoneNumberID string
	WhatsAppTemplateName  string

	// WebhookQueueURL is the SQS FIFO queue of webhook deliveries
	// (WEBHOOK_QUEUE_URL), set on the stream function, the webhook routes
	// that queue (test, replay) and the webhook-sender; SQSEndpoint points
	// its requests at a local emulator (AWS_ENDPOINT_URL_SQS).
	WebhookQueueURL string
	SQSEndpoint     string

	// DefaultAllowedCountries are the countries the sending guard allows
	// a phone destination in for an organisation whose settings name none
	// (DEFAULT_ALLOWED_COUNTRIES: ISO 3166-1 alpha-2 codes separated by
	// commas, or * or nothing for every country: nil).
	DefaultAllowedCountries []string
}

// Names of the variables read for the code key's secret.
const (
	CodeKeySecretEnv          = "CODE_KEY_SECRET_ARN"
	SecretsManagerEndpointEnv = "AWS_ENDPOINT_URL_SECRETS_MANAGER"
)

// AWSCredentials are aws.Credentials that print, log and marshal as their
// access key id alone, so that a Config shown whole keeps its secrets.
type AWSCredentials aws.Credentials

func (c AWSCredentials) String() string {
	return "{AccessKeyID:" + c.AccessKeyID + " SecretAccessKey:<redacted> SessionToken:<redacted>}"
}

// GoString is String, for %#v.
func (c AWSCredentials) GoString() string { return c.String() }

// MarshalJSON is String as a JSON string.
func (c AWSCredentials) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(c.String())), nil }

// CredentialsFor is the credentials provider of a client reaching
// endpoint ("" for AWS's own): the process's Credentials, or, for a local
// engine when the environment has none, placeholder ones.
func (c Config) CredentialsFor(endpoint string) aws.CredentialsProvider {
	if c.Credentials.AccessKeyID == "" && endpoint != "" {
		return credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	return credentials.NewStaticCredentialsProvider(c.Credentials.AccessKeyID, c.Credentials.SecretAccessKey, c.Credentials.SessionToken)
}

// ConfigFromEnv reads Config from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		TableName: os.Getenv("TABLE_NAME"),
		Region:    os.Getenv("AWS_REGION"),
		Endpoint:  os.Getenv("DYNAMODB_ENDPOINT"),
		OrgClaim:  envOr("ORG_CLAIM", auth.DefaultOrgClaim),
		DocsURL:   envOr("DOCS_URL", httpapi.DefaultDocsURL),
		Retention: dynamostore.DefaultRetention,
		Shards:    dynamostore.DefaultShards,
		CodeTTL:   identification.DefaultCodeTTL,

		Credentials: AWSCredentials{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		},
		CodeKeySecretARN:       os.Getenv(CodeKeySecretEnv),
		SecretsManagerEndpoint: os.Getenv(SecretsManagerEndpointEnv),
		EvidenceBucket:         os.Getenv("EVIDENCE_BUCKET"),
		S3Endpoint:             os.Getenv("S3_ENDPOINT"),
		EventBusName:           os.Getenv("EVENT_BUS_NAME"),
		SenderEmail:            os.Getenv("SENDER_EMAIL"),
		WhatsAppPhoneNumberID:  os.Getenv("WHATSAPP_PHONE_NUMBER_ID"),
		WhatsAppTemplateName:   os.Getenv("WHATSAPP_TEMPLATE_NAME"),
		WebhookQueueURL:        os.Getenv("WEBHOOK_QUEUE_URL"),
		SQSEndpoint:            os.Getenv("AWS_ENDPOINT_URL_SQS"),
	}
	if c.Region == "" {
		c.Region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if c.Region == "" && c.Endpoint != "" {
		c.Region = "us-east-1"
	}
	if c.TableName == "" {
		return c, fmt.Errorf("config: TABLE_NAME is required")
	}
	if c.Region == "" {
		return c, fmt.Errorf("config: AWS_REGION is required")
	}
	if v := os.Getenv("RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 || days > 3650 {
			return c, fmt.Errorf("config: RETENTION_DAYS must be a whole number of days from 1 to 3650, got %q", v)
		}
		c.Retention = time.Duration(days) * 24 * time.Hour
	}
	if v := os.Getenv("OPEN_INDEX_SHARDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return c, fmt.Errorf("config: OPEN_INDEX_SHARDS must be from 1 to 100, got %q", v)
		}
		c.Shards = n
	}
	if v := strings.TrimSpace(os.Getenv("DEFAULT_ALLOWED_COUNTRIES")); v != "" && v != "*" {
		for code := range strings.SplitSeq(v, ",") {
			code = strings.TrimSpace(code)
			if !numbers.KnownCountry(code) {
				return c, fmt.Errorf("config: DEFAULT_ALLOWED_COUNTRIES must be ISO 3166-1 alpha-2 country codes in capitals separated by commas (ES,PT), or *; %q is not one", code)
			}
			c.DefaultAllowedCountries = append(c.DefaultAllowedCountries, code)
		}
	}
	if v := os.Getenv("CODE_TTL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return c, fmt.Errorf("config: CODE_TTL must be a whole number of minutes from 1 to 60, got %q", v)
		}
		c.CodeTTL = time.Duration(n) * time.Minute
	}
	level, err := LogLevelFromEnv()
	if err != nil {
		return c, err
	}
	c.LogLevel = level
	return c, nil
}

// LogLevelFromEnv reads LOG_LEVEL (debug, info, warn or error; info when
// unset), for an entry point that logs before it reads the whole Config.
func LogLevelFromEnv() (slog.Level, error) {
	switch v := os.Getenv("LOG_LEVEL"); strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return slog.LevelInfo, fmt.Errorf("config: LOG_LEVEL must be debug, info, warn or error, got %q", v)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
