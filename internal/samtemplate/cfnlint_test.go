package samtemplate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cfnLintRegions are the regions template.yaml must lint clean in (the
// Makefile's CFN_LINT_REGIONS).
var cfnLintRegions = []string{"us-east-1", "eu-west-1"}

// cfnLint finds cfn-lint as `make validate` does: $CFN_LINT if set (the
// Makefile exports the one it found), else on PATH, else where pip --user or
// pyenv installs it. It fails the test, with the command that installs it,
// when there is none: linting the template is part of the tests.
func cfnLint(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CFN_LINT"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("CFN_LINT=%s: %v; install cfn-lint with: pip install cfn-lint", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("cfn-lint"); err == nil {
		return p
	}
	var candidates []string
	home, _ := os.UserHomeDir()
	if home != "" {
		candidates = append(candidates, filepath.Join(home, ".local", "bin", "cfn-lint"))
	}
	pyenv := os.Getenv("PYENV_ROOT")
	if pyenv == "" && home != "" {
		pyenv = filepath.Join(home, ".pyenv")
	}
	if pyenv != "" {
		found, _ := filepath.Glob(filepath.Join(pyenv, "versions", "*", "bin", "cfn-lint"))
		candidates = append(candidates, found...)
	}
	for _, p := range candidates {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatalf("cfn-lint is not installed (not on PATH, nor in ~/.local/bin or pyenv's versions, and CFN_LINT is not set); " +
		"it checks template.yaml as `make validate` does. Install it with: pip install cfn-lint")
	return ""
}

// runCfnLint lints template (SAM transform included, informational rules
// too) for cfnLintRegions, as `make validate` does, and returns cfn-lint's
// exit status (a bit mask: 2 errors, 4 warnings, 8 informational) and output.
func runCfnLint(t *testing.T, template string) (int, string) {
	t.Helper()
	args := append([]string{"--regions"}, cfnLintRegions...)
	args = append(args, "--include-checks", "I", "--", filepath.Base(template))
	cmd := exec.CommandContext(t.Context(), cfnLint(t), args...)
	cmd.Dir = filepath.Dir(template)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("run %s: %v\n%s", cmd, err, out)
	return 0, ""
}

func TestTemplatePassesCfnLint(t *testing.T) {
	code, out := runCfnLint(t, repoTemplate(t))
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("cfn-lint on template.yaml (regions %v, informational rules included) exited %d (2 errors, 4 warnings, 8 informational):\n%s",
			cfnLintRegions, code, out)
	}
}

// TestCfnLintRejectsABrokenTemplate proves the check above can fail: copies
// of template.yaml with one deliberate fault each are rejected with an
// error naming the fault.
func TestCfnLintRejectsABrokenTemplate(t *testing.T) {
	orig, err := os.ReadFile(repoTemplate(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new string // the one change made to the template
		wantRule string
		wantText string
	}{
		{
			// A plain CloudFormation resource: the log group of the API's access logs.
			name:     "misspelt CloudFormation property",
			old:      "    UpdateReplacePolicy: Retain\n    Properties:\n      RetentionInDays: !Ref LogRetentionDays\n",
			new:      "    UpdateReplacePolicy: Retain\n    Properties:\n      RetentionInDay: !Ref LogRetentionDays\n",
			wantRule: "E3002",
			wantText: "RetentionInDay",
		},
		{
			// The SAM transform's own check, on the spelling template.yaml once had.
			name:     "misspelt SAM property",
			old:      "      AccessLogSettings:\n",
			new:      "      AccessLogSetting:\n",
			wantRule: "E0001",
			wantText: "property AccessLogSetting not defined for resource of type AWS::Serverless::HttpApi",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if n := strings.Count(string(orig), tt.old); n != 1 {
				t.Fatalf("template.yaml has %d occurrences of %q, want 1 to break", n, tt.old)
			}
			broken := filepath.Join(t.TempDir(), "template.yaml")
			if err := os.WriteFile(broken, []byte(strings.Replace(string(orig), tt.old, tt.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := runCfnLint(t, broken)
			if code&2 == 0 {
				t.Errorf("cfn-lint exited %d on the broken copy, want the error bit (2) set:\n%s", code, out)
			}
			if !strings.Contains(out, tt.wantRule) || !strings.Contains(out, tt.wantText) {
				t.Errorf("cfn-lint output does not report %s %q:\n%s", tt.wantRule, tt.wantText, out)
			}
		})
	}
}
