package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/auth"
)

// walkThroughSecret is the dev server's HS256 secret in the walk-throughs;
// `make token` in them signs with it too.
const walkThroughSecret = "walkthrough-secret-0123456789abcdef"

// notRun, the line right before a ```sh block, keeps it out of the
// walk-throughs, saying why (it needs AWS, or is `make run` itself).
var notRun = regexp.MustCompile(`^<!-- not run: \S.* -->$`)

// TestEveryWalkThroughWorksAsWritten runs, against one real dev server
// (with its S3 engine), every ```sh block of README.md and docs/*.md, as
// written: a document's blocks one after the other in one bash -euo
// pipefail from the repository's root, with the TOKEN, ACTOR_TOKEN and
// AGENT_TOKEN that `make run` prints. Only a block right after a
// "<!-- not run: why -->" line is left out. Every answer must be a 2xx but
// the ones a comment on the command announces ("# 409: ..."), and only
// those; some outputs are checked too.
func TestEveryWalkThroughWorksAsWritten(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "make", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walk-throughs need %s", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append([]string{filepath.Join(root, "README.md")}, docs...)
	data := t.TempDir()
	// Loopback webhook URLs, as docs/webhooks.md starts the server with.
	p := startDevServer(t, "ADDR=127.0.0.1:0", "DATA_DIR="+data, "SWEEP_INTERVAL=0", "DEV_JWT_SECRET="+walkThroughSecret, "TABLE_NAME=", "DYNAMODB_ENDPOINT=", "S3_ENDPOINT=",
		app.WebhookLoopbackEnv+"=true")

	want := map[string][]string{
		"delivery-and-events.md": {"su clave para identificarse es", "HTTP/1.1 204", "identification.created", "identification.code.sent",
			"identification.in_progress", "identification.completed"},
		"evidence.md": {"upload 204\nupload 204\nconfirm 204\nconfirm 204\nIN_PROGRESS [\"DOCUMENT_FRONT\",\"DOCUMENT_BACK\"]\nvalidate 204\nCOMPLETED\n",
			"DOCUMENT_FRONT image/png", "DOCUMENT_BACK image/jpeg", "download 200"},
		"expiry-and-retention.md": {"expired=0 found=0"},
		"settings.md": {`ETag: "0"`, `"updated_by": "ops@acme.example"`, "sandbox: unknown field", "code.length: must be a whole number from 6 to 10",
			`{"version":2,"by":{"kind":"admin","sub":"ops@acme.example"},"fields":["default_language","code.length","code.ttl_minutes","channels","messages.SMS.ES"]}`,
			`{"version":1,"by":{"kind":"admin","sub":"ops@acme.example"},"fields":["display_name","default_language","code.length","code.ttl_minutes","channels","messages.SMS.ES"]}`},
		"guard.md": {`"allowed_countries": [`, `{"code":"MDOC_009","details":"the organisation's sending guard refused to send this code: rule allowed_countries`, `{"rule":"allowed_countries","mode":"ENFORCE","action":"REFUSED","country":"JM","prefix":"+1 87…"}`, `"mode": "ENFORCE"`,
			`{"group":"JM","blocked":1,"created":0}`},
		"webhooks.md": {`"secret": "whsec_"`, `"has_secret": false`, `"disabled_reason": "disabled by the organisation"`, `"event_type": "webhook.test"`,
			`"status": "PENDING"`, `"attempts": 1`, "HTTP/1.1 204"},
	}
	var devices []string
	t.Run("docs", func(t *testing.T) {
		for _, doc := range docs {
			name := filepath.Base(doc)
			text, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			script := walkThrough(string(text))
			for _, m := range regexp.MustCompile(`(?m)^DEVICE=\(.*(\n\s+.*)*\)`).FindAllString(script, -1) {
				devices = append(devices, name+": "+strings.Join(strings.Fields(strings.SplitN(m, "#", 2)[0]), " "))
			}
			if strings.TrimSpace(script) == "" {
				continue
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				out := runScript(t, p, root, data, name, script)
				for _, w := range want[name] {
					if !strings.Contains(out, w) {
						t.Errorf("the output of %s lacks %q:\n%s", name, w, out)
					}
				}
			})
		}
	})
	// One definition of DEVICE, whichever page a reader starts from.
	for _, d := range devices[1:] {
		if _, a, _ := strings.Cut(d, ": "); a != strings.SplitN(devices[0], ": ", 2)[1] {
			t.Errorf("DEVICE is defined differently:\n%s\n%s", devices[0], d)
		}
	}

	// Another organisation's token is refused the outbox and the events.
	v := &auth.Verifier{Secret: []byte(walkThroughSecret), Issuer: app.DevIssuer, Audience: app.DevAudience}
	other, err := v.Mint("globex-admin", []string{"globex"}, []string{auth.ScopeAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/orgs/acme/outbox", "/dev/orgs/acme/events"} {
		req, _ := http.NewRequest(http.MethodGet, p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+other)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with another org's token: %d, want 401", path, resp.StatusCode)
		}
	}
}

// walkThrough is the ```sh blocks of a Markdown text, in order, but those
// right after a notRun line.
func walkThrough(text string) string {
	var script strings.Builder
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		skip := i > 0 && notRun.MatchString(lines[i-1])
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			if !skip {
				script.WriteString(lines[i] + "\n")
			}
		}
	}
	return script.String()
}

// statusComment is an answer's status announced in a comment on a command
// line ("... # 409: external"): the first status number in the comment.
var statusComment = regexp.MustCompile(`\s#[^#]*?\b([1-5][0-9][0-9])\b`)

// runScript runs the walk-through script of the document name against the
// dev server p from root and returns what it printed; it fails the test on
// a failing command and on answers other than 2xx that no comment announces.
func runScript(t *testing.T, p *devProcess, root, data, name, script string) string {
	t.Helper()
	var announced []string
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := statusComment.FindStringSubmatch(line); m != nil && m[1] >= "300" {
			announced = append(announced, m[1])
		}
	}
	// Each answer's status goes to stderr, where the test reads it; a
	// command's own -w comes after and wins, as its output is checked.
	prelude := "curl() { command curl -w '%{stderr}walkthrough-status %{http_code}\\n' \"$@\"; }\n"
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", p.base)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", prelude+script)
	cmd.Dir = root
	cmd.Env = append(withoutMakeEnv(os.Environ()), "TOKEN="+p.exports["TOKEN"], "ACTOR_TOKEN="+p.exports["ACTOR_TOKEN"],
		"AGENT_TOKEN="+p.exports["AGENT_TOKEN"], "DATA_DIR="+data, "DEV_JWT_SECRET="+walkThroughSecret)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the walk-through of %s failed: %v\n%s\n%s", name, err, out.String(), stderr.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the walk-through of %s did not finish in 2 minutes\n%s\n%s", name, out.String(), stderr.String())
	}
	var got []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if s, ok := strings.CutPrefix(line, "walkthrough-status "); ok && (s < "200" || s >= "300") {
			got = append(got, s)
		}
	}
	slices.Sort(got)
	slices.Sort(announced)
	if !slices.Equal(got, announced) {
		t.Errorf("the walk-through of %s got answers %v other than 2xx, and its comments announce %v\n%s\n%s", name, got, announced, out.String(), stderr.String())
	}
	return out.String() + stderr.String()
}
