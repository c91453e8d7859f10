package localengine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// starters lists the engines with their start functions.
var starters = []struct {
	name  string
	start func(context.Context, Options) (*Engine, error)
}{
	{NameDynoxide, StartDynoxide},
	{NameDynamoDBLocal, StartDynamoDBLocal},
}

// toolsRoot returns the repository root after making sure the engines are installed.
func toolsRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot() error = %v", err)
	}
	if err := EnsureTools(root); err != nil {
		t.Fatalf("EnsureTools(%q) error = %v", root, err)
	}
	return root
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot() error = %v", err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod in RepoRoot() = %q: %v", root, err)
	}
	if got, want := strings.SplitN(string(data), "\n", 2)[0], "module github.com/idadmin/api"; got != want {
		t.Errorf("first line of %s/go.mod = %q, want %q", root, got, want)
	}
}

// TestRepoRootWalksPastANestedModule: from inside a nested module (as
// cmd/bench is), RepoRoot is still the repository's root, not the nested
// module's directory.
func TestRepoRootWalksPastANestedModule(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "cmd", "tool")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+RepoModule+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module "+RepoModule+"/cmd/tool\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(nested)
	got, err := RepoRoot()
	if err != nil {
		t.Fatalf("RepoRoot() error = %v", err)
	}
	if want, _ := filepath.EvalSymlinks(root); got != root && got != want {
		t.Errorf("RepoRoot() from %s = %s, want %s", nested, got, root)
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"empty", 4, nil, ""},
		{"under the limit", 8, []string{"ab", "cd"}, "abcd"},
		{"exactly the limit", 4, []string{"ab", "cd"}, "abcd"},
		{"drops the oldest bytes", 4, []string{"abc", "def"}, "cdef"},
		{"one write over the limit", 3, []string{"abcdefg"}, "efg"},
		{"many small writes", 5, []string{"a", "b", "c", "d", "e", "f", "g"}, "cdefg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer(tt.max)
			for _, w := range tt.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", w, n, err, len(w))
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStartAndStop(t *testing.T) {
	root := toolsRoot(t)
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) {
			opts := Options{Root: root}
			if s.name == NameDynoxide {
				opts.DBPath = filepath.Join(t.TempDir(), "data.sqlite")
			}
			begin := time.Now()
			e, err := s.start(t.Context(), opts)
			if err != nil {
				t.Fatalf("start error = %v", err)
			}
			t.Logf("%s ready at %s in %s", e.Name, e.Endpoint, time.Since(begin).Round(time.Millisecond))
			t.Cleanup(func() { _ = e.Stop() })

			if got, want := e.Name, s.name; got != want {
				t.Errorf("Name = %q, want %q", got, want)
			}
			if got, want := e.Endpoint, "http://127.0.0.1:"; !strings.HasPrefix(got, want) {
				t.Errorf("Endpoint = %q, want prefix %q", got, want)
			}
			if pgid, err := syscall.Getpgid(e.PID()); err != nil || pgid != e.PID() {
				t.Errorf("Getpgid(%d) = %d, %v; want %d, nil", e.PID(), pgid, err, e.PID())
			}
			port := e.port
			if !listenerOwnedBy(e.PID(), port) {
				t.Errorf("listenerOwnedBy(engine pid %d, %d) = false, want true", e.PID(), port)
			}
			if listenerOwnedBy(os.Getpid(), port) {
				t.Errorf("listenerOwnedBy(test pid %d, %d) = true, want false", os.Getpid(), port)
			}
			if _, err := NewClient(e.Endpoint).ListTables(t.Context(), &dynamodb.ListTablesInput{}); err != nil {
				t.Errorf("ListTables on %s error = %v", e.Endpoint, err)
			}

			if err := e.Stop(); err != nil {
				t.Errorf("Stop() error = %v", err)
			}
			if err := e.Stop(); err != nil {
				t.Errorf("second Stop() error = %v, want nil", err)
			}
			if err := syscall.Kill(e.PID(), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("Kill(%d, 0) after Stop = %v, want ESRCH", e.PID(), err)
			}
			if conn, err := net.Dial("tcp", strings.TrimPrefix(e.Endpoint, "http://")); err == nil {
				conn.Close()
				t.Errorf("Dial(%s) after Stop succeeded, want connection refused", e.Endpoint)
			}
		})
	}
}

func TestStartOnTakenPort(t *testing.T) {
	root := toolsRoot(t)
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatalf("Listen error = %v", err)
			}
			defer l.Close()
			port := l.Addr().(*net.TCPAddr).Port

			e, err := s.start(t.Context(), Options{Root: root, Port: port})
			if err == nil {
				_ = e.Stop()
				t.Fatalf("start on taken port %d succeeded, want an error", port)
			}
			t.Logf("start on taken port: %v", err)
			if got, want := err.Error(), "already in use"; !strings.Contains(got, want) {
				t.Errorf("start on taken port error = %q, want it to contain %q", got, want)
			}
			if got, want := err.Error(), "start "+s.name+":"; !strings.HasPrefix(got, want) {
				t.Errorf("start on taken port error = %q, want prefix %q", got, want)
			}
		})
	}
}

func TestStartMissingTools(t *testing.T) {
	root := t.TempDir()
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) {
			_, err := s.start(t.Context(), Options{Root: root})
			if err == nil {
				t.Fatalf("start with no tools under %s succeeded, want an error", root)
			}
			if got, want := err.Error(), "engine not installed"; !strings.Contains(got, want) {
				t.Errorf("start error = %q, want it to contain %q", got, want)
			}
		})
	}
}

func TestStopAfterCrash(t *testing.T) {
	e, err := StartDynoxide(t.Context(), Options{Root: toolsRoot(t)})
	if err != nil {
		t.Fatalf("StartDynoxide error = %v", err)
	}
	if err := syscall.Kill(e.PID(), syscall.SIGKILL); err != nil {
		t.Fatalf("Kill(%d, SIGKILL) error = %v", e.PID(), err)
	}
	<-e.Exited()
	if err := e.ExitErr(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("ExitErr() after SIGKILL = %v, want the kill", err)
	}
	err = e.Stop()
	if err == nil {
		t.Fatalf("Stop() after the engine was killed = nil, want an error")
	}
	if got, want := err.Error(), "already exited"; !strings.Contains(got, want) {
		t.Errorf("Stop() error = %q, want it to contain %q", got, want)
	}
}

func TestStartRetriesWhenPortIsTaken(t *testing.T) {
	root := toolsRoot(t)
	bin := DynoxidePath(root)
	// fakeDynamoDB answers every request like an empty DynamoDB, so the
	// readiness probe succeeds and only the listener owner check can tell.
	fakeDynamoDB := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"TableNames":[]}`)
	})
	tests := []struct {
		name  string
		serve func(l net.Listener) // what the thief does with the stolen port; nil to only hold it
	}{
		{"silent listener", nil},
		{"fake DynamoDB", func(l net.Listener) { _ = http.Serve(l, fakeDynamoDB) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ports []int
			e, err := start(t.Context(), NameDynoxide, 0, func(port int) *exec.Cmd {
				ports = append(ports, port)
				if len(ports) == 1 {
					l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
					if err != nil {
						t.Fatalf("steal port %d: %v", port, err)
					}
					t.Cleanup(func() { l.Close() })
					if tt.serve != nil {
						go tt.serve(l)
					}
				}
				return exec.Command(bin, "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
			})
			if err != nil {
				t.Fatalf("start error = %v, want success on a second port", err)
			}
			defer e.Stop()
			if got, want := len(ports), 2; got != want {
				t.Errorf("ports tried = %v, want %d attempts", ports, want)
			}
			if got, want := e.Endpoint, "http://127.0.0.1:"+strconv.Itoa(ports[len(ports)-1]); got != want {
				t.Errorf("Endpoint = %q, want %q", got, want)
			}
		})
	}
}
