// Command token mints a bearer token the dev server accepts, signed with the
// dev server's local secret. Its last line of output is the token, so
// `TOKEN=$(make token ORG=acme | tail -1)` works. It refuses, with a message
// and exit status 2, what would mint a token the dev server then refuses or
// a caller did not mean: a lifetime that is not positive, no organisation or
// a malformed one, an unknown scope, an empty subject.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
	"github.com/idadmin/api/shared/httpapi"
)

// knownScopes are the scopes the API knows (docs/auth.md).
var knownScopes = []string{auth.ScopeAdmin, auth.ScopeForceDelete, auth.ScopeActor, auth.ScopeAgent, auth.ScopeReview, auth.ScopeProvider, auth.ScopeSettings}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: its arguments, where it prints the token, where it
// prints everything else; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDefault := envOr("DATA_DIR", "")
	org := fs.String("org", "acme", "organisation name(s), space-separated (make token ORG=...)")
	scopes := fs.String("scopes", auth.ScopeAdmin, "space-separated scopes, of: "+strings.Join(knownScopes, " ")+" (SCOPES=...)")
	ttl := fs.Duration("ttl", 24*time.Hour, "validity, more than 0 (TTL=...)")
	sub := fs.String("sub", "dev-admin", "subject: who the token speaks for, recorded in the history's by.sub (SUB=...)")
	dataDir := fs.String("data", dataDefault, "directory holding the dev secret (DATA_DIR; default .local in the repository)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := check(fs.Args(), *org, *scopes, *sub, *ttl); err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 2
	}
	if *dataDir == "" {
		root, err := localengine.RepoRoot()
		if err != nil {
			fmt.Fprintln(stderr, "token:", err)
			return 1
		}
		*dataDir = filepath.Join(root, ".local")
	}
	v, err := app.DevVerifier(*dataDir, envOr("ORG_CLAIM", auth.DefaultOrgClaim))
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	tok, err := v.Mint(*sub, strings.Fields(*org), strings.Fields(*scopes), *ttl)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	fmt.Fprintf(stderr, "token for org(s) %q, sub %q, with scopes %q, valid %s:\n", *org, *sub, *scopes, *ttl)
	fmt.Fprintln(stdout, tok)
	return 0
}

// check refuses the flags a token should not be minted with.
func check(extra []string, org, scopes, sub string, ttl time.Duration) error {
	var errs []error
	if len(extra) > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q (flags only; see -h)", extra))
	}
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("-ttl (TTL) must be more than 0, got %s", ttl))
	}
	orgs := strings.Fields(org)
	if len(orgs) == 0 {
		errs = append(errs, errors.New("-org (ORG) is empty: name at least one organisation"))
	}
	for _, o := range orgs {
		if !httpapi.ValidOrg(o) {
			errs = append(errs, fmt.Errorf("-org (ORG): %q is not an organisation name: 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit", o))
		}
	}
	if len(strings.Fields(scopes)) == 0 {
		errs = append(errs, errors.New("-scopes (SCOPES) is empty: name at least one of "+strings.Join(knownScopes, " ")))
	}
	for _, s := range strings.Fields(scopes) {
		if !slices.Contains(knownScopes, s) {
			errs = append(errs, fmt.Errorf("-scopes (SCOPES): unknown scope %q; the scopes are %s", s, strings.Join(knownScopes, " ")))
		}
	}
	if strings.TrimSpace(sub) == "" {
		errs = append(errs, errors.New("-sub (SUB) is empty: say who the token speaks for"))
	}
	return errors.Join(errs...)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
