// Command sweep runs one expiry pass against the local engine and prints its
// summary (`make sweep`). It uses DYNAMODB_ENDPOINT when set, else the
// engine of the dev server running on the data directory (its lock held,
// its engine recorded in .local/engine-endpoint), else it starts dynoxide
// on the dev server's data for the pass, holding the lock meanwhile. It
// never starts a second engine on the SQLite file of a running one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/internal/samtemplate"
	"github.com/idadmin/api/shared/app"
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
		// The data directory's lock says whether a dev server runs on it:
		// then the pass runs on its engine, recorded in engine-endpoint
		// (never a second engine on the same SQLite file); else this
		// command holds the lock while its own engine runs on the file.
		lock, err := localengine.LockData(*dataDir, fmt.Sprintf("make sweep (pid %d, its own dynoxide)", os.Getpid()))
		var locked *localengine.LockedError
		switch {
		case errors.As(err, &locked):
			endpoint, rerr := os.ReadFile(filepath.Join(*dataDir, app.EngineEndpointFile))
			if rerr != nil || strings.TrimSpace(string(endpoint)) == "" {
				return fmt.Errorf("%w, and has recorded no engine in %s (it is starting, or runs on an engine of its own choosing); "+
					"run the sweep once it serves, or with DYNAMODB_ENDPOINT set to its engine", err, app.EngineEndpointFile)
			}
			os.Setenv("DYNAMODB_ENDPOINT", strings.TrimSpace(string(endpoint)))
			fmt.Fprintf(os.Stderr, "sweep: on the engine of %s: %s\n", locked.Holder, os.Getenv("DYNAMODB_ENDPOINT"))
		case err != nil:
			return err
		default:
			defer lock.Release()
			// An endpoint recorded by a dev server that is gone is stale.
			os.Remove(filepath.Join(*dataDir, app.EngineEndpointFile))
			if err := localengine.EnsureTools(root); err != nil {
				return err
			}
			engine, err := localengine.StartDynoxide(ctx, localengine.Options{Root: root, DBPath: filepath.Join(*dataDir, "dynoxide.sqlite")})
			if err != nil {
				return err
			}
			defer engine.Stop()
			os.Setenv("DYNAMODB_ENDPOINT", engine.Endpoint)
			fmt.Fprintf(os.Stderr, "sweep: no dev server runs on %s; on a dynoxide of its own: %s\n", *dataDir, engine.Endpoint)
		}
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
