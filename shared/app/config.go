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

	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/dynamostore"
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
