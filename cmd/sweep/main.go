// Command sweep runs one expiry pass against the local engine and prints its
// summary (`make sweep`). It uses DYNAMODB_ENDPOINT when set, else the
// engine of a running dev server (recorded in .local/engine-endpoint), else
// it starts dynoxide on the dev server's data for the pass.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/samtemplate"
	"github.com/idadmin/api/shared/sweep"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := localengine.RepoRoot()
	if err != nil {
		return err
	}
	dataDir := flag.String("data", envOr("DATA_DIR", filepath.Join(root, ".local")), "the dev server's data directory (DATA_DIR)")
	timeout := flag.Duration("timeout", 5*time.Minute, "deadline of the pass")
	flag.Parse()
	if os.Getenv("TABLE_NAME") == "" {
		os.Setenv("TABLE_NAME", "identifications")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		if endpoint, err := os.ReadFile(filepath.Join(*dataDir, app.EngineEndpointFile)); err == nil {
			os.Setenv("DYNAMODB_ENDPOINT", strings.TrimSpace(string(endpoint)))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		if err := localengine.EnsureTools(root); err != nil {
			return err
		}
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return err
		}
		engine, err := localengine.StartDynoxide(ctx, localengine.Options{Root: root, DBPath: filepath.Join(*dataDir, "dynoxide.sqlite")})
		if err != nil {
			return err
		}
		defer engine.Stop()
		os.Setenv("DYNAMODB_ENDPOINT", engine.Endpoint)
	}
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	client := app.NewDynamoDB(cfg)
	if _, err := samtemplate.EnsureTable(ctx, client, filepath.Join(root, "template.yaml"), cfg.TableName); err != nil {
		return err
	}
	deps := app.NewDeps(cfg, client, app.NewLogger(os.Stderr, slog.LevelWarn))
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res := deps.Sweep(ctx, time.Now(), sweep.Options{})
	fmt.Println(res)
	if res.Errors > 0 {
		return fmt.Errorf("%d processes could not be expired; they are left for the next pass", res.Errors)
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
