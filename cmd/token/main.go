// Command token mints a bearer token the dev server accepts, signed with the
// dev server's local secret. Its last line of output is the token, so
// `TOKEN=$(make token ORG=acme | tail -1)` works.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idadmin/api/internal/localengine"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

func main() {
	root, err := localengine.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	org := flag.String("org", "acme", "organisation name(s), space-separated")
	scopes := flag.String("scopes", auth.ScopeAdmin, "space-separated scopes")
	ttl := flag.Duration("ttl", 24*time.Hour, "validity")
	sub := flag.String("sub", "dev-admin", "subject")
	dataDir := flag.String("data", envOr("DATA_DIR", filepath.Join(root, ".local")), "directory holding the dev secret (DATA_DIR)")
	flag.Parse()

	v, err := app.DevVerifier(*dataDir, envOr("ORG_CLAIM", auth.DefaultOrgClaim))
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	tok, err := v.Mint(*sub, strings.Fields(*org), strings.Fields(*scopes), *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "token:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "token for org(s) %q with scopes %q, valid %s:\n", *org, *scopes, *ttl)
	fmt.Println(tok)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
